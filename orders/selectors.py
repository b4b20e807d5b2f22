"""Reads about orders, refills and cancels, for the customer's pages.

Every function here runs a fixed number of queries whatever the number of orders, so a customer
with a long history gets pages as fast as a new one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db.models import Count, Exists, F, Max, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_noop as _noop

from accounts.models import Customer
from orders.models import FINAL_STATUSES, CancelRequest, Order, Refill, RequestStage, RequestStatus, Stage, Status
from orders.validation import whole_number

OPEN_STAGES = (RequestStage.REQUESTED, RequestStage.SENT)

# Refusals, in the words customers and v2 clients see (the API answers them in English; pages translate them).
REFILL_NOT_AVAILABLE = _noop("Refill is not available for this service")
REFILL_NOT_YET = _noop("Refill is available only for completed orders")
REFILL_ALREADY_OPEN = _noop("A refill for this order is already in progress")
# The service's refill rules (providers.Service.refill_days, refill_max, refill_cooldown_hours).
REFILL_PERIOD_OVER = _noop("The refill period ended on %(date)s")
REFILL_LIMIT_REACHED = _noop("Refill limit reached: %(max)s per order")
REFILL_WAIT_HOURS = _noop("Refill available in %(hours)s h")
REFILL_WAIT_MINUTES = _noop("Refill available in %(minutes)s min")
CANCEL_NOT_AVAILABLE = "Cancel is not available for this service"
CANCEL_FINISHED = "The order is already finished"
CANCEL_ALREADY_OPEN = "Cancellation request was sent earlier"


class Reason(str):
    """A refusal: the English sentence (what the API answers), which a page shows in the customer's language.

    `available_at` is when the refusal lifts by itself (a refill cooldown), else None.
    """

    template: str
    params: dict[str, object]
    available_at: datetime | None

    def __new__(cls, template: str, *, available_at: datetime | None = None, **params: object) -> Reason:
        reason = super().__new__(cls, template % params if params else template)
        reason.template, reason.params, reason.available_at = template, params, available_at
        return reason

    def localized(self) -> str:
        text = gettext(self.template)
        return text % self.params if self.params else text


@dataclass(frozen=True)
class RefillRecord:
    """What an order's earlier refills mean for the next one."""

    # Refills that count towards the service's maximum: all but those the provider refused or rejected.
    count: int = 0
    # The latest refill request of any kind: the cooldown runs from it.
    last_at: datetime | None = None
    has_open: bool = False


_COUNTED_REFILLS = ~Q(stage=RequestStage.FAILED) & ~Q(status=RequestStatus.REJECTED)


def refill_records(*, order_ids: Iterable[int]) -> dict[int, RefillRecord]:
    """Each order's RefillRecord (orders without refills are left out), in one query."""
    rows = (Refill.objects.filter(order_id__in=list(order_ids)).order_by().values("order_id")
            .annotate(counted=Count("id", filter=_COUNTED_REFILLS), last_at=Max("created_at"),
                      open=Count("id", filter=Q(stage__in=OPEN_STAGES))))
    return {row["order_id"]: RefillRecord(count=row["counted"], last_at=row["last_at"], has_open=row["open"] > 0)
            for row in rows}


def _with_actions(queryset: QuerySet[Order]) -> QuerySet[Order]:
    """Annotate, in the same query, what the per-row buttons and refill notes need: `has_open_refill`,
    `has_open_cancel`, `refill_count` and `last_refill_at` (see RefillRecord)."""
    refills = Refill.objects.filter(order=OuterRef("pk")).order_by()
    return queryset.annotate(
        has_open_refill=Exists(refills.filter(stage__in=OPEN_STAGES)),
        has_open_cancel=Exists(CancelRequest.objects.filter(order=OuterRef("pk"), stage__in=OPEN_STAGES)),
        refill_count=Coalesce(Subquery(refills.filter(_COUNTED_REFILLS).values("order")
                                       .annotate(n=Count("id")).values("n")), 0),
        last_refill_at=Subquery(refills.order_by("-created_at").values("created_at")[:1]),
    )


def _record_of(order: Order, refills: RefillRecord | None, has_open_refill: bool | None) -> RefillRecord:
    if refills is None:
        refills = RefillRecord(count=getattr(order, "refill_count", 0) or 0,
                               last_at=getattr(order, "last_refill_at", None),
                               has_open=getattr(order, "has_open_refill", False))
    if has_open_refill is not None:
        refills = RefillRecord(count=refills.count, last_at=refills.last_at, has_open=has_open_refill)
    return refills


def _wait(until: datetime, now: datetime) -> Reason:
    seconds = max((until - now).total_seconds(), 1)
    if seconds < 3600:
        return Reason(REFILL_WAIT_MINUTES, minutes=math.ceil(seconds / 60), available_at=until)
    return Reason(REFILL_WAIT_HOURS, hours=math.ceil(seconds / 3600), available_at=until)


def refill_refusal(order: Order, *, has_open_refill: bool | None = None, refills: RefillRecord | None = None,
                   now: datetime | None = None) -> Reason | None:
    """Why `order` cannot be refilled now, or None when it can. The button, the API and the service ask here.

    The order's earlier refills come from `refills` (refill_records) where the caller looked them up in a
    batch, else from the annotations of `_with_actions` (none when absent); `has_open_refill` overrides
    the open one. A cooldown's Reason says when it ends ("Refill available in 5 h").
    """
    service = order.service
    if not service.refill:
        return Reason(REFILL_NOT_AVAILABLE)
    if order.status not in (Status.COMPLETED, Status.PARTIAL) or not order.upstream_id:
        return Reason(REFILL_NOT_YET)
    record = _record_of(order, refills, has_open_refill)
    if record.has_open:
        return Reason(REFILL_ALREADY_OPEN)
    now = now or timezone.now()
    if service.refill_days is not None:
        # An order finished before finished_at was recorded counts from when it was placed.
        ends = (order.finished_at or order.created_at) + timedelta(days=service.refill_days)
        if now >= ends:
            return Reason(REFILL_PERIOD_OVER, date=ends.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"))
    if service.refill_max is not None and record.count >= service.refill_max:
        return Reason(REFILL_LIMIT_REACHED, max=service.refill_max)
    if service.refill_cooldown_hours and record.last_at is not None:
        until = record.last_at + timedelta(hours=service.refill_cooldown_hours)
        if now < until:
            return _wait(until, now)
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
