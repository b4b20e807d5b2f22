"""One handler per v2 action. Each takes the authenticated customer and the plain parameters and
returns what is sent back as JSON; a refusal is {"error": "..."} in the words clients parse."""

from __future__ import annotations

import functools
from collections.abc import Callable
from decimal import Decimal

import orjson
from django.conf import settings
from django.db import connection

from accounts.models import Customer
from accounts.money import quantize
from accounts.services import InsufficientFunds
from orders.add_requests import add_request_replay, clean_request_id, fingerprint
from orders.lifecycle import units_ordered
from orders.models import CancelRequest, Order, Refill, Source, Status
from orders.services import cancels_request, order_create, refills_request, service_for_order
from orders.validation import OrderInputError, whole_number
from panel.api.parsing import IncorrectRequest, parse_id, parse_id_list, plain_decimal
from providers.catalogue import catalogue_body
from providers.pricing import discounted_rate
from providers.selectors import services_orderable

INCORRECT_REQUEST = "Incorrect request"
INCORRECT_ORDER_ID = "Incorrect order ID"
INCORRECT_SERVICE_ID = "Incorrect service ID"
REFILL_NOT_FOUND = "Refill not found"
CANCEL_NOT_FOUND = "Cancel not found"
NOT_ENOUGH_FUNDS = "Not enough funds on balance"

Answer = dict | list | bytes  # bytes: a JSON body encoded already


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


def services_list(*, discount_percent: Decimal) -> list[dict]:
    """Every orderable service as the protocol lists it, at the prices of customers with this discount."""
    rows = (
        services_orderable()
        .values_list("id", "name", "type", "category__name", "rate", "min", "max", "refill", "cancel", "dripfeed")
    )
    rates: dict[Decimal, str] = {}  # catalogues repeat a few price points many times

    def rate_text(rate: Decimal) -> str:
        text = rates.get(rate)
        if text is None:
            text = rates[rate] = plain_decimal(discounted_rate(rate=rate, discount_percent=discount_percent))
        return text

    return [
        {"service": pk, "name": name, "type": type_, "category": category, "rate": rate_text(rate),
         "min": str(low), "max": str(high), "refill": refill, "cancel": cancel, "dripfeed": dripfeed}
        for pk, name, type_, category, rate, low, high, refill, cancel, dripfeed in rows
    ]


def action_services(customer: Customer, params: dict[str, str]) -> bytes:
    # The finished JSON body, cached per discount (providers.catalogue): no query while it is current.
    discount = customer.discount_percent
    return catalogue_body(discount_percent=discount,
                          build=lambda: orjson.dumps(services_list(discount_percent=discount)))


# --- add ----------------------------------------------------------------------------------------


def action_add(customer: Customer, params: dict[str, str]) -> Answer:
    try:
        request_id = clean_request_id(params.get("request_id"))
        if request_id is not None:
            # A request sent again gets its order back first, whatever changed since (the service, the balance).
            earlier = add_request_replay(customer_id=customer.pk, request_id=request_id,
                                         fingerprint=fingerprint(params))
            if earlier is not None:
                return {"order": earlier.pk}
    except OrderInputError as exc:
        return _error(exc.message)
    # ASCII digits only, as for order ids: int() alone would also place an order for "６１" or "6_1".
    service_id = whole_number(params.get("service", ""))
    if service_id is None:
        return _error(INCORRECT_SERVICE_ID)
    try:
        service = service_for_order(service_id)
        order = order_create(customer=customer, service=service, data=params, source=Source.API,
                             request_id=request_id)
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


@functools.cache
def _status_sql() -> str:
    """The status read as PostgreSQL takes it: the ids as one array parameter."""
    quote, field = connection.ops.quote_name, Order._meta.get_field
    columns = ", ".join(quote(field(name).column) for name in _STATUS_FIELDS)
    return (f"SELECT {columns} FROM {quote(Order._meta.db_table)} "
            f"WHERE {quote(field('customer').column)} = %s AND {quote(field('id').column)} = ANY(%s)")


def _status_rows(customer_id: int, ids: list[int]) -> dict[int, dict]:
    """The status columns of the customer's orders among `ids`, in one statement.

    Resellers poll this with 100 ids at a time. On PostgreSQL the statement is written once and the ids
    go as one array: building the query through the ORM, and binding a hundred placeholders, cost more
    than running it. The values are those the ORM would give (PostgreSQL needs no converters for these
    columns); elsewhere, the ORM.
    """
    if connection.vendor != "postgresql":
        return {row["id"]: row for row in Order.objects.filter(customer_id=customer_id, pk__in=ids)
                .order_by().values(*_STATUS_FIELDS)}
    with connection.cursor() as cursor:
        cursor.execute(_status_sql(), [customer_id, ids])
        return {row[0]: dict(zip(_STATUS_FIELDS, row, strict=True)) for row in cursor.fetchall()}


def action_status(customer: Customer, params: dict[str, str]) -> Answer:
    one, many = _one_or_many(params, "order", "orders")
    ids = [one] if one is not None else many
    rows = _status_rows(customer.pk, ids)
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
