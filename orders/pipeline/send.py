"""Sending paid orders upstream: claim, one `add` call outside any transaction, record what came back.

The claim is a conditional UPDATE (paid -> sending) whose row count says who won, so one order is
never sent by two workers. An `add` whose outcome is unknown is never sent again automatically, except to a
provider marked `idempotent_add`: every `add` carries the order's own `request_id`, which such a provider
answers with the order it already made. A refusal about the provider (not the order) moves the order to
the service's next alternate (orders.failover); an unknown outcome never does.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import LedgerEntry
from orders import failover, lifecycle
from orders.charges import lock_customer_then_order, order_refund_rest
from orders.models import Order, Stage
from orders.pipeline import conf
from orders.pipeline.fields import upstream_fields
from providers import client_capacity, health
from providers.client import Rejected, Unavailable, UnknownOutcome
from providers.client_refusals import FUNDS, PROVIDER_SIDE, add_refusal_kind
from providers.models import Provider

logger = logging.getLogger(__name__)

SENT = "sent"
MOVED = "moved"  # refused for a reason about the provider: now at the service's next alternate
RESEND = "resend"  # unanswered at a provider that honours request_id: sent again later with the same id
FAILED = "failed"
HELD = "held"
RETRY = "retry"
UNKNOWN = "unknown"
NOT_CLAIMED = "not_claimed"

# How long a send waits for one of its provider's slots before leaving the order for a later run.
SLOT_WAIT_SECONDS = 30


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


def upstream_request_id(order_id: int) -> str:
    """The `request_id` every `add` of this order carries: the same for every try, unique to this panel's
    order (UPSTREAM_REQUEST_ID_PREFIX tells panels that share an upstream account apart)."""
    return f"{settings.UPSTREAM_REQUEST_ID_PREFIX}-{order_id}"


def order_send_claimed(*, order_id: int, now: datetime | None = None) -> str:
    """Call `add` for an order this caller has claimed (stage sending) and record the answer."""
    order = Order.objects.select_related("service", "provider").get(pk=order_id)
    if order.stage != Stage.SENDING:
        return NOT_CLAIMED
    provider = order.provider
    fields = upstream_fields(order)
    try:
        upstream_id = health.client_for(provider).add(
            service_id=order.upstream_service or order.service.upstream_service_id, fields=fields,
            request_id=upstream_request_id(order.pk))
    except Rejected as error:
        return _refused(order, error, now=now or timezone.now())
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
        if provider.idempotent_add and order.send_attempts < settings.IDEMPOTENT_ADD_MAX_ATTEMPTS:
            # The same request_id again is safe here: the provider answers it with the order it already made.
            lifecycle.release_for_retry(order_id=order_id, delay_seconds=conf.send_backoff_seconds(order.send_attempts),
                                        error=f"No answer to add ({error.reason}): sent again with the same "
                                        "request_id", now=now, unanswered=True)
            logger.warning("order %s: add unanswered (%s), to be sent again with its request_id", order_id,
                           error.reason)
            return RESEND
        lifecycle.record_unknown(order_id=order_id, error=error.reason, now=now)
        logger.warning("order %s: add outcome unknown (%s)", order_id, error.reason)
        return UNKNOWN
    now = now or timezone.now()
    order_record_sent(order_id=order_id, upstream_id=upstream_id, now=now)
    _record_ok(provider)
    return SENT


def _refused(order: Order, error: Rejected, *, now: datetime) -> str:
    """A definite refusal: about the provider, the order goes to the next alternate that fits, if any; else
    it is held (the provider's low-balance policy) or fails and is refunded."""
    provider = order.provider
    kind = add_refusal_kind(error.message)
    not_moved = ""
    if kind in PROVIDER_SIDE:
        plan = failover.order_fail_over(order_id=order.pk, reason=f"Refused: {error.message}", now=now)
        if plan.provider is not None:
            _record_ok(provider)
            return MOVED
        not_moved = f" (no alternate took it: {'; '.join(plan.skipped)})" if plan.skipped else ""
    if provider.hold_on_low_upstream_balance and kind == FUNDS:
        lifecycle.release_for_retry(order_id=order.pk, delay_seconds=settings.PIPELINE_LOW_BALANCE_HOLD_SECONDS,
                                    error=f"Held: the provider's balance is short ({error.message}){not_moved}",
                                    now=now)
        logger.warning("order %s held: provider %s refused for its balance", order.pk, provider.name)
        return HELD
    order_fail_and_refund(order_id=order.pk, error=error.message + not_moved, now=now)
    _record_ok(provider)
    return FAILED


def _record_ok(provider: Provider) -> None:
    # As read with the order a moment ago: a query per order only while the provider is recovering.
    if provider.consecutive_failures or provider.circuit_open_until:
        health.provider_record_ok(provider_id=provider.pk)


def order_record_sent(*, order_id: int, upstream_id: str, now: datetime | None = None, note: str = "") -> bool:
    """The upstream id is known: sent, and polled from now on (also a late answer for an unknown order)."""
    return lifecycle.record_sent(order_id=order_id, upstream_id=upstream_id, now=now or timezone.now(), note=note)


def stale_after_seconds(provider: Provider) -> float:
    """A claim older than this was left by a dead worker: twice the provider's client timeout (an `add`
    call ends by then, by its hard deadline, answer written), or PIPELINE_SENDING_STALE_SECONDS if less."""
    return min(float(settings.PIPELINE_SENDING_STALE_SECONDS), 2 * float(provider.timeout_seconds or 30))


def order_send(*, order_id: int, now: datetime | None = None, provider: Provider | None = None) -> str:
    """Claim and send one order, if it is paid, due and its provider is ready.

    The call waits for one of the provider's `send_concurrency` slots and its turn under `send_per_second`,
    both counted across all workers, before the claim: a claim is made only when its call goes out at once,
    so its age says how long the call has been running. A caller sending many orders of one provider
    passes the provider, read recently enough for its readiness to hold.
    """
    if provider is None:
        order = Order.objects.select_related("provider").only("stage", "provider").get(pk=order_id)
        if order.stage != Stage.PAID:
            return NOT_CLAIMED
        provider = order.provider
    if not health.provider_is_ready(provider, now=now):
        return NOT_CLAIMED
    # The slot outlives the call (its hard deadline) and the writing of its answer; a dead worker's slot
    # comes free after it.
    with client_capacity.lease(provider, "send", limit=provider.send_concurrency, wait=SLOT_WAIT_SECONDS,
                               seconds=stale_after_seconds(provider)) as slot:
        if slot is None:
            return NOT_CLAIMED  # the provider's slots stayed taken by other workers: a later run sends it
        client_capacity.pace(provider, "send", per_second=float(provider.send_per_second))
        if not order_claim_for_sending(order_id=order_id, now=now):
            return NOT_CLAIMED
        return order_send_claimed(order_id=order_id, now=now)


def orders_due_for_sending(
    *, now: datetime | None = None, grace_seconds: int = 0, limit: int | None = None, provider_id: int | None = None
) -> list[int]:
    """Paid orders due now at ready providers, oldest first. `grace_seconds` skips orders created just now."""
    now = now or timezone.now()
    qs = Order.objects.filter(lifecycle.due(now), lifecycle.at_stage(Stage.PAID),
                             provider__in=health.providers_ready(now=now))
    if provider_id is not None:
        qs = qs.filter(provider_id=provider_id)
    if grace_seconds:
        qs = qs.filter(created_at__lte=now - timedelta(seconds=grace_seconds))
    ids = qs.order_by("id").values_list("id", flat=True)
    return list(ids[:limit] if limit else ids)


def orders_sweep_stale_sending(*, now: datetime | None = None) -> int:
    """A claim older than `stale_after_seconds` means the worker died mid-send: unknown, never resent by itself
    (but at a provider that honours request_id, sent again with the same one, within IDEMPOTENT_ADD_MAX_ATTEMPTS).

    An `add` call ends within the provider's timeout whatever the upstream does (the client's hard
    deadline), and the claim is made right before the call, so a claim twice that old belongs to a worker
    that died between the call and saving its answer, never to one still waiting.
    """
    now = now or timezone.now()
    swept = 0
    for provider in Provider.objects.filter(pk__in=lifecycle.providers_sending()).only(
            "id", "timeout_seconds", "idempotent_add"):
        cutoff = now - timedelta(seconds=stale_after_seconds(provider))
        resend = (settings.PIPELINE_SEND_BACKOFF_SECONDS, settings.IDEMPOTENT_ADD_MAX_ATTEMPTS) \
            if provider.idempotent_add else None
        swept += lifecycle.sweep_stale_sending(started_before=cutoff, now=now, provider_id=provider.pk, resend=resend)
    if swept:
        logger.warning("%s order(s) stuck in sending moved to unknown", swept)
    return swept
