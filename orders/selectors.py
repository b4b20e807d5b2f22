"""Reads about orders, refills and cancels, for the customer's pages.

Every function here runs a fixed number of queries whatever the number of orders, so a customer
with a long history gets pages as fast as a new one.
"""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Sum

from accounts.models import Customer
from orders.models import FINAL_STATUSES, CancelRequest, Order, Refill, RequestStage, Stage, Status

OPEN_STAGES = (RequestStage.REQUESTED, RequestStage.SENT)


def _with_actions(queryset: QuerySet[Order]) -> QuerySet[Order]:
    """Annotate `has_open_refill` / `has_open_cancel` in the same query, for the per-row buttons."""
    return queryset.annotate(
        has_open_refill=Exists(Refill.objects.filter(order=OuterRef("pk"), stage__in=OPEN_STAGES)),
        has_open_cancel=Exists(CancelRequest.objects.filter(order=OuterRef("pk"), stage__in=OPEN_STAGES)),
    )


def order_can_refill(order: Order) -> bool:
    """Whether the refill button is shown; refills_request has the last word."""
    return bool(
        order.service.refill
        and order.status in (Status.COMPLETED, Status.PARTIAL)
        and order.upstream_id
        and not getattr(order, "has_open_refill", False)
    )


def order_can_cancel(order: Order) -> bool:
    """Whether the cancel button is shown; cancels_request has the last word."""
    return bool(
        order.service.cancel
        and order.status not in FINAL_STATUSES
        and order.stage not in (Stage.FINAL, Stage.FAILED)
        and not getattr(order, "has_open_cancel", False)
    )


def orders_for_customer(*, customer: Customer, status: str = "", search: str = "") -> QuerySet[Order]:
    """The customer's orders, newest first, optionally of one status and matching `search`.

    `search` matches the order id exactly when it is a number, else a part of the link.
    """
    queryset = Order.objects.filter(customer=customer)
    if status and status in Status.values:
        queryset = queryset.filter(status=status)
    search = search.strip()
    if search:
        query = Q(link__icontains=search)
        if search.lstrip("#").isdigit():
            query |= Q(pk=int(search.lstrip("#")))
        queryset = queryset.filter(query)
    return _with_actions(queryset.select_related("service").order_by("-id"))


def order_for_customer(*, customer: Customer, order_id: int) -> Order | None:
    """One of the customer's orders, or None (also for another customer's order)."""
    return _with_actions(Order.objects.filter(customer=customer, pk=order_id).select_related("service")).first()


def order_status_counts(*, customer: Customer) -> dict[str, int]:
    """How many orders the customer has in each status (statuses with none are left out)."""
    rows = Order.objects.filter(customer=customer).order_by().values("status").annotate(n=Count("id"))
    return {row["status"]: row["n"] for row in rows}


def customer_total_spent(*, customer: Customer) -> Decimal:
    """What the customer's orders cost them in all: charges less refunds."""
    total = Order.objects.filter(customer=customer).aggregate(spent=Sum(F("charge") - F("refunded")))["spent"]
    return Decimal(total or 0)


def refills_for_customer(*, customer: Customer) -> QuerySet[Refill]:
    return Refill.objects.filter(order__customer=customer).select_related("order", "order__service").order_by("-id")


def cancels_for_customer(*, customer: Customer) -> QuerySet[CancelRequest]:
    return (
        CancelRequest.objects.filter(order__customer=customer)
        .select_related("order", "order__service")
        .order_by("-id")
    )
