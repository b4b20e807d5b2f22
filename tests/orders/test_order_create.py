"""order_create, refills_request and cancels_request: what is stored, charged and enqueued."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.models import LedgerEntry
from accounts.selectors import ledger_problems
from accounts.services import InsufficientFunds
from orders.models import CancelRequest, Order, Refill, RequestStage, Source, Stage, Status
from orders.services import (
    _create_open_requests,
    cancels_request,
    order_cancel_unsent,
    order_create,
    refills_request,
    service_for_order,
)
from orders.validation import OrderInputError
from tests.factories import CustomerFactory, ServiceFactory

pytestmark = pytest.mark.django_db

DATA = {"link": "https://instagram.com/p/abc", "quantity": "100"}


def _sent(order: Order, **fields) -> Order:
    Order.objects.filter(pk=order.pk).update(upstream_id=f"u{order.pk}", stage=Stage.SENT, **fields)
    order.refresh_from_db()
    return order


def test_order_create_charges_stores_and_enqueues_on_commit(django_capture_on_commit_callbacks):
    # given
    customer = CustomerFactory(funds="5", discount_percent=Decimal("50"))
    service = ServiceFactory(rate=Decimal("4"))

    # when
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        order = order_create(customer=customer, service=service, data=DATA, source=Source.WEB)

    # then
    order.refresh_from_db()
    assert (order.rate, order.charge, order.status, order.stage, order.source) == (
        Decimal("2"), Decimal("0.2"), Status.PENDING, Stage.PAID, Source.WEB)
    assert (order.provider_id, order.link, order.quantity) == (service.provider_id, DATA["link"], 100)
    assert customer.balance == Decimal("4.8")
    entry = LedgerEntry.objects.get(kind=LedgerEntry.Kind.CHARGE)
    assert (entry.order_id, entry.amount) == (order.pk, Decimal("-0.2"))
    assert len(callbacks) == 1
    assert ledger_problems() == []


def test_order_create_enqueues_the_sending_task_with_the_orders_id(django_capture_on_commit_callbacks, monkeypatch):
    # given
    sent: list[int] = []
    monkeypatch.setattr("orders.services._enqueue_send", sent.append)
    customer = CustomerFactory(funds="5")

    # when
    with django_capture_on_commit_callbacks(execute=True):
        order = order_create(customer=customer, service=ServiceFactory(), data=DATA)

    # then
    assert sent == [order.pk]


def test_order_create_refused_for_funds_stores_nothing(django_capture_on_commit_callbacks):
    # given
    customer = CustomerFactory(funds="0.1")
    service = ServiceFactory(rate=Decimal("2"))

    # when
    with django_capture_on_commit_callbacks(execute=False) as callbacks, pytest.raises(InsufficientFunds):
        order_create(customer=customer, service=service, data=DATA)

    # then
    customer.refresh_from_db()
    assert customer.balance == Decimal("0.1")
    assert not Order.objects.exists()
    assert callbacks == []


def test_order_create_refused_for_input_stores_nothing():
    # given
    customer = CustomerFactory(funds="5")

    # when
    with pytest.raises(OrderInputError, match="Quantity less than minimal 10"):
        order_create(customer=customer, service=ServiceFactory(), data={**DATA, "quantity": "1"})

    # then
    assert not Order.objects.exists()
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.CHARGE).count() == 0


def test_order_create_takes_subscriptions_without_posts_charging_nothing_up_front():
    customer = CustomerFactory(funds="5")
    service = ServiceFactory(type="Subscriptions", min=10, max=1000)
    order = order_create(customer=customer, service=service,
                         data={"username": "someone", "min": "10", "max": "20", "delay": "0"})
    assert (order.sub_posts, order.sub_max, order.charge) == (None, 20, Decimal("0"))
    assert not LedgerEntry.objects.filter(order=order).exists()


def test_order_create_free_service_charges_nothing():
    customer = CustomerFactory()
    order = order_create(customer=customer, service=ServiceFactory(rate=Decimal("0")), data=DATA)
    assert order.charge == Decimal("0")
    assert not LedgerEntry.objects.exists()


@pytest.mark.parametrize("raw", ["", "x", "999999", " 12x"])
def test_service_for_order_refuses_unknown_ids(raw):
    with pytest.raises(OrderInputError, match="^Incorrect service ID$"):
        service_for_order(raw)


def test_service_for_order_accepts_padded_ids_and_refuses_inactive_ones():
    active = ServiceFactory()
    inactive = ServiceFactory(is_active=False)
    assert service_for_order(f" {active.pk} ") == active
    with pytest.raises(OrderInputError):
        service_for_order(inactive.pk)


def test_refills_request_repeated_id_makes_one_refill():
    # given
    customer = CustomerFactory(funds="5")
    order = _sent(order_create(customer=customer, service=ServiceFactory(refill=True), data=DATA),
                  status=Status.COMPLETED)

    # when
    results = refills_request(customer=customer, order_ids=[order.pk, order.pk])

    # then
    refill = Refill.objects.get()
    assert results == {order.pk: refill}


def test_refills_request_refuses_other_customers_orders():
    owner, other = CustomerFactory(funds="5"), CustomerFactory()
    order = _sent(order_create(customer=owner, service=ServiceFactory(refill=True), data=DATA),
                  status=Status.COMPLETED)
    assert refills_request(customer=other, order_ids=[order.pk]) == {order.pk: "Incorrect order ID"}
    assert not Refill.objects.exists()


def test_a_request_that_lost_a_race_is_refused_not_a_crash():
    # given an open refill created after the caller looked (another client, a double click)
    customer = CustomerFactory(funds="5")
    service = ServiceFactory(refill=True)
    raced = _sent(order_create(customer=customer, service=service, data=DATA), status=Status.COMPLETED)
    free = _sent(order_create(customer=customer, service=service, data=DATA), status=Status.COMPLETED)
    Refill.objects.create(order=raced)
    new = [Refill(order=raced), Refill(order=free)]
    results = {raced.pk: new[0], free.pk: new[1]}

    # when
    _create_open_requests(new, results, "A refill for this order is already in progress")

    # then
    assert results[raced.pk] == "A refill for this order is already in progress"
    assert Refill.objects.filter(order=free).count() == 1
    assert Refill.objects.filter(order=raced).count() == 1


def test_cancel_of_an_unsent_order_refunds_it_in_full_at_once():
    # given a drip-feed order no worker has claimed
    customer = CustomerFactory(funds="5")
    order = order_create(customer=customer, service=ServiceFactory(cancel=True, dripfeed=True, rate=Decimal("10")),
                         data={**DATA, "runs": "3", "interval": "5"})

    # when
    results = cancels_request(customer=customer, order_ids=[order.pk])

    # then
    cancel = CancelRequest.objects.get()
    assert results == {order.pk: cancel}
    assert (cancel.status, cancel.stage) == (CancelRequest.Status.COMPLETED, RequestStage.FINAL)
    order.refresh_from_db()
    assert (order.status, order.stage, order.remains, order.refunded) == (
        Status.CANCELED, Stage.FINAL, 300, Decimal("3"))
    customer.refresh_from_db()
    assert customer.balance == Decimal("5")
    assert ledger_problems() == []


def test_cancel_unsent_loses_to_a_worker_that_claimed_the_order():
    customer = CustomerFactory(funds="5")
    order = order_create(customer=customer, service=ServiceFactory(cancel=True), data=DATA)
    Order.objects.filter(pk=order.pk).update(stage=Stage.SENDING)

    assert order_cancel_unsent(order_id=order.pk) is False
    assert cancels_request(customer=customer, order_ids=[order.pk]) == {
        order.pk: "The order is being sent to the provider; try again in a minute"}
    assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFUND).exists()


def test_cancel_of_a_sent_order_opens_a_request_for_the_pipeline():
    customer = CustomerFactory(funds="5")
    order = _sent(order_create(customer=customer, service=ServiceFactory(cancel=True), data=DATA),
                  status=Status.IN_PROGRESS)

    results = cancels_request(customer=customer, order_ids=[order.pk, order.pk])

    cancel = CancelRequest.objects.get()
    assert results == {order.pk: cancel}
    assert (cancel.stage, cancel.status) == (RequestStage.REQUESTED, CancelRequest.Status.PENDING)
    order.refresh_from_db()
    assert order.refunded == Decimal("0")
