"""Reads about orders, refills and cancels, for the customer's pages.

Every function here runs a fixed number of queries whatever the number of orders, so a customer
with a long history gets pages as fast as a new one.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Sum

from accounts.models import Customer
from orders.models import FINAL_STATUSES, CancelRequest, Order, Refill, RequestStage, Stage, Status
from orders.validation import whole_number

OPEN_STAGES = (RequestStage.REQUESTED, RequestStage.SENT)

# Refusals, in the words customers and v2 clients see.
REFILL_NOT_AVAILABLE = "Refill is not available for this service"
REFILL_NOT_YET = "Refill is available only for completed orders"
REFILL_ALREADY_OPEN = "A refill for this order is already in progress"
CANCEL_NOT_AVAILABLE = "Cancel is not available for this service"
CANCEL_FINISHED = "The order is already finished"
CANCEL_ALREADY_OPEN = "Cancellation request was sent earlier"


def _with_actions(queryset: QuerySet[Order]) -> QuerySet[Order]:
    """Annotate `has_open_refill` / `has_open_cancel` in the same query, for the per-row buttons."""
    return queryset.annotate(
        has_open_refill=Exists(Refill.objects.filter(order=OuterRef("pk"), stage__in=OPEN_STAGES)),
        has_open_cancel=Exists(CancelRequest.objects.filter(order=OuterRef("pk"), stage__in=OPEN_STAGES)),
    )


def refill_refusal(order: Order, *, has_open_refill: bool | None = None) -> str | None:
    """Why `order` cannot be refilled now, or None when it can. The button, the API and the service ask here.

    `has_open_refill` comes from the caller where it already knows (a batch lookup, an annotation);
    otherwise it is read from `order.has_open_refill` and taken as False when absent.
    """
    if not order.service.refill:
        return REFILL_NOT_AVAILABLE
    if order.status not in (Status.COMPLETED, Status.PARTIAL) or not order.upstream_id:
        return REFILL_NOT_YET
    if has_open_refill if has_open_refill is not None else getattr(order, "has_open_refill", False):
        return REFILL_ALREADY_OPEN
    return None


def cancel_refusal(order: Order, *, has_open_cancel: bool | None = None) -> str | None:
    """Why `order` cannot be canceled now, or None when it can (see refill_refusal)."""
    if not order.service.cancel:
        return CANCEL_NOT_AVAILABLE
    if order.status in FINAL_STATUSES or order.stage in (Stage.FINAL, Stage.FAILED):
        return CANCEL_FINISHED
    if has_open_cancel if has_open_cancel is not None else getattr(order, "has_open_cancel", False):
        return CANCEL_ALREADY_OPEN
    return None


def orders_with_open_request(model: type[Refill] | type[CancelRequest], *, order_ids: Iterable[int]) -> set[int]:
    """Ids of the orders that already have a refill (or cancel) waiting to be sent or answered."""
    return set(model.objects.filter(order_id__in=list(order_ids), stage__in=OPEN_STAGES)
               .values_list("order_id", flat=True))


def orders_for_customer(*, customer: Customer, status: str = "", search: str = "") -> QuerySet[Order]:
    """The customer's orders, newest first, optionally of one status and matching `search`.

    `search` matches the order id exactly when it is a number in ASCII digits, else a part of the link.
    """
    queryset = Order.objects.filter(customer=customer)
    if status and status in Status.values:
        queryset = queryset.filter(status=status)
    search = search.strip()
    if "\x00" in search:
        # No stored link holds a NUL (PostgreSQL refuses one in a query at all): nothing matches.
        return _with_actions(queryset.none())
    if search:
        query = Q(link__icontains=search)
        order_id = whole_number(search.removeprefix("#"))  # not isdigit(): "²" passes it and fails int()
        if order_id is not None:
            query |= Q(pk=order_id)
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
