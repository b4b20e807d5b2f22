"""Thin Celery tasks over webhooks.events and webhooks.delivery. Each takes ids and is safe to run twice."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from webhooks import delivery, events

# A delivery is one POST (WEBHOOK_TIMEOUT_SECONDS per wait for bytes); its hard limit stays below
# delivery.LEASE_SECONDS. A tick reads history in batches.
DELIVER_LIMITS = {"soft_time_limit": 60, "time_limit": 90}
TICK_LIMITS = {"soft_time_limit": 120, "time_limit": 150}


@shared_task(**TICK_LIMITS)
def webhooks_tick_task() -> dict:
    """Beat's entry: new history -> events, then every due event queued for delivery."""
    made = events.events_collect()
    due = delivery.events_due(now=timezone.now())
    delivery.enqueue(due)
    return {"events": made, "queued": len(due)}


# Late ack: an attempt cut short is attempted again (the receiver de-duplicates by event id).
@shared_task(acks_late=True, **DELIVER_LIMITS)
def webhook_deliver_task(event_id: int) -> str:
    return delivery.event_deliver(event_id=event_id)
