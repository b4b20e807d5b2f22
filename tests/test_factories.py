"""The factories: users get a cheap password hash in tests, and orders come paid with sound books."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.management import call_command

from accounts.models import LedgerEntry
from accounts.selectors import ledger_problems
from accounts.services import InsufficientFunds, customer_create
from orders.models import Order, Stage, Status
from tests.factories import CustomerFactory, OrderFactory, ServiceFactory

pytestmark = pytest.mark.django_db


def test_test_users_get_the_fast_hasher_and_their_passwords_check():
    customer = CustomerFactory()
    assert customer.user.password.startswith("md5$")
    assert customer.user.check_password("correct-horse-battery")
    created, _key = customer_create(username="made-by-service", password="s3cret-pass-123")
    assert created.user.password.startswith("md5$")
    assert created.user.check_password("s3cret-pass-123")


def test_an_order_comes_paid_with_its_charge_in_the_ledger():
    customer = CustomerFactory(funds="10")
    service = ServiceFactory(rate=Decimal("2.50"))

    order = OrderFactory(customer=customer, service=service, quantity=400)

    assert (order.stage, order.status, order.provider_id) == (Stage.PAID, Status.PENDING, service.provider_id)
    assert (order.rate, order.charge, order.refunded) == (Decimal("2.50"), Decimal("1.00000"), Decimal("0"))
    charges = LedgerEntry.objects.filter(order=order, kind=LedgerEntry.Kind.CHARGE)
    assert [entry.amount for entry in charges] == [Decimal("-1.00000")]
    customer.refresh_from_db()
    assert customer.balance == Decimal("10")  # deposited, then taken
    assert ledger_problems() == []
    call_command("check_ledger")


def test_an_order_can_be_paid_from_the_balance_the_customer_has():
    customer = CustomerFactory(funds="5")
    order = OrderFactory(customer=customer, charge=Decimal("2"), deposit=False, stage=Stage.SENT,
                         status=Status.IN_PROGRESS, upstream_id="77")
    assert order.customer.balance == Decimal("3")
    assert ledger_problems() == []
    with pytest.raises(InsufficientFunds):
        OrderFactory(customer=customer, charge=Decimal("4"), deposit=False)
    assert Order.objects.count() == 1
    assert ledger_problems() == []


def test_a_free_order_has_no_ledger_row():
    order = OrderFactory(charge=Decimal("0"))
    assert not LedgerEntry.objects.filter(order=order).exists()
    assert ledger_problems() == []
