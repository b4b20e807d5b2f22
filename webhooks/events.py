"""Order history becomes webhook events: each new orders.OrderStatusChange of a customer with an active
endpoint gives one event per such endpoint. The poller writes the history; this only reads it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Max, Min
from django.utils import timezone

from orders.models import OrderStatusChange
from webhooks import payloads, signing
from webhooks.models import WebhookCursor, WebhookEndpoint, WebhookEvent

# History rows per batch; each batch is four queries (rows, endpoints, events already made, insert).
BATCH_SIZE = 500
# A sequence hands out ids before commit, so a row with a lower id can become visible after a higher one
# (two pollers committing in the other order). The stored cursor stays behind rows younger than this; they
# are read again on the next runs (and found done) until none can still be on its way.
SETTLE_SECONDS = 120

_ROW_FIELDS = ("id", "order_id", "status", "start_count", "remains", "at", "order__customer_id",
               "order__charge", "order__refunded", "order__quantity", "order__runs")


def _cursor() -> WebhookCursor:
    cursor = WebhookCursor.objects.order_by("pk").first()
    return cursor or WebhookCursor.objects.create(last_history_id=0)


def _events_for(rows: list[dict], *, now: datetime) -> list[WebhookEvent]:
    customer_ids = {row["order__customer_id"] for row in rows}
    endpoints: dict[int, list[tuple[int, datetime]]] = {}
    for endpoint_id, customer_id, created_at in (
        WebhookEndpoint.objects.filter(is_active=True, customer_id__in=customer_ids)
        .values_list("id", "customer_id", "created_at")
    ):
        endpoints.setdefault(customer_id, []).append((endpoint_id, created_at))
    done = set(WebhookEvent.objects.filter(history_id__in=[row["id"] for row in rows])
               .values_list("endpoint_id", "history_id"))
    events = []
    for row in rows:
        for endpoint_id, endpoint_created in endpoints.get(row["order__customer_id"], ()):
            # A URL hears of what happens after it was added, not of the history before it.
            if (endpoint_id, row["id"]) in done or row["at"] < endpoint_created:
                continue
            event_id = signing.event_id_generate()
            events.append(WebhookEvent(
                event_id=event_id, endpoint_id=endpoint_id, kind=WebhookEvent.Kind.ORDER_UPDATED,
                order_id=row["order_id"], history_id=row["id"], created_at=now, next_attempt_at=now,
                body=payloads.order_event_body(
                    event_id=event_id, kind=WebhookEvent.Kind.ORDER_UPDATED, at=row["at"], order_id=row["order_id"],
                    status=row["status"], start_count=row["start_count"], remains=row["remains"],
                    charge=row["order__charge"], refunded=row["order__refunded"], quantity=row["order__quantity"],
                    runs=row["order__runs"]),
            ))
    return events


def events_collect(*, now: datetime | None = None, batch_size: int = BATCH_SIZE) -> int:
    """Make the events for history written since the last run; returns how many were made.

    A constant number of queries per batch of history rows, whatever the number of orders and endpoints.
    Safe to run twice at once: an event is unique per (endpoint, history row).
    """
    now = now or timezone.now()
    cursor = _cursor()
    head = OrderStatusChange.objects.aggregate(head=Max("id"))["head"] or 0
    if head <= cursor.last_history_id:
        return 0
    customers = WebhookEndpoint.objects.filter(is_active=True).values("customer_id")
    position, made = cursor.last_history_id, 0
    while position < head:
        rows = list(OrderStatusChange.objects.filter(id__gt=position, id__lte=head, order__customer_id__in=customers)
                    .order_by("id").values(*_ROW_FIELDS)[:batch_size])
        if not rows:
            break
        events = _events_for(rows, now=now)
        if events:
            WebhookEvent.objects.bulk_create(events, ignore_conflicts=True)
            made += len(events)
        position = rows[-1]["id"]
        if len(rows) < batch_size:
            break
    young = (OrderStatusChange.objects.filter(id__gt=cursor.last_history_id, id__lte=head,
                                              at__gte=now - timedelta(seconds=SETTLE_SECONDS))
             .aggregate(first=Min("id"))["first"])
    settled = head if young is None else young - 1
    # Only forward: a slower run that read less must not move the cursor back.
    WebhookCursor.objects.filter(pk=cursor.pk, last_history_id__lt=settled).update(last_history_id=settled)
    return made
