"""`add` with a `request_id`: the same id again gets the same order, charged once, even when the copies race;
other parameters under the same id are refused; the id is the customer's own and lasts 7 days."""

from __future__ import annotations

import datetime as dt
import io
import threading
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connections
from django.test import Client
from django.utils import timezone

from accounts.models import LedgerEntry
from accounts.selectors import ledger_problems
from orders import add_requests
from orders.models import AddRequest, Order
from tests.api.conftest import answer_of, api_call
from tests.factories import CustomerFactory, ServiceFactory

pytestmark = pytest.mark.django_db

USED = {"error": "request_id already used with different parameters"}


@pytest.fixture(autouse=True)
def _ledger_checked_after(db):
    yield
    call_command("check_ledger", stdout=io.StringIO())


@pytest.fixture
def shop():
    customer = CustomerFactory(funds="10")
    service = ServiceFactory(rate=Decimal("1.00"), min=10, max=1000)
    return customer, service


def _add(api, customer, service, **extra):
    return api(customer.raw_api_key, "add", **{"service": service.pk, "link": "https://x.com/a", "quantity": 100,
                                               **extra})


def test_the_same_request_id_gets_the_same_order_charged_once(api, shop):
    customer, service = shop

    # when the same add is sent three times
    answers = [_add(api, customer, service, request_id="r-1") for _ in range(3)]

    # then one order, one charge
    assert answers[0] == answers[1] == answers[2] == {"order": answers[0]["order"]}
    assert Order.objects.filter(customer=customer).count() == 1
    assert LedgerEntry.objects.filter(customer=customer, kind=LedgerEntry.Kind.CHARGE).count() == 1
    customer.refresh_from_db()
    assert customer.balance == Decimal("9.90")
    call_command("check_ledger")


def test_other_parameters_under_a_used_request_id_are_refused(api, shop):
    customer, service = shop
    first = _add(api, customer, service, request_id="r-2")

    assert _add(api, customer, service, request_id="r-2", quantity=200) == USED
    assert api(customer.raw_api_key, "add", service=service.pk, link="https://x.com/b", quantity=100,
               request_id="r-2") == USED
    assert _add(api, customer, service, request_id="r-3") != first  # another id: another order
    assert Order.objects.filter(customer=customer).count() == 2


def test_request_ids_are_per_customer(api, shop):
    customer, service = shop
    other = CustomerFactory(funds="10")

    mine = _add(api, customer, service, request_id="shared")
    theirs = _add(api, other, service, request_id="shared")

    assert mine != theirs
    assert Order.objects.get(pk=theirs["order"]).customer == other


@pytest.mark.parametrize("bad", ["x" * 65, "has space", "tab\there", "caf\u00e9", "\u0000"])
def test_a_malformed_request_id_is_refused_nothing_charged(api, shop, bad):
    customer, service = shop
    answer = _add(api, customer, service, request_id=bad)
    assert answer == {"error": "Incorrect request_id: 1 to 64 visible ASCII characters"}
    assert not Order.objects.exists()


def test_an_empty_request_id_is_no_request_id(api, shop):
    customer, service = shop
    first, second = _add(api, customer, service, request_id=""), _add(api, customer, service, request_id="")
    assert first != second and not AddRequest.objects.exists()


def test_a_refused_add_leaves_the_request_id_free(api, shop):
    customer, service = shop
    assert _add(api, customer, service, request_id="r-4", quantity=5)["error"].startswith("Quantity less")
    assert "order" in _add(api, customer, service, request_id="r-4")


def test_after_seven_days_the_id_is_free_again(api, shop):
    customer, service = shop
    first = _add(api, customer, service, request_id="weekly")
    AddRequest.objects.update(created_at=timezone.now() - dt.timedelta(days=7, minutes=1))

    again = _add(api, customer, service, request_id="weekly")
    changed = _add(api, customer, service, request_id="weekly", quantity=300)

    assert again != first and changed == USED  # the id now names the new request
    assert AddRequest.objects.get().order_id == again["order"]


def test_the_same_id_in_another_encoding_is_the_same_request(client, shop):
    customer, service = shop
    params = {"key": customer.raw_api_key, "action": "add", "service": service.pk, "link": "https://x.com/a",
              "quantity": 100, "request_id": "enc"}
    answers = [answer_of(api_call(client, encoding, params)) for encoding in ("form", "json", "get")]
    assert answers[0] == answers[1] == answers[2]


def test_the_unique_constraint_is_the_last_word(api, shop, monkeypatch):
    # given: a first request placed its order, and the copy's two look-ups miss it (as a copy racing it would)
    customer, service = shop
    first = _add(api, customer, service, request_id="race")
    real = add_requests.add_request_replay
    misses = iter([None, None])
    monkeypatch.setattr(add_requests, "add_request_replay", lambda **kw: next(misses, None) or real(**kw))
    monkeypatch.setattr("panel.api.actions.add_request_replay", add_requests.add_request_replay)

    # when the copy arrives
    again = _add(api, customer, service, request_id="race")

    # then: the insert of its id is refused, its order and charge roll back, and it answers the first order
    assert again == first
    assert Order.objects.filter(customer=customer).count() == 1
    assert LedgerEntry.objects.filter(customer=customer, kind=LedgerEntry.Kind.CHARGE).count() == 1
    call_command("check_ledger")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_10_concurrent_adds_with_one_request_id_make_one_order_and_one_charge(enqueued):
    # given
    customer = CustomerFactory(funds="10")
    service = ServiceFactory(rate=Decimal("1.00"), min=10, max=1000)
    params = {"key": customer.raw_api_key, "action": "add", "service": service.pk, "link": "https://x.com/a",
              "quantity": 100, "request_id": "same-moment"}
    start = threading.Barrier(10)
    answers: list[dict] = []
    lock = threading.Lock()

    def place() -> None:
        try:
            client = Client()
            start.wait()
            answer = answer_of(api_call(client, "form", params))
            with lock:
                answers.append(answer)
        finally:
            connections.close_all()

    # when
    threads = [threading.Thread(target=place) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then: ten answers naming one order, charged once, sent once
    order = Order.objects.get(customer=customer)
    assert answers == [{"order": order.pk}] * 10
    assert enqueued == [order.pk]
    assert LedgerEntry.objects.filter(customer=customer, kind=LedgerEntry.Kind.CHARGE).count() == 1
    customer.refresh_from_db()
    assert customer.balance == Decimal("9.90")
    assert ledger_problems() == []
    call_command("check_ledger")
