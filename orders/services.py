"""Writes on orders that customers start: placing an order, asking for a refill or a cancel.

What the workers do with them upstream lives in orders.pipeline.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts import services as money
from accounts.models import Customer, LedgerEntry
from accounts.money import ZERO
from orders import add_requests, lifecycle, selectors
from orders.charges import lock_customer_then_order, order_refund_rest
from orders.models import CancelRequest, Order, Refill, RequestStage, Source, Stage
from orders.validation import OrderInput, OrderInputError, clean_order_input, whole_number
from panel import rows
from providers.models import Service
from providers.selectors import services_orderable

logger = logging.getLogger(__name__)

INCORRECT_ORDER_ID = "Incorrect order ID"


def _enqueue_send(order_id: int) -> None:
    from orders.tasks import order_send_task

    order_send_task.delay(order_id)


def service_for_order(service_id: object) -> Service:
    """The orderable service a customer asked for, or OrderInputError("Incorrect service ID")."""
    pk = whole_number(service_id)
    if pk is None:
        raise OrderInputError("Incorrect service ID", field="service")
    # The API's hot path: the query compiled once (building it cost more than running it).
    service = rows.read_one(_orderable, pk)
    if service is None:
        raise OrderInputError("Incorrect service ID", field="service")
    return service


def _orderable(pk: int) -> QuerySet[Service]:
    # No ORDER BY: the catalogue's ordering joins the category, for one row by its key.
    return services_orderable().filter(pk=pk).order_by()


def order_create(
    *,
    customer: Customer,
    service: Service,
    data: Mapping[str, object],
    source: str = Source.API,
    request_id: str | None = None,
) -> Order:
    """Validate, charge and store one order; its sending is enqueued once the transaction commits.

    Raises OrderInputError (bad field) or accounts.services.InsufficientFunds; then nothing is
    charged or stored. With `request_id` (the customer's name for this request, orders.add_requests): the
    order an earlier request with that id made, if any, and nothing charged, whatever copy comes first;
    RequestIdReused when that request asked for something else.
    """
    cleaned: OrderInput = clean_order_input(service=service, data=data, discount_percent=customer.discount_percent)
    asked = add_requests.fingerprint(data) if request_id else ""
    try:
        return _order_create(customer=customer, service=service, cleaned=cleaned, source=source,
                             request_id=request_id, fingerprint=asked)
    except IntegrityError:
        # Another copy of the request inserted its id first (the unique constraint, not the lock, is the
        # guarantee): this copy's order and charge were rolled back with its block; the answer is the first's.
        earlier = request_id and add_requests.add_request_replay(customer_id=customer.pk, request_id=request_id,
                                                                 fingerprint=asked)
        if not earlier:
            raise
        return earlier


def _order_create(*, customer: Customer, service: Service, cleaned: OrderInput, source: str,
                  request_id: str | None, fingerprint: str) -> Order:
    if connection.vendor == "postgresql" and not request_id and cleaned.charge > ZERO:
        return _order_create_one_statement(customer=customer, service=service, cleaned=cleaned, source=source)
    with transaction.atomic():
        locked = money.lock_customer(customer.pk)
        if request_id:
            # Under the customer's lock: a copy of this request that took it first has committed by now.
            earlier = add_requests.add_request_replay(customer_id=customer.pk, request_id=request_id,
                                                      fingerprint=fingerprint)
            if earlier is not None:
                return earlier
        if locked.balance < cleaned.charge:
            raise money.InsufficientFunds(needed=cleaned.charge, available=locked.balance)
        # Created paid and Pending (the model's defaults: the lifecycle's first stage), charged in the same
        # transaction under the customer's lock; the order row is new, so no order lock is needed.
        order = Order.objects.create(
            customer=locked,
            service=service,
            provider_id=service.provider_id,
            source=source,
            quantity=cleaned.quantity,
            rate=cleaned.rate,
            charge=cleaned.charge,
            **cleaned.values,
        )
        if cleaned.charge > ZERO:
            money.balance_charge(customer=locked, order_id=order.pk, amount=cleaned.charge)
        if request_id:
            add_requests.add_request_record(customer_id=locked.pk, request_id=request_id, fingerprint=fingerprint,
                                            order=order)
        # Robust: the order is committed and paid by then; a broker hiccup must not turn the answer
        # into an error (the client would think nothing was ordered); the order stays paid for a worker to find.
        transaction.on_commit(lambda: _enqueue_send(order.pk), robust=True)
    customer.balance = locked.balance
    return order


def _order_create_one_statement(*, customer: Customer, service: Service, cleaned: OrderInput,
                                source: str) -> Order:
    """The same order, charge and ledger row as `_order_create`, written in one statement (PostgreSQL):
    the common `add`, with nothing to check under the lock but the balance."""
    order = Order(customer_id=customer.pk, service=service, provider_id=service.provider_id, source=source,
                  quantity=cleaned.quantity, rate=cleaned.rate, charge=cleaned.charge, **cleaned.values)
    columns, values = rows.insert_columns(order)
    order.pk, customer.balance = money.balance_charge_new_order(
        customer_id=customer.pk, amount=cleaned.charge, order_columns=columns, order_values=values)
    order._state.adding, order._state.db = False, connection.alias
    # As in `_order_create`: sent once the order is committed (with the statement, or with the caller's
    # transaction around it), paid.
    transaction.on_commit(lambda: _enqueue_send(order.pk), robust=True)
    return order


def _owned_orders(*, customer: Customer, order_ids: Iterable[int]) -> dict[int, Order]:
    return {
        o.pk: o
        for o in Order.objects.filter(customer=customer, pk__in=list(order_ids)).select_related("service")
    }


def refills_request(*, customer: Customer, order_ids: list[int], now: datetime | None = None,
                    ) -> dict[int, Refill | str]:
    """Ask for a refill of each order. Returns, per id, the new Refill or why it was refused
    (a selectors.Reason: the service's refill rules included).

    A fixed number of queries whatever the number of ids (at most 100 from the API).
    """
    now = now or timezone.now()
    order_ids = list(dict.fromkeys(order_ids))  # a repeated id must not refuse the refill it just made
    orders = _owned_orders(customer=customer, order_ids=order_ids)
    records = selectors.refill_records(order_ids=orders)
    results: dict[int, Refill | str] = {}
    to_create: list[Refill] = []
    for order_id in order_ids:
        order = orders.get(order_id)
        if order is None:
            results[order_id] = INCORRECT_ORDER_ID
        elif refusal := selectors.refill_refusal(order, refills=records.get(order_id), now=now):
            results[order_id] = refusal
        else:
            refill = Refill(order=order)
            to_create.append(refill)
            results[order_id] = refill
    _create_open_requests(to_create, results, selectors.Reason(selectors.REFILL_ALREADY_OPEN))
    return results


def cancels_request(*, customer: Customer, order_ids: list[int]) -> dict[int, CancelRequest | str]:
    """Ask to cancel each order. Returns, per id, the CancelRequest or why it was refused.

    An order still waiting for a worker is canceled here and now, with a full refund; one already
    upstream gets a CancelRequest that the pipeline sends, and the refund follows the upstream's answer.
    """
    order_ids = list(dict.fromkeys(order_ids))
    orders = _owned_orders(customer=customer, order_ids=order_ids)
    open_cancels = selectors.orders_with_open_request(CancelRequest, order_ids=orders)
    results: dict[int, CancelRequest | str] = {}
    to_create: list[CancelRequest] = []
    for order_id in order_ids:
        order = orders.get(order_id)
        if order is None:
            results[order_id] = INCORRECT_ORDER_ID
        elif refusal := selectors.cancel_refusal(order, has_open_cancel=order_id in open_cancels):
            results[order_id] = refusal
        elif order.stage == Stage.PAID and (done := _cancel_unsent_with_request(order)):
            results[order_id] = done
        elif order.stage in (Stage.PAID, Stage.SENDING, Stage.UNKNOWN) and not order.upstream_id:
            results[order_id] = "The order is being sent to the provider; try again in a minute"
        else:
            cancel = CancelRequest(order=order)
            to_create.append(cancel)
            results[order_id] = cancel
            open_cancels.add(order_id)
    _create_open_requests(to_create, results, selectors.CANCEL_ALREADY_OPEN)
    return results


def _cancel_unsent_with_request(order: Order) -> CancelRequest | None:
    """Cancel an unclaimed order and record the (already completed) cancel request, all or nothing."""
    with transaction.atomic():
        if not order_cancel_unsent(order_id=order.pk):
            return None
        return CancelRequest.objects.create(order=order, status=CancelRequest.Status.COMPLETED,
                                            stage=RequestStage.FINAL)


def _create_open_requests(requests: list, results: dict, refused: str) -> None:
    """Insert new refill/cancel requests in one statement; one that lost a race is refused, not a crash."""
    if not requests:
        return
    try:
        with transaction.atomic():
            type(requests[0]).objects.bulk_create(requests)
        return
    except IntegrityError:
        # Another request for one of these orders was opened since we looked (a double click, two
        # clients): the one-open-request-per-order constraint refused the batch. Insert one by one.
        pass
    for request in requests:
        try:
            with transaction.atomic():
                request.save(force_insert=True)
        except IntegrityError:
            results[request.order_id] = refused


def order_cancel_unsent(*, order_id: int, note: str = "Canceled before it was sent") -> bool:
    """Cancel an order no worker has claimed yet and refund it in full. False if a worker got there first.

    The claim and the refund are one transaction: an order is never left canceled without its refund.
    """
    now = timezone.now()
    with transaction.atomic():
        lock_customer_then_order(order_id)
        # The conditional update is the claim: a worker claims with paid -> sending, so only one of us wins.
        if not lifecycle.cancel(order_id=order_id, now=now, sources=(Stage.PAID,), note=note):
            return False
        order_refund_rest(order_id=order_id, cause=LedgerEntry.Cause.CANCELED, note=note)
        lifecycle.mark_settled(order_ids=[order_id], now=now)
    return True
