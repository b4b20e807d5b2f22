"""Racing `add`s from one customer: the balance is the only gate, and it holds under real concurrency."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connections
from django.test import Client

from accounts.selectors import ledger_problems
from orders.models import Order
from tests.api.conftest import answer_of, api_call
from tests.factories import CustomerFactory, ServiceFactory


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_20_concurrent_adds_with_funds_for_10_make_exactly_10_orders(enqueued):
    # given a balance that pays for exactly 10 orders of 1.00 each
    customer = CustomerFactory(funds="10")
    service = ServiceFactory(rate=Decimal("10"), min=10, max=1000)
    params = {"key": customer.raw_api_key, "action": "add", "service": service.pk, "link": "https://x.com/a",
              "quantity": 100}
    start = threading.Barrier(20)
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
    threads = [threading.Thread(target=place) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then
    placed = [answer["order"] for answer in answers if "order" in answer]
    refused = [answer for answer in answers if "order" not in answer]
    assert len(placed) == 10
    assert refused == [{"error": "Not enough funds on balance"}] * 10
    assert sorted(Order.objects.values_list("pk", flat=True)) == sorted(placed)
    assert sorted(enqueued) == sorted(placed)
    customer.refresh_from_db()
    assert customer.balance == Decimal("0")
    assert ledger_problems() == []
