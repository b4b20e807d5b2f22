"""One handler per v2 action. Each takes the authenticated customer and the plain parameters and
returns what is sent back as JSON; a refusal is {"error": "..."} in the words clients parse."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import orjson
from django.conf import settings

from accounts.models import Customer
from accounts.services import InsufficientFunds
from orders.add_requests import add_request_replay, clean_request_id, fingerprint
from orders.models import CancelRequest, Refill, Source
from orders.services import cancels_request, order_create, refills_request, service_for_order
from orders.validation import OrderInputError, whole_number
from panel.api.parsing import IncorrectRequest, parse_id, parse_id_list, plain_decimal
from panel.api.status import status_of, status_rows
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


def action_status(customer: Customer, params: dict[str, str]) -> Answer:
    one, many = _one_or_many(params, "order", "orders")
    ids = [one] if one is not None else many
    rows = status_rows(customer_id=customer.pk, order_ids=ids)
    currency = settings.PANEL_CURRENCY
    if one is not None:
        row = rows.get(one)
        return status_of(row, currency) if row else _error(INCORRECT_ORDER_ID)
    return {str(pk): (status_of(rows[pk], currency) if pk in rows else _error(INCORRECT_ORDER_ID)) for pk in ids}


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
