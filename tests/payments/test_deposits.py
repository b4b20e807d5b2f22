"""Money in, whatever the gateway: quotes (fee, bonus, conversion), exactly one credit per deposit, review."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from accounts import deposits
from accounts.gateways import Outcome, PaymentState
from accounts.models import BonusTier, Deposit, Gateway, LedgerEntry
from accounts.selectors import ledger_problems
from accounts.services import MoneyError
from audit.models import AuditEntry
from providers.models import ExchangeRate
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.usefixtures("ledger_checked")


def _gateway(**fields) -> Gateway:
    defaults = {"name": "card", "kind": "stripe", "currency": "USD", "min_amount": Decimal("1"),
                "max_amount": Decimal("1000"), "credentials": {"secret_key": "x", "webhook_secret": "y"}}
    return Gateway.objects.create(**{**defaults, **fields})


def _deposit(customer, gateway, amount="10", reference="ref-1") -> Deposit:
    quote = deposits.deposit_quote(gateway=gateway, amount=amount)
    return Deposit.objects.create(customer=customer, gateway=gateway, amount=quote.amount, pay_amount=quote.pay_amount,
                                  currency=quote.currency, fee=quote.fee, exchange_rate=quote.exchange_rate,
                                  credit_amount=quote.credit_amount, bonus=quote.bonus, reference=reference,
                                  status=Deposit.Status.PENDING)


def _paid(deposit: Deposit, amount=None, currency=None) -> PaymentState:
    return PaymentState(outcome=Outcome.PAID, reference=deposit.reference, deposit_id=deposit.pk,
                        amount=deposit.pay_amount if amount is None else Decimal(amount),
                        currency=currency or deposit.currency, raw={"id": "evt_1"})


def _balance(customer) -> Decimal:
    customer.refresh_from_db()
    return customer.balance


# --- Quotes ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_fee_added_to_what_the_customer_pays(settings):
    settings.PAYMENT_FEE_MODE = "add"
    quote = deposits.deposit_quote(gateway=_gateway(fee_percent=Decimal("3")), amount="50")
    assert (quote.pay_amount, quote.fee, quote.credit_amount) == (Decimal("51.5"), Decimal("1.5"), Decimal("50"))


@pytest.mark.django_db
def test_fee_taken_from_what_is_credited(settings):
    settings.PAYMENT_FEE_MODE = "deduct"
    quote = deposits.deposit_quote(gateway=_gateway(fee_percent=Decimal("3")), amount="50")
    assert (quote.pay_amount, quote.fee, quote.credit_amount) == (Decimal("50"), Decimal("1.5"), Decimal("48.5"))


@pytest.mark.django_db
def test_another_currency_is_converted_at_the_panels_rate():
    ExchangeRate.objects.create(currency="EUR", rate=Decimal("1.08"))
    quote = deposits.deposit_quote(gateway=_gateway(currency="EUR"), amount="20")
    assert (quote.currency, quote.exchange_rate, quote.credit_amount) == ("EUR", Decimal("1.08"), Decimal("21.6"))


@pytest.mark.django_db
def test_a_currency_without_a_rate_is_refused():
    with pytest.raises(MoneyError, match="not available"):
        deposits.deposit_quote(gateway=_gateway(currency="GBP"), amount="20")


@pytest.mark.django_db
@pytest.mark.parametrize("amount", ["0.99", "1000.01", "-5", "abc", "1e4", "NaN", "10.001"])
def test_amounts_outside_the_limits_or_not_amounts_are_refused(amount):
    with pytest.raises(MoneyError):
        deposits.deposit_quote(gateway=_gateway(), amount=amount)


@pytest.mark.django_db
def test_the_highest_bonus_tier_reached_applies():
    BonusTier.objects.create(min_amount=Decimal("100"), percent=Decimal("5"))
    BonusTier.objects.create(min_amount=Decimal("500"), percent=Decimal("10"))
    gateway = _gateway()
    assert deposits.deposit_quote(gateway=gateway, amount="99").bonus == Decimal("0")
    assert deposits.deposit_quote(gateway=gateway, amount="100").bonus == Decimal("5")
    assert deposits.deposit_quote(gateway=gateway, amount="600").bonus == Decimal("60")


# --- One credit per deposit ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_paid_deposit_is_credited_once_with_its_bonus_as_its_own_row():
    # given: a deposit of 200 with a 5% bonus from 100
    BonusTier.objects.create(min_amount=Decimal("100"), percent=Decimal("5"))
    customer = CustomerFactory()
    deposit = _deposit(customer, _gateway(), amount="200")

    # when: the gateway says paid, three times (webhook, return page, a replay)
    for _ in range(3):
        deposits.deposit_apply_state(gateway=deposit.gateway, state=_paid(deposit))

    # then
    deposit.refresh_from_db()
    assert deposit.status == Deposit.Status.PAID and deposit.ledger_entry.amount == Decimal("200")
    causes = sorted(LedgerEntry.objects.filter(deposit=deposit).values_list("cause", "amount"))
    assert causes == [("bonus", Decimal("10")), ("gateway", Decimal("200"))]
    assert _balance(customer) == Decimal("210")


@pytest.mark.django_db
def test_nothing_moves_a_paid_deposit_again():
    customer = CustomerFactory()
    deposit = _deposit(customer, _gateway())
    deposits.deposit_apply_state(gateway=deposit.gateway, state=_paid(deposit))

    for outcome in (Outcome.FAILED, Outcome.EXPIRED, Outcome.REVIEW):
        deposits.deposit_apply_state(gateway=deposit.gateway, state=PaymentState(outcome=outcome,
                                                                                  reference=deposit.reference))

    deposit.refresh_from_db()
    assert deposit.status == Deposit.Status.PAID and _balance(customer) == Decimal("10")


@pytest.mark.django_db
def test_a_payment_in_another_currency_is_held_for_review_not_credited():
    customer = CustomerFactory()
    deposit = _deposit(customer, _gateway())

    deposits.deposit_apply_state(gateway=deposit.gateway, state=_paid(deposit, currency="EUR"))

    deposit.refresh_from_db()
    assert deposit.status == Deposit.Status.REVIEW and "EUR" in deposit.note
    assert _balance(customer) == Decimal("0")


@pytest.mark.django_db
def test_a_payment_lower_than_asked_is_held_for_review_never_credited_as_asked():
    customer = CustomerFactory()
    deposit = _deposit(customer, _gateway())

    deposits.deposit_apply_state(gateway=deposit.gateway, state=_paid(deposit, amount="9.99"))

    deposit.refresh_from_db()
    assert deposit.status == Deposit.Status.REVIEW and deposit.received_amount == Decimal("9.99")
    assert _balance(customer) == Decimal("0")


@pytest.mark.django_db
def test_a_payment_over_what_was_asked_credits_what_was_received(settings):
    settings.PAYMENT_FEE_MODE = "add"
    customer = CustomerFactory()
    deposit = _deposit(customer, _gateway(fee_percent=Decimal("2")), amount="10")  # pays 10.20

    deposits.deposit_apply_state(gateway=deposit.gateway, state=_paid(deposit, amount="12.20"))

    assert _balance(customer) == Decimal("12")


@pytest.mark.django_db
def test_a_state_for_no_deposit_of_ours_is_ignored():
    gateway = _gateway()
    state = PaymentState(outcome=Outcome.PAID, reference="someone-elses", amount=Decimal("5"), currency="USD")
    assert deposits.deposit_apply_state(gateway=gateway, state=state) is None
    assert not LedgerEntry.objects.exists()


@pytest.mark.django_db
def test_a_deposit_of_another_gateway_is_not_found_by_reference():
    customer = CustomerFactory()
    deposit = _deposit(customer, _gateway())
    other = _gateway(name="other")
    state = PaymentState(outcome=Outcome.PAID, reference=deposit.reference, amount=Decimal("10"), currency="USD")

    assert deposits.deposit_apply_state(gateway=other, state=state) is None
    assert _balance(customer) == Decimal("0")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_confirmations_credit_once():
    customer = CustomerFactory()
    deposit = _deposit(customer, _gateway())
    start = threading.Barrier(10)

    def confirm():
        try:
            start.wait()
            deposits.deposit_apply_state(gateway=deposit.gateway, state=_paid(deposit))
        finally:
            connection.close()

    threads = [threading.Thread(target=confirm) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert LedgerEntry.objects.filter(deposit=deposit).count() == 1
    assert _balance(customer) == Decimal("10")
    assert ledger_problems() == []


# --- Review, reconciliation ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_admin_credits_what_a_deposit_in_review_received_once_with_an_audit_row():
    admin = UserFactory(is_staff=True)
    customer = CustomerFactory()
    deposit = _deposit(customer, _gateway())
    deposits.deposit_apply_state(gateway=deposit.gateway, state=_paid(deposit, amount="7.5"))

    assert deposits.deposit_review_credit(deposit_id=deposit.pk, actor=admin, reason="customer sent 7.5")
    assert not deposits.deposit_review_credit(deposit_id=deposit.pk, actor=admin, reason="again")

    deposit.refresh_from_db()
    assert deposit.status == Deposit.Status.PAID and _balance(customer) == Decimal("7.5")
    entry = AuditEntry.objects.get(action="deposit.review_credit")
    assert (entry.actor, entry.subject_id, entry.reason) == (admin, deposit.pk, "customer sent 7.5")


@pytest.mark.django_db
def test_an_admin_fails_a_deposit_in_review_and_nothing_is_credited():
    admin = UserFactory(is_staff=True)
    customer = CustomerFactory()
    deposit = _deposit(customer, _gateway())
    deposits.deposit_apply_state(gateway=deposit.gateway, state=_paid(deposit, currency="EUR"))

    assert deposits.deposit_review_fail(deposit_id=deposit.pk, actor=admin, reason="refunded at the gateway")

    deposit.refresh_from_db()
    assert deposit.status == Deposit.Status.FAILED and _balance(customer) == Decimal("0")
    assert AuditEntry.objects.filter(action="deposit.review_fail", subject_id=deposit.pk).exists()


@pytest.mark.django_db
def test_old_unpaid_deposits_expire(settings):
    settings.PAYMENT_EXPIRE_HOURS = 2
    customer = CustomerFactory()
    old = _deposit(customer, _gateway(), reference="")  # no reference: nothing to ask the gateway
    fresh = _deposit(customer, old.gateway, reference="")
    Deposit.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=3))

    result = deposits.deposits_reconcile()

    assert result["expired"] == 1
    assert Deposit.objects.get(pk=old.pk).status == Deposit.Status.EXPIRED
    assert Deposit.objects.get(pk=fresh.pk).status == Deposit.Status.PENDING


@pytest.mark.django_db
def test_our_id_in_an_event_for_another_payment_credits_nothing():
    # given: another site on the same gateway account names our deposit's id in its own payment's metadata
    customer = CustomerFactory()
    deposit = _deposit(customer, _gateway())
    state = PaymentState(outcome=Outcome.PAID, reference="cs_of_another_site", deposit_id=deposit.pk,
                         amount=deposit.pay_amount, currency="USD")

    assert deposits.deposit_apply_state(gateway=deposit.gateway, state=state) is None
    assert _balance(customer) == Decimal("0")


@pytest.mark.django_db
def test_a_payment_without_a_currency_is_held_for_review():
    customer = CustomerFactory()
    deposit = _deposit(customer, _gateway())
    state = PaymentState(outcome=Outcome.PAID, reference=deposit.reference, amount=deposit.pay_amount, currency="")

    deposits.deposit_apply_state(gateway=deposit.gateway, state=state)

    deposit.refresh_from_db()
    assert deposit.status == Deposit.Status.REVIEW and _balance(customer) == Decimal("0")


@pytest.mark.django_db
def test_money_arriving_after_a_deposit_expired_is_held_for_review_not_lost():
    customer = CustomerFactory()
    deposit = _deposit(customer, _gateway())
    Deposit.objects.filter(pk=deposit.pk).update(status=Deposit.Status.EXPIRED)

    deposits.deposit_apply_state(gateway=deposit.gateway, state=_paid(deposit))

    deposit.refresh_from_db()
    assert deposit.status == Deposit.Status.REVIEW and "expired" in deposit.note
    assert deposit.received_amount == deposit.pay_amount and _balance(customer) == Decimal("0")


@pytest.mark.django_db
def test_the_fee_is_rounded_to_cents_so_the_gateway_can_collect_it(settings):
    settings.PAYMENT_FEE_MODE = "add"
    quote = deposits.deposit_quote(gateway=_gateway(fee_percent=Decimal("2.5")), amount="10.01")
    assert (quote.fee, quote.pay_amount) == (Decimal("0.25"), Decimal("10.26"))


@pytest.mark.django_db
def test_a_short_payment_the_gateway_calls_final_credits_what_came():
    # given: a crypto invoice paid short, with the panel set to credit what came (the gateway module says so)
    customer = CustomerFactory()
    deposit = _deposit(customer, _gateway())
    state = PaymentState(outcome=Outcome.PAID, reference=deposit.reference, amount=Decimal("4"), currency="USD",
                         note="wrong amount", less_is_final=True)

    deposits.deposit_apply_state(gateway=deposit.gateway, state=state)

    deposit.refresh_from_db()
    assert deposit.status == Deposit.Status.PAID and _balance(customer) == Decimal("4")
