"""Delivering events: which are due, one attempt at one event, and what a failure does to the endpoint.

An order's events reach an endpoint in the order they happened: a later one waits while an earlier one for
the same order and endpoint is pending. A failed attempt is retried with exponential backoff until
WEBHOOK_RETRY_HOURS after the event was made; the endpoint also waits as a whole, so a receiver that is down
gets one probe per wait rather than every event. WEBHOOK_DISABLE_AFTER_FAILURES failures in a row disable
the endpoint and mail its owner.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from notify.services import notify_customer
from webhooks import sender, signing
from webhooks.models import MAX_ENDPOINTS, WebhookEndpoint, WebhookEvent

Pending = WebhookEvent.State.PENDING

# Events queued per dispatch run; the next run takes the rest.
DISPATCH_LIMIT = 1000


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failure in a row: doubling from WEBHOOK_RETRY_SECONDS, capped."""
    seconds = settings.WEBHOOK_RETRY_SECONDS * 2 ** min(max(attempts - 1, 0), 30)
    return timedelta(seconds=min(seconds, settings.WEBHOOK_RETRY_MAX_SECONDS))


# A claimed event is not due again for this long: past the delivery task's hard time limit, so only a worker
# that died mid-POST (never a slow one still waiting for an answer) has its event claimed again.
LEASE_SECONDS = 120


def _lease() -> timedelta:
    return timedelta(seconds=LEASE_SECONDS)


def _no_earlier_pending() -> Exists:
    # Earlier by the history row, not by the event's id: a row that committed late gets its event late.
    # A test event has no order: `order_id = NULL` matches nothing, so nothing holds it back.
    return ~Exists(WebhookEvent.objects.filter(endpoint=OuterRef("endpoint"), order=OuterRef("order"),
                                               state=Pending, history_id__lt=OuterRef("history_id")))


def events_due(*, now: datetime, limit: int = DISPATCH_LIMIT) -> list[int]:
    """Ids of the events to attempt now, in one query. A failing endpoint gets one (its oldest) as a probe."""
    endpoint_ready = Q(endpoint__retry_at__isnull=True) | Q(endpoint__retry_at__lte=now) | Q(order__isnull=True)
    rows = (WebhookEvent.objects.filter(state=Pending, next_attempt_at__lte=now, endpoint__is_active=True)
            .filter(endpoint_ready).filter(_no_earlier_pending())
            .order_by("id").values_list("id", "endpoint_id", "endpoint__failure_run")[:limit])
    due, probed = [], set()
    for event_id, endpoint_id, failure_run in rows:
        if failure_run:
            if endpoint_id in probed:
                continue
            probed.add(endpoint_id)
        due.append(event_id)
    return due


def enqueue(event_ids: list[int]) -> None:
    """Queue a delivery task per event once the current transaction commits."""
    from webhooks.tasks import webhook_deliver_task

    for event_id in event_ids:
        transaction.on_commit(lambda pk=event_id: webhook_deliver_task.delay(pk), robust=True)


def _claim(event_id: int, *, now: datetime) -> bool:
    """Due -> leased to this worker, by a conditional UPDATE: of two workers, one wins.

    The UPDATE's conditions are on the event's own row, which PostgreSQL checks again after waiting for a
    competing update (a condition through a join or subquery would be judged on the old row and let both
    win). What is judged on other rows, an active endpoint and no earlier event pending, is read just before:
    at worst a URL disabled in between gets this one attempt more.
    """
    if not (WebhookEvent.objects.filter(pk=event_id, endpoint__is_active=True).filter(_no_earlier_pending())
            .exists()):
        return False
    return WebhookEvent.objects.filter(pk=event_id, state=Pending, next_attempt_at__lte=now).update(
        next_attempt_at=now + _lease()) == 1


def _next_of_order(event: WebhookEvent) -> None:
    """The order's next event, which this one held back, goes now rather than at the next dispatch."""
    if event.order_id is None:
        return
    following = (WebhookEvent.objects.filter(endpoint_id=event.endpoint_id, order_id=event.order_id, state=Pending)
                 .exclude(pk=event.pk).order_by("history_id").values_list("id", flat=True).first())
    if following is not None:
        enqueue([following])


def event_deliver(*, event_id: int, now: datetime | None = None) -> str:
    """One attempt at one event, if it is due and its order's earlier events are done. Returns what happened."""
    now = now or timezone.now()
    if not _claim(event_id, now=now):
        return "not due"
    event = WebhookEvent.objects.select_related("endpoint").get(pk=event_id)
    if now >= event.created_at + timedelta(hours=settings.WEBHOOK_RETRY_HOURS):
        with transaction.atomic():
            _give_up(event, now=now, error=f"not delivered within {settings.WEBHOOK_RETRY_HOURS} h")
        return "expired"
    # The signed timestamp is the wall clock at sending: receivers compare it with theirs to refuse replays.
    headers = signing.signed_headers(secret=event.endpoint.secret, msg_id=event.event_id,
                                     timestamp=int(time.time()), body=event.body)
    outcome = sender.post(url=event.endpoint.url, body=event.body, headers=headers)
    with transaction.atomic():
        _record(event, outcome, now=now)
    return "delivered" if outcome.delivered else "failed"


_ATTEMPT_FIELDS = ["attempts", "last_attempt_at", "response_code"]


def _give_up(event: WebhookEvent, *, now: datetime, error: str, fields: tuple[str, ...] = ()) -> None:
    event.state = WebhookEvent.State.FAILED
    event.next_attempt_at = None
    event.last_error = error[:500]
    event.save(update_fields=["state", "next_attempt_at", "last_error", *fields])
    _next_of_order(event)


def _record(event: WebhookEvent, outcome: sender.Outcome, *, now: datetime) -> None:
    endpoint = WebhookEndpoint.objects.select_for_update().filter(pk=event.endpoint_id).first()
    if endpoint is None:
        return  # the customer removed the URL, and its events with it, while this attempt was on its way
    event.attempts += 1
    event.last_attempt_at = now
    event.response_code = outcome.status
    if outcome.delivered:
        event.state, event.next_attempt_at, event.last_error = WebhookEvent.State.DELIVERED, None, ""
        event.delivered_at = now
        event.save(update_fields=[*_ATTEMPT_FIELDS, "state", "next_attempt_at", "last_error", "delivered_at"])
        if endpoint.failure_run or endpoint.retry_at:
            endpoint.failure_run, endpoint.retry_at = 0, None
            endpoint.save(update_fields=["failure_run", "retry_at"])
        _next_of_order(event)
        return
    retry_at = now + backoff(event.attempts)
    # A test event is tried once: the customer is looking at the answer now.
    if event.order_id is None or retry_at >= event.created_at + timedelta(hours=settings.WEBHOOK_RETRY_HOURS):
        _give_up(event, now=now, error=outcome.error, fields=tuple(_ATTEMPT_FIELDS))
    else:
        event.next_attempt_at, event.last_error = retry_at, outcome.error[:500]
        event.save(update_fields=[*_ATTEMPT_FIELDS, "next_attempt_at", "last_error"])
    endpoint.failure_run += 1
    endpoint.retry_at = now + backoff(endpoint.failure_run)
    endpoint.save(update_fields=["failure_run", "retry_at"])
    if endpoint.is_active and endpoint.failure_run >= settings.WEBHOOK_DISABLE_AFTER_FAILURES:
        _disable(endpoint, now=now, last_error=outcome.error)


def _disable(endpoint: WebhookEndpoint, *, now: datetime, last_error: str) -> None:
    endpoint.is_active, endpoint.disabled_at = False, now
    endpoint.save(update_fields=["is_active", "disabled_at"])
    notify_customer(
        kind="webhook_disabled",
        event_key=f"webhook_disabled:{endpoint.pk}:{int(now.timestamp())}",
        customer_id=endpoint.customer_id,
        context={"endpoint_id": endpoint.pk, "url": endpoint.url, "failures": endpoint.failure_run,
                 "last_error": last_error[:200]},
    )


def delivery_rules() -> dict[str, int]:
    """The numbers the API documentation gives receivers."""
    return {
        "max_endpoints": MAX_ENDPOINTS,
        "timeout": settings.WEBHOOK_TIMEOUT_SECONDS,
        "retry_seconds": settings.WEBHOOK_RETRY_SECONDS,
        "retry_max_minutes": max(settings.WEBHOOK_RETRY_MAX_SECONDS // 60, 1),
        "retry_hours": settings.WEBHOOK_RETRY_HOURS,
        "disable_after": settings.WEBHOOK_DISABLE_AFTER_FAILURES,
    }
