"""Sending paid orders upstream: claim, one `add` call outside any transaction, record what came back.

The claim is a conditional UPDATE (paid -> sending) whose row count says who won, so one order is
never sent by two workers. An `add` whose outcome is unknown is never sent again automatically.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta

from django.db.models import F, Q
from django.utils import timezone

from accounts import services as money
from accounts.models import LedgerEntry
from accounts.money import ZERO
from orders.models import Order, OrderStatusChange, Stage, Status
from orders.pipeline import conf, health
from orders.pipeline.fields import upstream_fields
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


def _due(now: datetime) -> Q:
    return Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)


def order_claim_for_sending(*, order_id: int, now: datetime | None = None) -> bool:
    """paid -> sending for one due order. True only for the one caller whose UPDATE changed the row."""
    now = now or timezone.now()
    claimed = Order.objects.filter(_due(now), pk=order_id, stage=Stage.PAID).update(
        stage=Stage.SENDING, sending_started_at=now, send_attempts=F("send_attempts") + 1, updated_at=now
    )
    return claimed == 1


def _release(*, order_id: int, delay_seconds: int, error: str, now: datetime) -> None:
    """Back to paid, to be tried again later; the order stays charged and customer-visible Pending."""
    Order.objects.filter(pk=order_id, stage=Stage.SENDING).update(
        stage=Stage.PAID, next_attempt_at=now + timedelta(seconds=delay_seconds), last_error=error[:2000],
        updated_at=now,
    )


def order_fail_and_refund(*, order_id: int, error: str, now: datetime | None = None) -> bool:
    """A definite upstream refusal: the order fails, shown Canceled, and is refunded in full (once)."""
    now = now or timezone.now()
    order = Order.objects.only("quantity").get(pk=order_id)
    changed = Order.objects.filter(pk=order_id, stage=Stage.SENDING).update(
        stage=Stage.FAILED, status=Status.CANCELED, remains=order.quantity, last_error=error[:2000],
        finished_at=now, updated_at=now,
    )
    if not changed:
        return False
    OrderStatusChange.objects.create(order_id=order_id, status=Status.CANCELED, remains=order.quantity,
                                     note=f"Refused upstream: {error}"[:300])
    refund_failed_send(order_id=order_id, now=now)
    return True


def refund_failed_send(*, order_id: int, now: datetime | None = None) -> None:
    order = Order.objects.only("charge", "refunded").get(pk=order_id)
    if order.charge - order.refunded > ZERO:
        money.balance_refund(order_id=order_id, amount=order.charge - order.refunded,
                             cause=LedgerEntry.Cause.FAILED_SEND, note="Refused by the provider")
    Order.objects.filter(pk=order_id).update(settled_at=now or timezone.now())


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
            _release(order_id=order_id, delay_seconds=conf.low_balance_hold_seconds(),
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
        _release(order_id=order_id, delay_seconds=delay, error=f"Unavailable: {error.reason}", now=now)
        return RETRY
    except UnknownOutcome as error:
        now = now or timezone.now()
        # No answer is also a health signal (5xx, timeouts): enough of them open the provider's circuit.
        health.provider_record_unavailable(provider_id=provider.pk, error=Unavailable(error.reason), now=now)
        Order.objects.filter(pk=order_id, stage=Stage.SENDING).update(
            stage=Stage.UNKNOWN, last_error=f"Outcome unknown: {error.reason}"[:2000],
            attention="The add call's outcome is unknown: check the provider, then set its id, resend or refund",
            updated_at=now,
        )
        logger.warning("order %s: add outcome unknown (%s)", order_id, error.reason)
        return UNKNOWN
    now = now or timezone.now()
    order_record_sent(order_id=order_id, upstream_id=upstream_id, now=now)
    health.provider_record_ok(provider_id=provider.pk)
    return SENT


def order_record_sent(*, order_id: int, upstream_id: str, now: datetime | None = None, note: str = "") -> bool:
    """The upstream id is known: sent, and polled from now on.

    Also accepted from `unknown` with no id yet: the stale-claim sweeper may have given up on a slow
    call whose answer then arrived, and that answer is the truth.
    """
    now = now or timezone.now()
    changed = Order.objects.filter(pk=order_id, stage__in=[Stage.SENDING, Stage.UNKNOWN], upstream_id="").update(
        stage=Stage.SENT, upstream_id=str(upstream_id)[:64], sent_at=now, next_attempt_at=None, attention="",
        updated_at=now,
    )
    if changed:
        OrderStatusChange.objects.create(order_id=order_id, status=Status.PENDING,
                                         note=(note or f"Sent upstream as {upstream_id}")[:300])
    return bool(changed)


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
    qs = Order.objects.filter(_due(now), stage=Stage.PAID, provider__in=health.providers_ready(now=now))
    if grace_seconds:
        qs = qs.filter(created_at__lte=now - timedelta(seconds=grace_seconds))
    ids = qs.order_by("id").values_list("id", flat=True)
    return list(ids[:limit] if limit else ids)


def orders_sweep_stale_sending(*, now: datetime | None = None) -> int:
    """A claim older than the timeout means the worker died mid-send: unknown, never resent by itself."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=conf.sending_stale_seconds())
    swept = Order.objects.filter(stage=Stage.SENDING, sending_started_at__lt=cutoff).update(
        stage=Stage.UNKNOWN, updated_at=now,
        last_error="The sending worker stopped before saving the upstream answer",
        attention="The add call's outcome is unknown: check the provider, then set its id, resend or refund",
    )
    if swept:
        logger.warning("%s order(s) stuck in sending moved to unknown", swept)
    return swept
