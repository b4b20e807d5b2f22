from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from accounts import services
from accounts.models import LedgerEntry
from accounts.selectors import ledger_problems
from orders.charges import order_charge, order_refund
from orders.models import Order
from tests.factories import CustomerFactory, ServiceFactory

pytestmark = pytest.mark.django_db


def make_order(customer, *, charge: str) -> Order:
    # given an order charged through the ledger, as order creation does it
    service = ServiceFactory()
    with transaction.atomic():
        order = Order.objects.create(customer=customer, service=service, provider=service.provider,
                                     link="https://example.com/p", quantity=1000, rate=Decimal("1.2"))
        order_charge(order_id=order.pk, amount=Decimal(charge))
    order.refresh_from_db()
    return order


def test_deposit_credits_balance_and_writes_one_ledger_row():
    customer = CustomerFactory()

    entry = services.balance_deposit(customer_id=customer.pk, amount="12.50000", note="bank transfer")

    customer.refresh_from_db()
    assert customer.balance == Decimal("12.5")
    assert entry.kind == LedgerEntry.Kind.DEPOSIT
    assert entry.balance_after == Decimal("12.5")
    assert list(customer.ledger.values_list("amount", flat=True)) == [Decimal("12.5")]


@pytest.mark.parametrize("amount", ["0", "-1", "0.000001", "NaN"])
def test_deposit_refuses_nonsense_amounts(amount):
    customer = CustomerFactory()

    with pytest.raises(services.MoneyError):
        services.balance_deposit(customer_id=customer.pk, amount=amount)

    assert customer.ledger.count() == 0


def test_charge_takes_money_and_records_it_on_the_order():
    customer = CustomerFactory(funds="5")

    order = make_order(customer, charge="1.2")

    customer.refresh_from_db()
    assert customer.balance == Decimal("3.8")
    assert order.charge == Decimal("1.2")
    assert customer.ledger.filter(kind="charge", order=order).get().amount == Decimal("-1.2")


def test_charge_beyond_balance_raises_and_changes_nothing():
    customer = CustomerFactory(funds="1")

    with pytest.raises(services.InsufficientFunds):
        make_order(customer, charge="1.00001")

    customer.refresh_from_db()
    assert customer.balance == Decimal("1")
    assert Order.objects.count() == 0
    assert customer.ledger.count() == 1


def test_second_charge_for_same_order_is_refused_by_the_database():
    customer = CustomerFactory(funds="5")
    order = make_order(customer, charge="1")

    with pytest.raises(IntegrityError), transaction.atomic():
        order_charge(order_id=order.pk, amount=Decimal("1"))

    customer.refresh_from_db()
    assert customer.balance == Decimal("4")


def test_refund_is_once_per_cause_and_capped_at_the_charge():
    customer = CustomerFactory(funds="5")
    order = make_order(customer, charge="2")

    first = order_refund(order_id=order.pk, amount=Decimal("0.5"), cause="partial")
    again = order_refund(order_id=order.pk, amount=Decimal("0.5"), cause="partial")
    rest = order_refund(order_id=order.pk, amount=Decimal("99"), cause="canceled")

    assert first.amount == Decimal("0.5")
    assert again is None
    assert rest.amount == Decimal("1.5")  # capped: only what was charged and not yet refunded
    order.refresh_from_db()
    customer.refresh_from_db()
    assert order.refunded == Decimal("2")
    assert customer.balance == Decimal("5")
    assert ledger_problems() == []


def test_second_refund_row_for_same_cause_is_refused_by_the_database_not_only_the_code():
    customer = CustomerFactory(funds="5")
    order = make_order(customer, charge="2")
    order_refund(order_id=order.pk, amount=Decimal("1"), cause="partial")

    # when a writer bypasses the service and inserts a duplicate refund row directly
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(customer=customer, amount=Decimal("1"), kind="refund", cause="partial",
                                   order=order, balance_after=Decimal("5"))


def test_balance_can_never_be_stored_below_zero():
    customer = CustomerFactory(funds="1")
    customer.balance = Decimal("-0.00001")

    with pytest.raises(IntegrityError), transaction.atomic():
        customer.save(update_fields=["balance"])


def test_adjustment_needs_a_note_and_cannot_go_below_zero():
    customer = CustomerFactory(funds="1")

    with pytest.raises(services.MoneyError):
        services.balance_adjust(customer_id=customer.pk, amount="-0.5", note=" ")
    with pytest.raises(services.InsufficientFunds):
        services.balance_adjust(customer_id=customer.pk, amount="-2", note="chargeback")
    services.balance_adjust(customer_id=customer.pk, amount="-0.25", note="chargeback")

    customer.refresh_from_db()
    assert customer.balance == Decimal("0.75")


def test_ledger_rows_are_append_only():
    customer = CustomerFactory(funds="1")
    entry = customer.ledger.get()

    with pytest.raises(ValueError):
        entry.save()
    with pytest.raises(ValueError):
        entry.delete()


def test_payment_request_credits_exactly_once():
    customer = CustomerFactory()
    request = services.payment_request_create(customer_id=customer.pk, amount="20", method="Bank", reference="TX1")

    assert services.payment_request_approve(payment_request_id=request.pk) is True
    assert services.payment_request_approve(payment_request_id=request.pk) is False
    assert services.payment_request_reject(payment_request_id=request.pk) is False

    customer.refresh_from_db()
    assert customer.balance == Decimal("20")
    assert customer.ledger.count() == 1


def test_api_key_is_stored_as_digest_and_rotation_revokes_the_old_key():
    from accounts.selectors import customer_by_api_key

    customer = CustomerFactory()
    old_key = customer.raw_api_key
    assert old_key not in (customer.api_key_digest, customer.api_key_prefix)
    assert customer_by_api_key(old_key) == customer

    new_key = services.api_key_generate(customer=customer)

    assert customer_by_api_key(new_key) == customer
    assert customer_by_api_key(old_key) is None
    assert customer_by_api_key(new_key[:-1] + ("0" if new_key[-1] != "0" else "1")) is None


def test_inactive_customer_key_is_refused():
    from accounts.selectors import customer_by_api_key

    customer = CustomerFactory()
    customer.is_active = False
    customer.save()

    assert customer_by_api_key(customer.raw_api_key) is None
