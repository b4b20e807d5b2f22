"""Refunds owed by final orders: Partial gives back the undelivered part, Canceled the rest of the charge.

Each refund is once per (order, cause) by the ledger's unique rule, so settling twice, or two workers
settling the same order, moves money once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from django.db.models import Q
from django.utils import timezone

from accounts.models import LedgerEntry
from accounts.money import ZERO
from orders import lifecycle
from orders.charges import order_refund
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


def orders_settle(*, order_ids: Iterable[int], now: datetime | None = None) -> int:
    """Refund the given final, unsettled orders; mark them settled; close their open cancel requests.

    Returns the number of refunds made. The refunds are one transaction each (per order by nature);
    the rest is a fixed number of queries.
    """
    now = now or timezone.now()
    ids = list(order_ids)
    if not ids:
        return 0
    orders = list(Order.objects.filter(pk__in=ids, stage__in=[Stage.FINAL, Stage.FAILED], settled_at__isnull=True)
                  .select_related("service").only("id", "status", "remains", "quantity", "runs", "rate", "charge",
                                                  "refunded", "sub_max", "sub_posts", "posts_done", "service__type"))
    refunds = 0
    for order in orders:
        if order_settle(order) is not None:
            refunds += 1
    lifecycle.mark_settled(order_ids=[o.pk for o in orders], now=now)
    cancels_close_for_final_orders(order_ids=ids, now=now)
    return refunds


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
    done = open_cancels.filter(Q(order__status__in=REFUND_STATUSES)).update(
        stage=RequestStage.FINAL, status=CancelRequest.Status.COMPLETED, updated_at=now)
    refused = open_cancels.exclude(Q(order__status__in=REFUND_STATUSES)).update(
        stage=RequestStage.FINAL, status=CancelRequest.Status.REJECTED, error="The order finished first",
        updated_at=now)
    return done + refused
