"""Provider health: a circuit breaker on repeated Unavailable answers, 429 back-off, the upstream balance
and its low-balance warning, and the one readiness rule that orders, reports and the admin ask."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from notify.events import provider_balance_checked
from providers.client import Balance, ProviderClient, Rejected, Unavailable
from providers.models import Provider

logger = logging.getLogger(__name__)

LOW_BALANCE_PREFIX = "Low upstream balance"


def client_for(provider: Provider) -> ProviderClient:
    return ProviderClient(provider)


def provider_circuit_open(provider: Provider, *, now: datetime) -> bool:
    """Too many Unavailable answers in a row: the provider rests until `circuit_open_until`."""
    return bool(provider.circuit_open_until and provider.circuit_open_until > now)


def provider_paused(provider: Provider, *, now: datetime) -> bool:
    """The provider asked us to wait (429 with Retry-After) until `retry_after_until`."""
    return bool(provider.retry_after_until and provider.retry_after_until > now)


def provider_is_ready(provider: Provider, *, now: datetime | None = None) -> bool:
    """The readiness rule: active, circuit closed, no pause asked for. Everything that asks, asks here."""
    now = now or timezone.now()
    return provider.is_active and not provider_circuit_open(provider, now=now) and not provider_paused(provider,
                                                                                                        now=now)


def providers_ready(*, now: datetime | None = None) -> QuerySet[Provider]:
    """The ready providers, by `provider_is_ready`; a queryset, so it also serves as a subquery."""
    now = now or timezone.now()
    ready = [p.pk for p in Provider.objects.filter(is_active=True).only(
        "id", "is_active", "circuit_open_until", "retry_after_until") if provider_is_ready(p, now=now)]
    return Provider.objects.filter(pk__in=ready)


def provider_balance_is_low(provider: Provider) -> bool:
    """The last balance the upstream reported is under the provider's warning threshold."""
    return provider.upstream_balance is not None and provider.upstream_balance < provider.low_balance_threshold


def provider_record_unavailable(*, provider_id: int, error: Unavailable, now: datetime | None = None) -> None:
    """Count one Unavailable answer; open the circuit after N in a row; honour a 429's Retry-After."""
    now = now or timezone.now()
    changes: dict[str, object] = {"consecutive_failures": F("consecutive_failures") + 1,
                                  "last_error": f"Unavailable: {error.reason}"[:500]}
    if error.retry_after:
        changes["retry_after_until"] = now + timedelta(seconds=float(error.retry_after))
    Provider.objects.filter(pk=provider_id).update(**changes)
    # A second, conditional update: whoever makes the count reach N opens the circuit, whatever the races.
    opened = Provider.objects.filter(
        pk=provider_id, consecutive_failures__gte=settings.PIPELINE_CIRCUIT_FAILURES
    ).filter(Q(circuit_open_until__isnull=True) | Q(circuit_open_until__lte=now)).update(
        circuit_open_until=now + timedelta(seconds=settings.PIPELINE_CIRCUIT_COOLDOWN_SECONDS), consecutive_failures=0
    )
    if opened:
        logger.warning("provider %s: circuit opened for %ss after repeated failures", provider_id,
                       settings.PIPELINE_CIRCUIT_COOLDOWN_SECONDS)


def provider_record_ok(*, provider_id: int) -> None:
    """A definite answer came: the provider is healthy again. One query, a no-op when already healthy."""
    Provider.objects.filter(pk=provider_id).filter(
        Q(consecutive_failures__gt=0) | Q(circuit_open_until__isnull=False)
    ).update(consecutive_failures=0, circuit_open_until=None)


def provider_record_rejected(*, provider_id: int, error: Rejected) -> None:
    """A whole request refused (bad key, suspended account): shown to the admin; not a reason to back off."""
    Provider.objects.filter(pk=provider_id).update(last_error=f"Rejected: {error.message}"[:500])


def provider_balance_fetch(*, provider: Provider, now: datetime | None = None) -> Balance:
    """Ask the upstream for our balance, with the health bookkeeping; record it and warn when it is low.

    Raises Unavailable or Rejected (already recorded against the provider's health)."""
    now = now or timezone.now()
    try:
        balance = client_for(provider).balance()
    except Unavailable as error:
        provider_record_unavailable(provider_id=provider.pk, error=error, now=now)
        raise
    except Rejected as error:
        provider_record_rejected(provider_id=provider.pk, error=error)
        raise
    provider_record_ok(provider_id=provider.pk)
    changes: dict[str, object] = {"upstream_balance": balance.amount, "upstream_balance_checked_at": now}
    if balance.amount < provider.low_balance_threshold:
        message = f"{LOW_BALANCE_PREFIX}: {balance.amount} {balance.currency or provider.currency} " \
                  f"(threshold {provider.low_balance_threshold})"
        logger.warning("provider %s: %s", provider.name, message)
        changes["last_error"] = message
    elif provider.last_error.startswith(LOW_BALANCE_PREFIX):
        changes["last_error"] = ""
    Provider.objects.filter(pk=provider.pk).update(**changes)
    for name, value in changes.items():
        setattr(provider, name, value)
    # Staff are mailed once per low episode, not on every check while it lasts.
    provider_balance_checked(provider=provider, balance=balance.amount,
                             currency=balance.currency or provider.currency, now=now)
    return balance


def provider_balance_check(*, provider_id: int, now: datetime | None = None) -> Balance | None:
    """The periodic check: the balance, or None when the upstream did not give it (health recorded)."""
    try:
        return provider_balance_fetch(provider=Provider.objects.get(pk=provider_id), now=now)
    except (Unavailable, Rejected):
        return None
