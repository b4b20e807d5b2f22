"""A service's alternates at other providers: setting and removing them, proposing candidates from the other
providers' catalogues, and reading an alternate's terms.

An alternate names (provider, upstream service id). Its terms (type, min/max, drip-feed, cost) are those of the
provider's catalogue row for that id, a Service imported by sync (possibly inactive, so that it is not sold on
its own): an alternate can only be set once that provider's catalogue is synced.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from audit.services import audit_record
from providers.models import ExchangeRate, Provider, Service, ServiceAlternate
from providers.pricing import PanelAmount, ProviderAmount, cost_difference_percent, to_panel_currency

# Names at least this alike (difflib's ratio, 0..1, case ignored) make a candidate.
NAME_SIMILARITY = 0.6
# Candidates shown per service on the "find alternates" page.
CANDIDATES_PER_SERVICE = 10


class AlternateError(ValueError):
    """An alternate that cannot be set; nothing was stored."""


@dataclass(frozen=True)
class Candidate:
    """A service of another provider's catalogue that could stand in for `service`."""

    service: Service  # the one being sold
    entry: Service  # the other provider's catalogue row
    similarity: float
    cost: PanelAmount  # the entry's cost per 1000, in the panel currency
    own_cost: PanelAmount
    cost_diff_percent: Decimal | None
    covers_limits: bool  # the entry takes every quantity the service sells, not only some


def catalogue_entries(pairs: Iterable[tuple[int, str]]) -> dict[tuple[int, str], Service]:
    """The catalogue rows for (provider id, upstream service id) pairs, in one query, with their providers."""
    wanted = set(pairs)
    if not wanted:
        return {}
    match = Q()
    for provider_id, upstream_id in wanted:
        match |= Q(provider_id=provider_id, upstream_service_id=upstream_id)
    rows = Service.objects.filter(match).select_related("provider")
    return {(row.provider_id, row.upstream_service_id): row for row in rows}


def cost_in_panel_currency(entry: Service, rates: dict[str, Decimal]) -> PanelAmount:
    """A catalogue row's cost per 1000 in the panel currency (`rates` from exchange_rates_for)."""
    return to_panel_currency(ProviderAmount(entry.upstream_rate), exchange_rate=rates[entry.provider.currency.upper()])


def limits_overlap(service: Service, entry: Service) -> bool:
    return entry.min <= service.max and entry.max >= service.min


def alternate_refusal(service: Service, provider: Provider, entry: Service | None,
                      upstream_service_id: str) -> str | None:
    """Why `provider`'s catalogue row `entry` (None: there is none for `upstream_service_id`) cannot be the
    service's alternate, or None. Each order is checked again when it fails over (orders.failover)."""
    if provider.pk == service.provider_id:
        return f"{provider.name} is the service's own provider"
    if entry is None:
        return (f"{provider.name} has no service {upstream_service_id} in its catalogue here: sync its services "
                "first (they may stay inactive)")
    if entry.type != service.type:
        return f"{provider.name}'s service {upstream_service_id} is of type {entry.type}, not {service.type}"
    if not limits_overlap(service, entry):
        return (f"{provider.name}'s service {upstream_service_id} takes {entry.min}..{entry.max}, none of the "
                f"service's {service.min}..{service.max}")
    return None


def alternate_set(*, service_id: int, provider_name: str, upstream_service_id: str, priority: int | None = None,
                  actor=None, reason: str = "") -> ServiceAlternate:
    """Set (or change) the service's alternate at `provider_name`. Without `priority`, a new alternate goes
    last. Raises AlternateError, storing nothing, when the provider's catalogue has no fitting service."""
    upstream_service_id = str(upstream_service_id or "").strip()
    if not upstream_service_id or len(upstream_service_id) > 64:
        raise AlternateError("An upstream service id is 1 to 64 characters")
    if priority is not None and priority < 0:
        raise AlternateError("A priority is a whole number, 0 or more")
    service = Service.objects.filter(pk=service_id).first()
    if service is None:
        raise AlternateError(f"No service {service_id}")
    provider = Provider.objects.filter(name=provider_name).first()
    if provider is None:
        raise AlternateError(f"No provider named {provider_name!r}")
    entry = catalogue_entries([(provider.pk, upstream_service_id)]).get((provider.pk, upstream_service_id))
    refusal = alternate_refusal(service, provider, entry, upstream_service_id)
    if refusal:
        raise AlternateError(refusal)
    with transaction.atomic():
        existing = ServiceAlternate.objects.select_for_update().filter(service=service, provider=provider).first()
        if priority is None:
            if existing is not None:
                priority = existing.priority
            else:
                last = service.alternates.order_by("-priority").values_list("priority", flat=True).first()
                priority = 10 if last is None else last + 10
        before = (existing.upstream_service_id, existing.priority) if existing else (None, None)
        alternate, _ = ServiceAlternate.objects.update_or_create(
            service=service, provider=provider,
            defaults={"upstream_service_id": upstream_service_id, "priority": priority})
        audit_record(action="service.alternate_set", subject_type="service", subject_id=service.pk, actor=actor,
                     reason=reason, changes={
                         f"alternate {provider.name}": (before[0], upstream_service_id),
                         f"alternate {provider.name} priority": (before[1], priority)})
    return alternate


def alternate_remove(*, service_id: int, provider_name: str, upstream_service_id: str | None = None, actor=None,
                     reason: str = "") -> bool:
    """Remove the service's alternate at `provider_name` (only if it is `upstream_service_id`, when given).
    False when there was no such alternate."""
    rows = ServiceAlternate.objects.select_for_update().filter(service_id=service_id, provider__name=provider_name)
    if upstream_service_id is not None:
        rows = rows.filter(upstream_service_id=str(upstream_service_id).strip())
    with transaction.atomic():
        alternate = rows.first()
        if alternate is None:
            return False
        alternate.delete()
        audit_record(action="service.alternate_remove", subject_type="service", subject_id=service_id, actor=actor,
                     reason=reason, changes={f"alternate {provider_name}": (alternate.upstream_service_id, None)})
    return True


def similarity(name: str, other: str) -> float:
    return difflib.SequenceMatcher(None, name.casefold(), other.casefold()).ratio()


def alternates_propose(*, services: Iterable[Service], max_cost_diff_percent: Decimal | None = None,
                       ) -> dict[int, list[Candidate]]:
    """Candidates for each service from the other providers' catalogues: same type, a similar name, limits that
    overlap, a cost within `max_cost_diff_percent` (ALTERNATE_MAX_COST_DIFF_PERCENT) of the service's own. Best
    first (most alike, then cheapest). Providers the service already has an alternate at are left out. A few
    queries, whatever the number of services."""
    services = list(services)
    limit = Decimal(settings.ALTERNATE_MAX_COST_DIFF_PERCENT if max_cost_diff_percent is None
                    else max_cost_diff_percent)
    if not services:
        return {}
    ids = [s.pk for s in services]
    # One alternate per provider: a provider the service has one at already is not proposed again.
    taken = set(ServiceAlternate.objects.filter(service_id__in=ids).values_list("service_id", "provider_id"))
    pool = list(Service.objects.filter(type__in={s.type for s in services}, available_upstream=True)
                .select_related("provider"))
    rates = known_exchange_rates({s.provider.currency for s in [*services, *pool]})
    proposals: dict[int, list[Candidate]] = {}
    for service in services:
        own_currency = service.provider.currency.upper()
        if own_currency not in rates:
            proposals[service.pk] = []
            continue
        own_cost = cost_in_panel_currency(service, rates)
        found = []
        for entry in pool:
            if (entry.provider_id == service.provider_id or entry.type != service.type
                    or (service.pk, entry.provider_id) in taken
                    or entry.provider.currency.upper() not in rates or not limits_overlap(service, entry)):
                continue
            cost = cost_in_panel_currency(entry, rates)
            difference = cost_difference_percent(cost=own_cost, other=cost)
            if difference is None and cost:
                continue  # the service costs nothing: any paid alternate is infinitely dearer
            if difference is not None and difference > limit:
                continue
            alike = similarity(service.name, entry.name)
            if alike < NAME_SIMILARITY:
                continue
            found.append(Candidate(service=service, entry=entry, similarity=alike, cost=cost, own_cost=own_cost,
                                   cost_diff_percent=difference,
                                   covers_limits=entry.min <= service.min and entry.max >= service.max))
        found.sort(key=lambda c: (-round(c.similarity, 2), c.cost, c.entry.pk))
        proposals[service.pk] = found[:CANDIDATES_PER_SERVICE]
    return proposals


def known_exchange_rates(currencies: Iterable[str]) -> dict[str, Decimal]:
    """The exchange rates there are among `currencies`, in one query: what has none cannot be priced, and is
    left out of proposals and failovers rather than stopping them (exchange_rates_for raises instead)."""
    wanted = {currency.upper() for currency in currencies}
    rates = {currency: Decimal(1) for currency in wanted if currency == settings.PANEL_CURRENCY}
    if wanted - rates.keys():
        rates.update(ExchangeRate.objects.filter(currency__in=wanted - rates.keys()).values_list("currency", "rate"))
    return rates
