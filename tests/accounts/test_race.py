"""Twenty threads charge one customer whose balance covers ten charges (PostgreSQL row locks)."""

import threading
from decimal import Decimal

import pytest
from django.db import connection, transaction

from accounts import services
from accounts.models import Customer
from accounts.selectors import ledger_problems
from orders.charges import order_charge
from orders.models import Order
from tests.factories import CustomerFactory, ServiceFactory


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_charges_against_ten_charges_of_funds():
    # given a balance that covers exactly ten charges of 0.3
    customer = CustomerFactory(funds="3")
    service = ServiceFactory()
    start = threading.Barrier(20)
    outcomes: list[str] = []
    lock = threading.Lock()

    def charge_once():
        try:
            start.wait()
            with transaction.atomic():
                order = Order.objects.create(customer=customer, service=service, provider=service.provider,
                                             link="https://example.com/x", quantity=100, rate=Decimal("3"))
                order_charge(order_id=order.pk, amount=Decimal("0.3"))
            result = "ok"
        except services.InsufficientFunds:
            result = "refused"
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    # when twenty threads charge at once
    threads = [threading.Thread(target=charge_once) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    # then exactly ten succeed and the balance ends at exactly zero
    assert sorted(outcomes) == ["ok"] * 10 + ["refused"] * 10
    customer = Customer.objects.get(pk=customer.pk)
    assert customer.balance == Decimal("0")
    assert Order.objects.count() == 10
    assert min(customer.ledger.values_list("balance_after", flat=True)) >= 0
    assert ledger_problems() == []
