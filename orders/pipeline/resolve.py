"""What an admin does with an order the pipeline could not finish by itself (failed or unknown).

Each resolution is one transaction: the lifecycle transition, the refund where one is owed, and the
audit row naming who did it and why. The same resolutions exist for many orders at once (below), in a
fixed number of statements per chunk of orders.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from accounts import services as money
from audit.services import audit_record, audit_record_bulk
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


# --- Many orders at once (the admin's actions on a filtered selection) ----------------------------------------
# A fixed number of statements per chunk of orders, whatever the chunk's size: the lifecycle's bulk
# transitions, the settlement's bulk refunds, one insert of audit rows (one row per order that changed).

# Orders per transaction: bounds how long one action keeps customers' and orders' rows locked.
BULK_CHUNK = 500
_AUDITED = ("stage", "status", "upstream_id", "remains", "attention", "refunded")


class ReasonRequired(ValueError):
    """A bulk resolution needs the admin's reason, for the audit log."""


def _resolve_many(order_ids: Iterable[int], *, action: str, actor, reason: str, move) -> list[int]:
    """Per chunk, one transaction: lock the customers, then the orders (the lock order of orders.charges);
    `move(ids)` changes what it may and returns the ids it changed; each of those gets its audit row."""
    if not (reason or "").strip():
        raise ReasonRequired("Say why: the reason is kept in the audit log")
    ids = sorted(set(order_ids))
    changed: list[int] = []
    for start in range(0, len(ids), BULK_CHUNK):
        chunk = ids[start:start + BULK_CHUNK]
        with transaction.atomic():
            money.lock_customers(Order.objects.filter(pk__in=chunk).values_list("customer_id", flat=True))
            before = {row["pk"]: row for row in Order.objects.select_for_update().filter(pk__in=chunk)
                      .order_by("pk").values("pk", "customer_id", *_AUDITED)}
            moved = move(list(before))
            if not moved:
                continue
            after = {row["pk"]: row for row in Order.objects.filter(pk__in=moved).values("pk", *_AUDITED)}
            audit_record_bulk(action=f"order.{action}", subject_type="order", actor=actor, reason=reason, rows=[
                (pk, before[pk]["customer_id"], {name: (before[pk][name], after[pk][name]) for name in _AUDITED
                                                 if before[pk][name] != after[pk][name]})
                for pk in moved])
            changed.extend(moved)
    return changed


def orders_send_again(*, order_ids: Iterable[int], actor=None, reason: str, now: datetime | None = None) -> list[int]:
    """`order_send_again` for many orders; returns the ids sent again (the others were not eligible)."""
    now = now or timezone.now()
    return _resolve_many(order_ids, action="send_again", actor=actor, reason=reason,
                         move=lambda ids: lifecycle.send_again_many(order_ids=ids, now=now))


def orders_cancel_and_refund(*, order_ids: Iterable[int], actor=None, reason: str,
                             now: datetime | None = None) -> list[int]:
    """`order_cancel_and_refund` for many orders: final and Canceled, what is left of each charge refunded."""
    now = now or timezone.now()

    def move(ids: list[int]) -> list[int]:
        moved = lifecycle.cancel_many(order_ids=ids, now=now, sources=(Stage.PAID, *lifecycle.RESOLVABLE),
                                      note="Canceled and refunded by an admin")
        orders_settle(order_ids=moved, now=now)
        return moved

    return _resolve_many(order_ids, action="cancel_and_refund", actor=actor, reason=reason, move=move)


def orders_set_upstream_ids(*, upstream_ids: Mapping[int, str], actor=None, reason: str,
                            now: datetime | None = None) -> list[int]:
    """`order_set_upstream_id` for many orders, each with its own id: they are polled from now on."""
    now = now or timezone.now()
    cleaned = {int(pk): str(uid).strip() for pk, uid in upstream_ids.items()}
    if any(not uid for uid in cleaned.values()):
        raise ValueError("An upstream id cannot be empty")
    return _resolve_many(cleaned, action="set_upstream_id", actor=actor, reason=reason,
                         move=lambda ids: lifecycle.set_upstream_ids(
                             upstream_ids={pk: cleaned[pk] for pk in ids}, now=now))


def orders_mark_resolved(*, order_ids: Iterable[int], actor=None, reason: str, now: datetime | None = None,
                         ) -> list[int]:
    """`order_mark_resolved` for many orders: their attention notes go."""
    now = now or timezone.now()
    return _resolve_many(order_ids, action="mark_resolved", actor=actor, reason=reason,
                         move=lambda ids: lifecycle.clear_attention_many(order_ids=ids, now=now))
