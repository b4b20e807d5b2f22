"""Refunds owed by final orders: Partial gives back the undelivered part, Canceled the rest of the charge.

Each refund is once per (order, cause) by the ledger's unique rule, so settling twice, or two workers
settling the same order, moves money once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace

from django.db import transaction
from django.utils import timezone

from accounts.models import LedgerEntry
from accounts.money import ZERO
from notify import events as notify_events
from orders import lifecycle
from orders.charges import RefundWanted, order_refund, orders_refund_bulk
from orders.lifecycle import REFUND_STATUSES
from orders.models import CancelRequest, Order, RequestStage, Stage, Status
from orders.subscriptions import SUBSCRIPTION_END_STATUSES, subscription_charge_posts, subscription_refund_undelivered
from providers.ordertypes import ORDER_TYPES
from providers.pricing import charge_for, refund_units


def partial_refund_amount(order: Order) -> Decimal:
    """The undelivered part at the unit price the buyer paid, never more than what is left of the charge."""
    remains = max(0, min(order.remains or 0, lifecycle.units_ordered(quantity=order.quantity, runs=order.runs)))
    order_type = ORDER_TYPES.get(order.service.type)
    units = refund_units(remains=remains, per_package=order_type is not None and order_type.per_package)
    return min(charge_for(rate=order.rate, units=units), order.charge - order.refunded)


def is_subscription(order: Order) -> bool:
    # Only subscriptions carry a per-post maximum; reading it needs no join to the service.
    return order.sub_max is not None


def order_settle(order: Order) -> LedgerEntry | None:
    """Refund what a final order is owed (nothing for Completed; for subscriptions, the posts not delivered)."""
    if is_subscription(order):
        if not order.sub_posts:
            # Posts the last polls reported but a dead worker did not charge: charged before the order settles.
            subscription_charge_posts(order_id=order.pk, posts_done=order.posts_done or 0)
        if order.status in SUBSCRIPTION_END_STATUSES:
            return subscription_refund_undelivered(order_id=order.pk, posts_done=order.posts_done or 0)
        return None
    if order.status == Status.PARTIAL:
        amount = partial_refund_amount(order)
        cause = LedgerEntry.Cause.PARTIAL
        note = f"Partial: {order.remains} not delivered"
    elif order.status == Status.CANCELED:
        amount = order.charge - order.refunded
        cause = LedgerEntry.Cause.CANCELED
        note = "Canceled upstream"
    else:
        return None
    if amount <= ZERO:
        return None
    return order_refund(order_id=order.pk, amount=amount, cause=cause, note=note)


# What a settlement reads of an order: its money, what was delivered, and what kind of order it is (the
# service's type and, for the refund mail, its name), as `values_list` names them.
SETTLE_COLUMNS = ("id", "customer_id", "service_id", "status", "remains", "quantity", "runs", "rate", "charge",
                  "refunded", "sub_max", "sub_posts", "posts_done", "service__type", "service__name")


def attribute(column: str) -> str:
    """The attribute a row object keeps `column` in ("service__type" -> "service_type")."""
    return column.replace("__", "_")


class SettleRow:
    """An order's SETTLE_COLUMNS as attributes: a plain row, cheaper than a model instance by the thousand."""

    __slots__ = tuple(attribute(c) for c in SETTLE_COLUMNS)

    def __init__(self, values) -> None:
        for name, value in zip(self.__slots__, values, strict=True):
            setattr(self, name, value)

    @property
    def pk(self) -> int:
        return self.id


class _Refunded:
    """What the refund mail needs of an order that was just refunded."""

    def __init__(self, row) -> None:
        self.pk, self.customer_id, self.status = row.pk, row.customer_id, row.status
        self.service = SimpleNamespace(name=row.service_name)


def _refund_wanted(row) -> RefundWanted | None:
    if row.charge - row.refunded <= ZERO:
        return None  # nothing left to give back (refunded only grows; a plain order's charge never does)
    if row.status == Status.PARTIAL:
        remains = max(0, min(row.remains or 0, lifecycle.units_ordered(quantity=row.quantity, runs=row.runs)))
        order_type = ORDER_TYPES.get(row.service_type)
        units = refund_units(remains=remains, per_package=order_type is not None and order_type.per_package)
        amount = charge_for(rate=row.rate, units=units)
        if amount <= ZERO:
            return None
        return RefundWanted(order_id=row.pk, customer_id=row.customer_id, cause=LedgerEntry.Cause.PARTIAL,
                            amount=amount, note=f"Partial: {row.remains} not delivered")
    if row.status == Status.CANCELED:
        return RefundWanted(order_id=row.pk, customer_id=row.customer_id, cause=LedgerEntry.Cause.CANCELED,
                            note="Canceled upstream")
    return None


def orders_settle(*, order_ids: Iterable[int], now: datetime | None = None) -> int:
    """Refund the given final, unsettled orders; mark them settled; close their open cancel requests.

    Returns the number of refunds made, in a fixed number of queries (subscriptions, rare, one by one).
    """
    ids = list(order_ids)
    if not ids:
        return 0
    rows = [SettleRow(values) for values in
            Order.objects.filter(lifecycle.at_stage(Stage.FINAL, Stage.FAILED), pk__in=ids, settled_at__isnull=True)
            .values_list(*SETTLE_COLUMNS)]
    return orders_settle_rows(rows=rows, order_ids=ids, now=now)


def orders_settle_rows(*, rows: list, order_ids: Iterable[int] | None = None, now: datetime | None = None) -> int:
    """Settle final orders the caller has read (objects with the SETTLE_COLUMNS as attributes, unsettled
    when read): the refunds, their settled mark and the closing of their cancels in one transaction, so a
    worker that dies half-way leaves them for `orders_settle_pending`, which moves no money twice."""
    now = now or timezone.now()
    if not rows:
        return 0
    refunded: list[tuple[object, LedgerEntry]] = []
    for row in rows:
        if is_subscription(row):
            entry = order_settle(row)
            if entry is not None:
                refunded.append((row, entry))
    plain = [row for row in rows if not is_subscription(row)]
    wanted = [w for w in (_refund_wanted(row) for row in plain) if w is not None]
    with transaction.atomic():
        entries = orders_refund_bulk(wanted=wanted)
        lifecycle.mark_settled(order_ids=[row.pk for row in rows], now=now)
        cancels_close_for_final_orders(order_ids=order_ids if order_ids is not None else [r.pk for r in rows],
                                       now=now)
    by_id = {row.pk: row for row in plain}
    refunded.extend((by_id[entry.order_id], entry) for entry in entries)
    if refunded:
        notify_events.orders_refunded([(_Refunded(row), entry)
                                       for row, entry in refunded])  # one mail per refund, queued for the batch
    return len(refunded)


def orders_settle_pending(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Settle final orders a previous run left unsettled (a worker died between status and refund)."""
    ids = list(Order.objects.filter(stage__in=[Stage.FINAL, Stage.FAILED], settled_at__isnull=True)
               .values_list("id", flat=True)[:limit])
    return orders_settle(order_ids=ids, now=now)


def cancels_close_for_final_orders(*, order_ids: Iterable[int] | None = None, now: datetime | None = None) -> int:
    """Open cancel requests whose order is final are done: Completed if it ended canceled or partial."""
    now = now or timezone.now()
    open_cancels = CancelRequest.objects.filter(stage__in=[RequestStage.REQUESTED, RequestStage.SENT],
                                                order__stage__in=[Stage.FINAL, Stage.FAILED])
    if order_ids is not None:
        open_cancels = open_cancels.filter(order_id__in=list(order_ids))
    # One read first: most batches have no open cancel at all, and then that read is all it costs.
    found = list(open_cancels.values_list("id", "order__status"))
    if not found:
        return 0
    done = [pk for pk, status in found if status in REFUND_STATUSES]
    refused = [pk for pk, status in found if status not in REFUND_STATUSES]
    closed = 0
    if done:
        closed += open_cancels.filter(pk__in=done).update(
            stage=RequestStage.FINAL, status=CancelRequest.Status.COMPLETED, updated_at=now)
    if refused:
        closed += open_cancels.filter(pk__in=refused).update(
            stage=RequestStage.FINAL, status=CancelRequest.Status.REJECTED, error="The order finished first",
            updated_at=now)
    return closed
