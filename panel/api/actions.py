"""One handler per v2 action. Each takes the authenticated customer and the plain parameters and
returns what is sent back as JSON; a refusal is {"error": "..."} in the words clients parse."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from django.conf import settings

from accounts.models import Customer
from accounts.money import quantize
from accounts.services import InsufficientFunds
from orders.lifecycle import units_ordered
from orders.models import CancelRequest, Order, Refill, Source, Status
from orders.services import cancels_request, order_create, refills_request, service_for_order
from orders.validation import OrderInputError, whole_number
from panel.api.parsing import IncorrectRequest, parse_id, parse_id_list, plain_decimal
from providers.pricing import discounted_rate
from providers.selectors import services_orderable

INCORRECT_REQUEST = "Incorrect request"
INCORRECT_ORDER_ID = "Incorrect order ID"
INCORRECT_SERVICE_ID = "Incorrect service ID"
REFILL_NOT_FOUND = "Refill not found"
CANCEL_NOT_FOUND = "Cancel not found"
NOT_ENOUGH_FUNDS = "Not enough funds on balance"

Answer = dict | list


def _error(message: str) -> dict:
    return {"error": message}


def _one_or_many(params: dict[str, str], one: str, many: str) -> tuple[int | None, list[int] | None]:
    """The id of `one=ID` or the ids of `many=ID,ID`; the list wins when both are sent."""
    if params.get(many, "").strip():
        return None, parse_id_list(params[many])
    if params.get(one, "").strip():
        return parse_id(params[one]), None
    raise IncorrectRequest(f"Missing {one} or {many}")


# --- services -----------------------------------------------------------------------------------


def action_services(customer: Customer, params: dict[str, str]) -> Answer:
    rows = (
        services_orderable()
        .values_list("id", "name", "type", "category__name", "rate", "min", "max", "refill", "cancel", "dripfeed")
    )
    discount = customer.discount_percent
    rates: dict[Decimal, str] = {}  # catalogues repeat a few price points many times

    def rate_text(rate: Decimal) -> str:
        text = rates.get(rate)
        if text is None:
            text = rates[rate] = plain_decimal(discounted_rate(rate=rate, discount_percent=discount))
        return text

    return [
        {"service": pk, "name": name, "type": type_, "category": category, "rate": rate_text(rate),
         "min": str(low), "max": str(high), "refill": refill, "cancel": cancel, "dripfeed": dripfeed}
        for pk, name, type_, category, rate, low, high, refill, cancel, dripfeed in rows
    ]


# --- add ----------------------------------------------------------------------------------------


def action_add(customer: Customer, params: dict[str, str]) -> Answer:
    # ASCII digits only, as for order ids: int() alone would also place an order for "６１" or "6_1".
    service_id = whole_number(params.get("service", ""))
    if service_id is None:
        return _error(INCORRECT_SERVICE_ID)
    try:
        service = service_for_order(service_id)
        order = order_create(customer=customer, service=service, data=params, source=Source.API)
    except OrderInputError as exc:
        return _error(exc.message)
    except InsufficientFunds:
        return _error(NOT_ENOUGH_FUNDS)
    return {"order": order.pk}


# --- status -------------------------------------------------------------------------------------

_STATUS_FIELDS = ("id", "charge", "refunded", "start_count", "status", "remains", "quantity", "runs", "runs_done",
                  "child_orders", "sub_max", "posts_done", "sub_expiry")


def _subscription_status_of(row: dict, currency: str) -> dict:
    """As the common panels answer for a subscription: posts delivered so far and the expiry date."""
    expiry = row["sub_expiry"]
    return {
        "charge": plain_decimal(quantize(row["charge"] - row["refunded"])),
        "status": row["status"],
        "posts": str(row["posts_done"] or 0),
        "expiry": expiry.strftime("%d/%m/%Y") if expiry else None,
        "currency": currency,
    }


def _status_of(row: dict, currency: str) -> dict:
    if row["sub_max"] is not None:
        return _subscription_status_of(row, currency)
    remains = row["remains"]
    if remains is None:
        # Nothing reported yet: a finished-complete order has nothing left, any other the whole of it.
        remains = 0 if row["status"] == Status.COMPLETED else units_ordered(quantity=row["quantity"], runs=row["runs"])
    answer = {
        "charge": plain_decimal(quantize(row["charge"] - row["refunded"])),
        "start_count": str(row["start_count"] or 0),
        "status": row["status"],
        "remains": str(remains),
        "currency": currency,
    }
    if row["runs"] and row["runs_done"] is not None:
        answer["runs"] = str(row["runs_done"])
        if row["child_orders"]:
            answer["orders"] = [int(c) if c.isascii() and c.isdigit() else c
                                for c in row["child_orders"].split(",")]
    return answer


def action_status(customer: Customer, params: dict[str, str]) -> Answer:
    one, many = _one_or_many(params, "order", "orders")
    ids = [one] if one is not None else many
    rows = {row["id"]: row for row in Order.objects.filter(customer_id=customer.pk, pk__in=ids)
            .order_by().values(*_STATUS_FIELDS)}
    currency = settings.PANEL_CURRENCY
    if one is not None:
        row = rows.get(one)
        return _status_of(row, currency) if row else _error(INCORRECT_ORDER_ID)
    return {str(pk): (_status_of(rows[pk], currency) if pk in rows else _error(INCORRECT_ORDER_ID)) for pk in ids}


# --- refill -------------------------------------------------------------------------------------


def action_refill(customer: Customer, params: dict[str, str]) -> Answer:
    one, many = _one_or_many(params, "order", "orders")
    results = refills_request(customer=customer, order_ids=[one] if one is not None else many)
    if one is not None:
        result = results[one]
        return {"refill": str(result.pk)} if isinstance(result, Refill) else _error(result)
    return [
        {"order": pk, "refill": result.pk if isinstance(result, Refill) else _error(result)}
        for pk, result in ((pk, results[pk]) for pk in many)
    ]


def action_refill_status(customer: Customer, params: dict[str, str]) -> Answer:
    one, many = _one_or_many(params, "refill", "refills")
    ids = [one] if one is not None else many
    statuses = dict(
        Refill.objects.filter(order__customer_id=customer.pk, pk__in=ids).order_by().values_list("id", "status")
    )
    if one is not None:
        return {"status": statuses[one]} if one in statuses else _error(REFILL_NOT_FOUND)
    return [{"refill": pk, "status": statuses.get(pk) or _error(REFILL_NOT_FOUND)} for pk in ids]


# --- cancel -------------------------------------------------------------------------------------


def _cancel_statuses(customer: Customer, raw_ids: str) -> Answer:
    ids = parse_id_list(raw_ids)
    statuses = dict(
        CancelRequest.objects.filter(order__customer_id=customer.pk, pk__in=ids)
        .order_by().values_list("id", "status")
    )
    return [{"cancel": pk, "status": statuses.get(pk) or _error(CANCEL_NOT_FOUND)} for pk in ids]


def action_cancel(customer: Customer, params: dict[str, str]) -> Answer:
    if params.get("cancels", "").strip():
        return _cancel_statuses(customer, params["cancels"])
    one, many = _one_or_many(params, "order", "orders")
    results = cancels_request(customer=customer, order_ids=[one] if one is not None else many)
    if one is not None:
        result = results[one]
        return {"cancel": result.pk} if isinstance(result, CancelRequest) else _error(result)
    answer = []
    for pk in many:
        result = results[pk]
        if isinstance(result, CancelRequest):
            kind = ("subscription" if result.order.sub_max is not None
                    else "dripfeed" if result.order.runs else "order")
            answer.append({"order": pk, "type": kind, "cancel": result.pk})
        else:
            answer.append({"order": pk, "cancel": _error(result)})
    return answer


# --- balance ------------------------------------------------------------------------------------


def action_balance(customer: Customer, params: dict[str, str]) -> Answer:
    return {"balance": plain_decimal(Decimal(customer.balance)), "currency": settings.PANEL_CURRENCY}


ACTIONS: dict[str, Callable[[Customer, dict[str, str]], Answer]] = {
    "services": action_services,
    "add": action_add,
    "status": action_status,
    "refill": action_refill,
    "refill_status": action_refill_status,
    "cancel": action_cancel,
    "balance": action_balance,
}
