"""What an admin does with an order the pipeline could not finish by itself (failed or unknown).

Each resolution is one transaction: the lifecycle transition, the refund where one is owed, and the
audit row naming who did it and why.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from orders import lifecycle
from orders.charges import lock_customer_then_order
from orders.models import Order, Stage
from orders.pipeline.settle import orders_settle


def _audit(order: Order, *, action: str, actor, reason: str, **changes: tuple[object, object]) -> None:
    audit_record(action=f"order.{action}", subject_type="order", subject_id=order.pk, actor=actor,
                 customer_id=order.customer_id, changes=changes, reason=reason)


def _resolve(order_id: int, *, action: str, actor, reason: str, move) -> bool:
    """Lock customer then order, make the move, audit what changed; False (nothing written) if it may not."""
    with transaction.atomic():
        _customer, before = lock_customer_then_order(order_id)
        if not move():
            return False
        after = Order.objects.get(pk=order_id)
        changed = {name: (getattr(before, name), getattr(after, name))
                   for name in ("stage", "status", "upstream_id", "remains", "attention", "refunded")
                   if getattr(before, name) != getattr(after, name)}
        _audit(after, action=action, actor=actor, reason=reason, **changed)
    return True


def order_send_again(*, order_id: int, actor=None, reason: str = "", now: datetime | None = None) -> bool:
    """Back to paid for a worker to send; only for unknown or failed orders not refunded, with no upstream id."""
    now = now or timezone.now()
    return _resolve(order_id, action="send_again", actor=actor, reason=reason,
                    move=lambda: lifecycle.send_again(order_id=order_id, now=now))


def order_set_upstream_id(*, order_id: int, upstream_id: str, actor=None, reason: str = "",
                          now: datetime | None = None) -> bool:
    """The admin found the order upstream: record its id; it is polled from now on."""
    upstream_id = upstream_id.strip()
    if not upstream_id:
        raise ValueError("The upstream id cannot be empty")
    now = now or timezone.now()
    return _resolve(order_id, action="set_upstream_id", actor=actor, reason=reason,
                    move=lambda: lifecycle.set_upstream_id(order_id=order_id, upstream_id=upstream_id, now=now))


def order_cancel_and_refund(*, order_id: int, actor=None, reason: str = "", now: datetime | None = None) -> bool:
    """Final, Canceled, and whatever is left of the charge refunded (once, by the ledger's rule)."""
    now = now or timezone.now()

    def move() -> bool:
        if not lifecycle.cancel(order_id=order_id, now=now, sources=(Stage.PAID, *lifecycle.RESOLVABLE),
                                note="Canceled and refunded by an admin"):
            return False
        orders_settle(order_ids=[order_id], now=now)
        return True

    return _resolve(order_id, action="cancel_and_refund", actor=actor, reason=reason, move=move)


def order_mark_resolved(*, order_id: int, actor=None, reason: str = "", now: datetime | None = None) -> bool:
    """The admin checked an order that asked for attention and nothing more is needed: the note goes."""
    now = now or timezone.now()
    return _resolve(order_id, action="mark_resolved", actor=actor, reason=reason,
                    move=lambda: lifecycle.clear_attention(order_id=order_id, now=now))
