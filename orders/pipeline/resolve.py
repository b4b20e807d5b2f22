"""What an admin does with an order the pipeline could not finish by itself (failed or unknown)."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q
from django.utils import timezone

from accounts.money import ZERO
from orders.models import Order, OrderStatusChange, Stage, Status
from orders.pipeline.settle import orders_settle

RESOLVABLE = (Stage.FAILED, Stage.UNKNOWN)
# A failed order that was refunded cannot go upstream again for free: only unrefunded ones may.
_NOT_REFUNDED = Q(refunded=ZERO)


def order_send_again(*, order_id: int, now: datetime | None = None) -> bool:
    """Back to paid for a worker to send; only for unknown or failed orders not refunded, with no upstream id."""
    now = now or timezone.now()
    changed = Order.objects.filter(_NOT_REFUNDED, pk=order_id, stage__in=RESOLVABLE, upstream_id="").update(
        stage=Stage.PAID, status=Status.PENDING, remains=None, next_attempt_at=None, attention="", finished_at=None,
        settled_at=None, updated_at=now,
    )
    if changed:
        OrderStatusChange.objects.create(order_id=order_id, status=Status.PENDING, note="Sent again by an admin")
    return bool(changed)


def order_set_upstream_id(*, order_id: int, upstream_id: str, now: datetime | None = None) -> bool:
    """The admin found the order upstream: record its id; it is polled from now on."""
    upstream_id = upstream_id.strip()
    if not upstream_id:
        raise ValueError("The upstream id cannot be empty")
    now = now or timezone.now()
    changed = Order.objects.filter(_NOT_REFUNDED, pk=order_id, stage__in=RESOLVABLE).update(
        stage=Stage.SENT, status=Status.PENDING, upstream_id=upstream_id[:64], sent_at=now, attention="",
        remains=None, finished_at=None, settled_at=None, last_checked_at=None, updated_at=now,
    )
    if changed:
        OrderStatusChange.objects.create(order_id=order_id, status=Status.PENDING,
                                         note=f"Upstream id {upstream_id} set by an admin"[:300])
    return bool(changed)


def order_cancel_and_refund(*, order_id: int, now: datetime | None = None) -> bool:
    """Final, Canceled, and whatever is left of the charge refunded (once, by the ledger's rule)."""
    now = now or timezone.now()
    order = Order.objects.only("quantity").get(pk=order_id)
    changed = Order.objects.filter(pk=order_id, stage__in=[*RESOLVABLE, Stage.PAID]).update(
        stage=Stage.FINAL, status=Status.CANCELED, remains=order.quantity, attention="", finished_at=now,
        settled_at=None, updated_at=now,
    )
    if not changed:
        return False
    OrderStatusChange.objects.create(order_id=order_id, status=Status.CANCELED, remains=order.quantity,
                                     note="Canceled and refunded by an admin")
    orders_settle(order_ids=[order_id], now=now)
    return True
