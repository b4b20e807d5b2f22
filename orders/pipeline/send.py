"""Sending paid orders upstream: claim, one `add` call outside any transaction, record what came back.

The claim is a conditional UPDATE (paid -> sending) whose row count says who won, so one order is
never sent by two workers. An `add` whose outcome is unknown is never sent again automatically.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import LedgerEntry
from orders import lifecycle
from orders.charges import lock_customer_then_order, order_refund_rest
from orders.models import Order, Stage
from orders.pipeline import conf
from orders.pipeline.fields import upstream_fields
from providers import health
from providers.client import Rejected, Unavailable, UnknownOutcome

logger = logging.getLogger(__name__)

# Upstream refusals that mean "our account there is short of money", not "this order is wrong".
_LOW_UPSTREAM_BALANCE = re.compile(r"not enough funds|insufficient funds|\bbalance\b|\bfunds\b", re.IGNORECASE)

SENT = "sent"
FAILED = "failed"
HELD = "held"
RETRY = "retry"
UNKNOWN = "unknown"
NOT_CLAIMED = "not_claimed"


def order_claim_for_sending(*, order_id: int, now: datetime | None = None) -> bool:
    """paid -> sending for one due order. True only for the one caller whose UPDATE changed the row."""
    return lifecycle.claim_for_sending(order_id=order_id, now=now or timezone.now())


def order_fail_and_refund(*, order_id: int, error: str, now: datetime | None = None) -> bool:
    """A definite upstream refusal: the order fails, shown Canceled, and is refunded in full (once).

    One transaction, customer locked before the order: a failed order is never left without its refund."""
    now = now or timezone.now()
    with transaction.atomic():
        lock_customer_then_order(order_id)
        if not lifecycle.record_refused(order_id=order_id, error=error, now=now):
            return False
        order_refund_rest(order_id=order_id, cause=LedgerEntry.Cause.FAILED_SEND, note="Refused by the provider")
        lifecycle.mark_settled(order_ids=[order_id], now=now)
    return True


def order_send_claimed(*, order_id: int, now: datetime | None = None) -> str:
    """Call `add` for an order this caller has claimed (stage sending) and record the answer."""
    order = Order.objects.select_related("service", "provider").get(pk=order_id)
    if order.stage != Stage.SENDING:
        return NOT_CLAIMED
    provider = order.provider
    fields = upstream_fields(order)
    try:
        upstream_id = health.client_for(provider).add(service_id=order.service.upstream_service_id, fields=fields)
    except Rejected as error:
        now = now or timezone.now()
        if provider.hold_on_low_upstream_balance and _LOW_UPSTREAM_BALANCE.search(error.message):
            lifecycle.release_for_retry(order_id=order_id, delay_seconds=settings.PIPELINE_LOW_BALANCE_HOLD_SECONDS,
                     error=f"Held: the provider's balance is short ({error.message})", now=now)
            logger.warning("order %s held: provider %s refused for its balance", order_id, provider.name)
            return HELD
        order_fail_and_refund(order_id=order_id, error=error.message, now=now)
        health.provider_record_ok(provider_id=provider.pk)
        return FAILED
    except Unavailable as error:
        now = now or timezone.now()
        health.provider_record_unavailable(provider_id=provider.pk, error=error, now=now)
        delay = conf.send_backoff_seconds(order.send_attempts)
        if error.retry_after:
            delay = max(delay, int(float(error.retry_after)))
        lifecycle.release_for_retry(order_id=order_id, delay_seconds=delay, error=f"Unavailable: {error.reason}",
                                    now=now)
        return RETRY
    except UnknownOutcome as error:
        now = now or timezone.now()
        # No answer is also a health signal (5xx, timeouts): enough of them open the provider's circuit.
        health.provider_record_unavailable(provider_id=provider.pk, error=Unavailable(error.reason), now=now)
        lifecycle.record_unknown(order_id=order_id, error=error.reason, now=now)
        logger.warning("order %s: add outcome unknown (%s)", order_id, error.reason)
        return UNKNOWN
    now = now or timezone.now()
    order_record_sent(order_id=order_id, upstream_id=upstream_id, now=now)
    health.provider_record_ok(provider_id=provider.pk)
    return SENT


def order_record_sent(*, order_id: int, upstream_id: str, now: datetime | None = None, note: str = "") -> bool:
    """The upstream id is known: sent, and polled from now on (also a late answer for an unknown order)."""
    return lifecycle.record_sent(order_id=order_id, upstream_id=upstream_id, now=now or timezone.now(), note=note)


def order_send(*, order_id: int, now: datetime | None = None) -> str:
    """Claim and send one order, if it is paid, due and its provider is ready."""
    order = Order.objects.select_related("provider").only("stage", "provider").get(pk=order_id)
    if order.stage != Stage.PAID:
        return NOT_CLAIMED
    if not health.provider_is_ready(order.provider, now=now):
        return NOT_CLAIMED
    if not order_claim_for_sending(order_id=order_id, now=now):
        return NOT_CLAIMED
    return order_send_claimed(order_id=order_id, now=now)


def orders_due_for_sending(
    *, now: datetime | None = None, grace_seconds: int = 0, limit: int | None = None
) -> list[int]:
    """Paid orders due now at ready providers, oldest first. `grace_seconds` skips orders created just now."""
    now = now or timezone.now()
    qs = Order.objects.filter(lifecycle.due(now), lifecycle.at_stage(Stage.PAID),
                             provider__in=health.providers_ready(now=now))
    if grace_seconds:
        qs = qs.filter(created_at__lte=now - timedelta(seconds=grace_seconds))
    ids = qs.order_by("id").values_list("id", flat=True)
    return list(ids[:limit] if limit else ids)


def orders_sweep_stale_sending(*, now: datetime | None = None) -> int:
    """A claim older than the timeout means the worker died mid-send: unknown, never resent by itself."""
    now = now or timezone.now()
    # Longer than any add call can take (the client's timeout and the task's hard time limit), so a
    # claim this old means the worker died between the call and saving its answer.
    cutoff = now - timedelta(seconds=settings.PIPELINE_SENDING_STALE_SECONDS)
    swept = lifecycle.sweep_stale_sending(started_before=cutoff, now=now)
    if swept:
        logger.warning("%s order(s) stuck in sending moved to unknown", swept)
    return swept
