"""Writes for providers and their services: registering a panel, sync, prices and bulk operations."""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.utils import timezone

from providers.bulk import bulk_update_rows
from providers.catalogue import catalogue_changed
from providers.client import Balance, Rejected, Unavailable
from providers.client_addresses import url_refusal
from providers.health import provider_balance_fetch
from providers.models import Category, ExchangeRate, Provider, Service, ServiceChange
from providers.pricing import PricingError, markup_for, sale_rate
from providers.selectors import exchange_rates_for, services_with_pricing
from providers.sync import SyncError, SyncResult, services_sync, services_sync_all

__all__ = [
    "ProviderError", "PricingError", "SyncError", "SyncResult", "category_save", "exchange_rate_set",
    "markup_clean", "provider_check", "provider_create", "provider_save", "provider_url_clean",
    "service_move_to_category", "service_reprice", "service_set_active", "service_set_markup", "services_sync",
    "services_sync_all",
]

_CURRENCY = re.compile(r"^[A-Z]{3}$")
MAX_MARKUP = Decimal("99999.99")  # what the markup columns hold


class ProviderError(ValueError):
    """Bad input for a provider; nothing was stored."""


def markup_clean(value: Decimal | str | int | None) -> Decimal | None:
    """A markup percent from user input: empty means "not set"; never negative."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        markup = Decimal(str(value).strip())
    except InvalidOperation:
        raise ProviderError(f"Markup must be a number of percent, got {value!r}") from None
    if not markup.is_finite() or markup < 0 or markup > MAX_MARKUP:
        raise ProviderError(f"Markup must be between 0 and {MAX_MARKUP} percent, got {value}")
    if markup != markup.quantize(Decimal("0.01")):
        raise ProviderError(f"Markup takes at most 2 decimal places, got {value}")
    return markup


def _currency_clean(currency: str) -> str:
    code = (currency or "").strip().upper()
    if not _CURRENCY.match(code):
        raise ProviderError(f"Currency must be a three-letter code such as USD, got {currency!r}")
    return code


def provider_url_clean(url: str) -> str:
    """A provider's API URL: http(s), and a public address unless PROVIDER_URLS_ALLOW_PRIVATE is on (the
    key is sent there). Raises ProviderError. Every connection is checked again by the client."""
    url = (url or "").strip()
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        raise ProviderError(f"Not an http(s) URL: {url!r}") from None
    refusal = url_refusal(url)
    if refusal:
        raise ProviderError(f"Provider URL refused: {refusal}")
    return url


def provider_create(
    *,
    name: str,
    api_url: str,
    api_key: str,
    currency: str = "USD",
    markup_percent: Decimal | str | None = None,
    idempotent_add: bool = False,
) -> Provider:
    """Register an upstream panel. Raises ProviderError (nothing stored) on bad input or a taken name.

    `idempotent_add`: its `add` honours our `request_id` (another copy of this panel), so an `add` whose
    answer was lost may be sent again."""
    name = (name or "").strip()
    if not name:
        raise ProviderError("A provider needs a name")
    if len(name) > Provider._meta.get_field("name").max_length:
        raise ProviderError("Provider name is too long")
    api_key = (api_key or "").strip()
    if not api_key:
        raise ProviderError("A provider needs an API key")
    provider = Provider(
        name=name,
        api_url=provider_url_clean(api_url),
        api_key=api_key,
        currency=_currency_clean(currency),
        markup_percent=markup_clean(markup_percent),
        idempotent_add=idempotent_add,
    )
    try:
        with transaction.atomic():
            provider.save()
    except IntegrityError:
        raise ProviderError(f"A provider named {name!r} already exists") from None
    return provider


def provider_check(*, provider: Provider) -> Balance:
    """Ask the upstream for our balance there and record it, with the same health bookkeeping as the
    periodic check. Raises ProviderError with the upstream's reason."""
    try:
        return provider_balance_fetch(provider=provider)
    except Rejected as exc:
        raise ProviderError(f"{provider.name}: the upstream refused: {exc.message}") from None
    except Unavailable as exc:
        raise ProviderError(f"{provider.name}: the upstream is unavailable: {exc.reason}") from None


def service_reprice(*, service_ids: Iterable[int]) -> int:
    """Recompute sale prices (after a markup or exchange-rate change). Returns how many changed.

    Raises PricingError, changing nothing, when a provider's currency has no exchange rate.
    """
    with transaction.atomic():
        services = list(services_with_pricing(service_ids=service_ids).select_for_update(of=("self",)))
        rates = exchange_rates_for(currencies={s.provider.currency for s in services})
        changed, rows = [], []
        now = timezone.now()
        for service in services:
            new = sale_rate(
                upstream_rate=service.upstream_rate,
                exchange_rate=rates[service.provider.currency.upper()],
                fixed_rate=service.fixed_rate,
                markup_percent=markup_for(
                    service_markup=service.markup_percent,
                    category_markup=service.category.markup_percent,
                    provider_markup=service.provider.markup_percent,
                ),
            )
            if new != service.rate:
                rows.append(ServiceChange(service=service, field="rate", old_value=f"{service.rate.normalize():f}",
                                          new_value=f"{new.normalize():f}"))
                service.rate, service.updated_at = new, now
                changed.append(service)
        if changed:
            bulk_update_rows(changed, ["rate", "updated_at"])
            ServiceChange.objects.bulk_create(rows)
        # Whatever led here (a markup, a category, a provider switched off) may change what the API lists.
        catalogue_changed()
    return len(changed)


def service_set_markup(*, service_ids: Iterable[int], markup_percent: Decimal | str | None) -> int:
    """Set (or clear, with None) the services' own markup and reprice them. Returns how many were set."""
    markup = markup_clean(markup_percent)
    ids = list(service_ids)
    with transaction.atomic():
        count = Service.objects.filter(pk__in=ids).update(markup_percent=markup, updated_at=timezone.now())
        service_reprice(service_ids=ids)
    return count


def service_set_active(*, service_ids: Iterable[int], active: bool) -> int:
    """Switch services on or off by hand. A service gone upstream cannot be switched on. Returns the count."""
    services = Service.objects.filter(pk__in=list(service_ids))
    if active:
        services = services.filter(available_upstream=True)
    # deactivated_by_sync cleared: the admin's choice now stands, the next sync keeps it.
    count = services.update(is_active=active, deactivated_by_sync=False, updated_at=timezone.now())
    catalogue_changed()
    return count


def service_move_to_category(*, service_ids: Iterable[int], category: Category) -> int:
    """Move services to a category (whose markup may price them differently). Returns the count."""
    ids = list(service_ids)
    with transaction.atomic():
        count = Service.objects.filter(pk__in=ids).update(category=category, updated_at=timezone.now())
        service_reprice(service_ids=ids)
    return count


def exchange_rate_set(*, currency: str, rate: Decimal | str) -> tuple[ExchangeRate, int]:
    """Create or change an exchange rate and reprice the services bought in that currency."""
    code = _currency_clean(currency)
    try:
        value = Decimal(str(rate))
    except InvalidOperation:
        raise PricingError(f"Exchange rate must be a number, got {rate!r}") from None
    if not value.is_finite() or value <= 0:
        raise PricingError(f"Exchange rate must be positive, got {rate}")
    with transaction.atomic():
        exchange, _ = ExchangeRate.objects.update_or_create(currency=code, defaults={"rate": value})
        ids = Service.objects.filter(provider__currency=code).values_list("pk", flat=True)
        repriced = service_reprice(service_ids=list(ids))
    return exchange, repriced


def category_save(*, category: Category) -> int:
    """Save a category and reprice its services (its markup may have changed). Returns how many changed."""
    with transaction.atomic():
        category.save()
        return service_reprice(service_ids=list(category.services.values_list("pk", flat=True)))


def provider_save(*, provider: Provider) -> int:
    """Save a provider's settings and reprice its services. Returns how many prices changed.

    A new or changed URL is checked as `provider_url_clean` does (ProviderError, nothing stored). A changed
    URL clears the stored key unless a new one comes with it: an old key is never sent to a new address.
    A missing exchange rate does not block saving: the prices stay as they are until one is added.
    """
    before = _provider_url_and_key(provider.pk)
    checked = None
    if before is None or provider.api_url != before[0]:
        checked = provider.api_url = provider_url_clean(provider.api_url)  # resolves names: not under a lock
    with transaction.atomic():
        current = _provider_url_and_key(provider.pk, lock=True)
        if current is not None and provider.api_url != current[0]:
            if provider.api_url != checked:  # the stored URL changed meanwhile
                provider.api_url = provider_url_clean(provider.api_url)
            if provider.api_key in (current[1], before[1] if before else None):
                provider.api_key = ""
        provider.save()
        ids = list(provider.services.values_list("pk", flat=True))
        try:
            with transaction.atomic():
                return service_reprice(service_ids=ids)
        except PricingError:
            return 0


def _provider_url_and_key(provider_id: int | None, *, lock: bool = False) -> tuple[str, str] | None:
    if provider_id is None:
        return None
    rows = Provider.objects.filter(pk=provider_id)
    return (rows.select_for_update() if lock else rows).values_list("api_url", "api_key").first()
