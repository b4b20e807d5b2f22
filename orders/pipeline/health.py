"""Provider health: a circuit breaker on repeated Unavailable answers, 429 back-off, upstream balance."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db.models import F, Q
from django.utils import timezone

from orders.pipeline import conf
from providers.client import Balance, ProviderClient, Rejected, Unavailable
from providers.models import Provider

logger = logging.getLogger(__name__)

LOW_BALANCE_PREFIX = "Low upstream balance"


def client_for(provider: Provider) -> ProviderClient:
    return ProviderClient(provider)


def providers_ready(*, now: datetime | None = None):
    """Active providers whose circuit is closed and that asked for no pause (429)."""
    now = now or timezone.now()
    return Provider.objects.filter(is_active=True).exclude(
        Q(circuit_open_until__gt=now) | Q(retry_after_until__gt=now)
    )


def provider_is_ready(provider: Provider, *, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    if not provider.is_active:
        return False
    if provider.circuit_open_until and provider.circuit_open_until > now:
        return False
    return not (provider.retry_after_until and provider.retry_after_until > now)


def provider_not_ready_until(provider: Provider) -> datetime | None:
    """When a provider that is not ready may be tried again."""
    times = [t for t in (provider.circuit_open_until, provider.retry_after_until) if t]
    return max(times) if times else None


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
        pk=provider_id, consecutive_failures__gte=conf.circuit_failures()
    ).filter(Q(circuit_open_until__isnull=True) | Q(circuit_open_until__lte=now)).update(
        circuit_open_until=now + timedelta(seconds=conf.circuit_cooldown_seconds()), consecutive_failures=0
    )
    if opened:
        logger.warning("provider %s: circuit opened for %ss after repeated failures", provider_id,
                       conf.circuit_cooldown_seconds())


def provider_record_ok(*, provider_id: int) -> None:
    """A definite answer came: the provider is healthy again. One query, a no-op when already healthy."""
    Provider.objects.filter(pk=provider_id).filter(
        Q(consecutive_failures__gt=0) | Q(circuit_open_until__isnull=False)
    ).update(consecutive_failures=0, circuit_open_until=None)


def provider_record_rejected(*, provider_id: int, error: Rejected) -> None:
    """A whole request refused (bad key, suspended account): shown to the admin; not a reason to back off."""
    Provider.objects.filter(pk=provider_id).update(last_error=f"Rejected: {error.message}"[:500])


def provider_balance_check(*, provider_id: int, now: datetime | None = None) -> Balance | None:
    """Ask the upstream for our balance; warn (log and provider.last_error) when below the threshold."""
    now = now or timezone.now()
    provider = Provider.objects.get(pk=provider_id)
    try:
        balance = client_for(provider).balance()
    except Unavailable as error:
        provider_record_unavailable(provider_id=provider_id, error=error, now=now)
        return None
    except Rejected as error:
        provider_record_rejected(provider_id=provider_id, error=error)
        return None
    provider_record_ok(provider_id=provider_id)
    changes: dict[str, object] = {"upstream_balance": balance.amount, "upstream_balance_checked_at": now}
    if balance.amount < provider.low_balance_threshold:
        message = f"{LOW_BALANCE_PREFIX}: {balance.amount} {balance.currency or provider.currency} " \
                  f"(threshold {provider.low_balance_threshold})"
        logger.warning("provider %s: %s", provider.name, message)
        changes["last_error"] = message
    elif provider.last_error.startswith(LOW_BALANCE_PREFIX):
        changes["last_error"] = ""
    Provider.objects.filter(pk=provider_id).update(**changes)
    return balance
