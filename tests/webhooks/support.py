"""Helpers for the webhook tests: history rows as the poller writes them, and delivering all that is due."""

from __future__ import annotations

from datetime import datetime

from orders.models import Order, OrderStatusChange, Stage, Status
from tests.factories import OrderFactory
from webhooks.delivery import event_deliver, events_due


def sent_order(customer, **fields) -> Order:
    fields.setdefault("upstream_id", f"up-{OrderFactory._meta.model.objects.count() + 1}")
    return OrderFactory(customer=customer, stage=Stage.SENT, status=Status.PENDING, **fields)


def history(order: Order, status: str, *, remains: int | None = None, start_count: int | None = None
            ) -> OrderStatusChange:
    """One change of `order`, as the poller records it (status and progress on the order, a history row)."""
    Order.objects.filter(pk=order.pk).update(status=status, remains=remains, start_count=start_count)
    return OrderStatusChange.objects.create(order=order, status=status, remains=remains, start_count=start_count)


def deliver_due(*, now: datetime, rounds: int = 20) -> list[str]:
    """Deliver what is due, again and again (an order's next event becomes due when the one before is done)."""
    outcomes: list[str] = []
    for _ in range(rounds):
        due = events_due(now=now)
        if not due:
            break
        outcomes += [event_deliver(event_id=pk, now=now) for pk in due]
    return outcomes
