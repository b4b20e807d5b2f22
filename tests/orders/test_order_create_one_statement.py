"""On PostgreSQL the common order (charged, no request_id) is written in one statement: it must write the
same order, balance and ledger row as the transaction the other cases go through."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db.models import Sum

from accounts.models import LedgerEntry
from accounts.selectors import ledger_problems
from accounts.services import InsufficientFunds
from orders.models import Order, Stage, Status
from orders.services import order_create
from tests.factories import CustomerFactory, ServiceFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

# Not compared: the keys, and the moments each row was written.
_NOT_COMPARED = {"id", "created_at", "updated_at"}


def _order_row(order_id: int) -> dict:
    row = Order.objects.filter(pk=order_id).values().get()
    return {name: value for name, value in row.items() if name not in _NOT_COMPARED}


def _ledger_row(order_id: int) -> dict:
    row = LedgerEntry.objects.filter(order_id=order_id).values().get()
    return {name: value for name, value in row.items() if name not in _NOT_COMPARED | {"order_id", "balance_after"}}


def test_one_statement_writes_what_the_transaction_writes(django_capture_on_commit_callbacks):
    # given: two customers with the same funds; a request_id sends one through the transaction
    service = ServiceFactory(rate=Decimal("2.5"), min=10, max=1000)
    one, other = CustomerFactory(funds="10"), CustomerFactory(funds="10")
    data = {"link": "https://x.com/a", "quantity": "300", "comments": ""}

    # when
    with django_capture_on_commit_callbacks(execute=False) as sends:
        quick = order_create(customer=one, service=service, data=data)
        usual = order_create(customer=other, service=service, data=data, request_id="r-1")

    # then: the same rows but for whose they are
    quick_row, usual_row = _order_row(quick.pk), _order_row(usual.pk)
    assert quick_row.pop("customer_id") == one.pk and usual_row.pop("customer_id") == other.pk
    assert quick_row == usual_row
    assert quick_row["stage"] == Stage.PAID and quick_row["status"] == Status.PENDING
    quick_entry, usual_entry = _ledger_row(quick.pk), _ledger_row(usual.pk)
    assert quick_entry.pop("customer_id") == one.pk and usual_entry.pop("customer_id") == other.pk
    assert quick_entry == usual_entry
    assert LedgerEntry.objects.get(order_id=quick.pk).balance_after == Decimal("9.25")
    # and the instance given back is the stored row, its sending enqueued once it commits
    one.refresh_from_db()
    assert one.balance == Decimal("9.25") and quick.charge == Decimal("0.75") and not quick._state.adding
    assert Order.objects.get(pk=quick.pk).created_at == quick.created_at
    assert len(sends) == 2
    assert ledger_problems() == []


def test_a_balance_short_of_the_charge_writes_nothing():
    # given
    service = ServiceFactory(rate=Decimal("10"), min=10, max=1000)
    customer = CustomerFactory(funds="0.99")

    # when
    with pytest.raises(InsufficientFunds) as refused:
        order_create(customer=customer, service=service, data={"link": "https://x.com/a", "quantity": "100"})

    # then
    assert (refused.value.needed, refused.value.available) == (Decimal("1.00"), Decimal("0.99"))
    assert not Order.objects.exists()
    customer.refresh_from_db()
    assert customer.balance == Decimal("0.99")
    assert LedgerEntry.objects.filter(customer=customer).aggregate(total=Sum("amount"))["total"] == Decimal("0.99")


def test_the_exact_balance_pays_and_leaves_zero():
    # given
    service = ServiceFactory(rate=Decimal("10"), min=10, max=1000)
    customer = CustomerFactory(funds="1")

    # when
    order = order_create(customer=customer, service=service, data={"link": "https://x.com/a", "quantity": "100"})

    # then
    customer.refresh_from_db()
    assert customer.balance == Decimal("0") and order.charge == Decimal("1")
    assert ledger_problems() == []
