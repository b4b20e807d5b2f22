"""Each event that mails makes exactly one SentMail row, however often its code path runs."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts import deposits
from accounts.gateways import Outcome, PaymentState
from accounts.models import Deposit, Gateway, LedgerEntry
from notify.events import orders_refunded
from notify.models import SentMail
from orders.models import Order, Refill, RequestStage, Stage, Status
from orders.pipeline import requests
from orders.pipeline.resolve import order_cancel_and_refund
from orders.pipeline.settle import orders_settle
from orders.services import refills_request
from providers import health
from providers import ordertypes as ot
from tests.factories import CustomerFactory, OrderFactory, ServiceFactory, UserFactory
from tests.notify.conftest import STAFF
from tests.orders.pipeline_support import cycle_until, ledger_checked_after, place, sim_service  # noqa: F401

pytestmark = pytest.mark.django_db


def _rows(kind: str) -> list[SentMail]:
    return list(SentMail.objects.filter(kind=kind).order_by("id"))


# --- Deposits ----------------------------------------------------------------------------------------


def _deposit(customer, amount: str = "25") -> Deposit:
    gateway = Gateway.objects.create(name="card", kind="stripe", currency="USD", credentials={"secret_key": "x"})
    quote = deposits.deposit_quote(gateway=gateway, amount=amount)
    return Deposit.objects.create(customer=customer, gateway=gateway, amount=quote.amount, pay_amount=quote.pay_amount,
                                  currency=quote.currency, fee=quote.fee, exchange_rate=quote.exchange_rate,
                                  credit_amount=quote.credit_amount, bonus=quote.bonus, reference="ref-1",
                                  status=Deposit.Status.PENDING)


def _paid(deposit: Deposit, amount=None) -> PaymentState:
    return PaymentState(outcome=Outcome.PAID, reference=deposit.reference, deposit_id=deposit.pk,
                        amount=deposit.pay_amount if amount is None else Decimal(amount), currency="USD")


def test_a_credited_deposit_mails_once_however_often_the_gateway_says_paid():
    # given
    customer = CustomerFactory(funds="5")
    deposit = _deposit(customer)

    # when: webhook, return page and a replay all say paid
    for _ in range(3):
        deposits.deposit_apply_state(gateway=deposit.gateway, state=_paid(deposit))

    # then
    (row,) = _rows("deposit_credited")
    assert row.event_key == f"deposit_credited:{deposit.pk}" and row.customer_id == customer.pk
    assert row.context == {"deposit_id": deposit.pk, "amount": "25.00000", "currency": "USD", "balance": "30.00000"}


def test_a_deposit_credited_by_an_admin_after_review_mails_once():
    customer = CustomerFactory()
    deposit = _deposit(customer)
    deposits.deposit_apply_state(gateway=deposit.gateway, state=_paid(deposit, amount="20"))  # short: review
    assert _rows("deposit_credited") == []

    admin = UserFactory(is_staff=True)
    assert deposits.deposit_review_credit(deposit_id=deposit.pk, actor=admin, reason="received 20")
    assert not deposits.deposit_review_credit(deposit_id=deposit.pk, actor=admin, reason="again")

    (row,) = _rows("deposit_credited")
    assert row.context["amount"] == "20.00000"


# --- Refunds -----------------------------------------------------------------------------------------


def _final(status: str, **fields):
    return OrderFactory(stage=Stage.FINAL, status=status, quantity=1000, **fields)


def test_partial_and_canceled_orders_mail_their_refund_once_per_settlement():
    # given: a Partial, a Canceled and a Completed order, not settled yet
    partial = _final(Status.PARTIAL, remains=400, service=ServiceFactory(name="IG Likes"))
    canceled = _final(Status.CANCELED, remains=1000)
    completed = _final(Status.COMPLETED, remains=0)
    ids = [partial.pk, canceled.pk, completed.pk]

    # when: settled, then settled again (a second worker, a retry)
    assert orders_settle(order_ids=ids) == 2
    assert orders_settle(order_ids=ids) == 0

    # then: one mail per refunded order
    rows = {row.context["order_id"]: row for row in _rows("order_refunded")}
    assert set(rows) == {partial.pk, canceled.pk}
    assert rows[partial.pk].event_key == f"order_refunded:{partial.pk}:partial"
    context = rows[partial.pk].context
    assert Decimal(context.pop("refund")) == partial.charge * Decimal("0.4")
    assert context == {"order_id": partial.pk, "status": "Partial", "service_name": "IG Likes", "currency": "USD"}
    assert Decimal(rows[canceled.pk].context["refund"]) == canceled.charge


def test_refund_mails_for_a_batch_take_the_same_queries_for_one_or_many(django_assert_num_queries):
    orders = [_final(Status.CANCELED, remains=1000) for _ in range(6)]
    orders_settle(order_ids=[o.pk for o in orders])  # the refunds exist; now the mails alone
    SentMail.objects.all().delete()
    # As orders_settle holds them: with their service, and the refund's ledger row.
    orders = list(Order.objects.select_related("service").filter(pk__in=[o.pk for o in orders]).order_by("id"))
    entries = {e.order_id: e for e in LedgerEntry.objects.filter(order__in=orders, kind=LedgerEntry.Kind.REFUND)}
    pairs = [(o, entries[o.pk]) for o in orders]

    with django_assert_num_queries(4):
        assert orders_refunded(pairs[:1]) == 1
    with django_assert_num_queries(4):
        assert orders_refunded(pairs[1:]) == 5


def test_an_admin_cancel_and_refund_mails_the_customer_once():
    order = OrderFactory(stage=Stage.UNKNOWN, status=Status.PENDING)
    admin = UserFactory(is_staff=True)
    assert order_cancel_and_refund(order_id=order.pk, actor=admin, reason="not found upstream")
    assert not order_cancel_and_refund(order_id=order.pk, actor=admin, reason="again")
    (row,) = _rows("order_refunded")
    assert row.context["status"] == "Canceled" and row.customer_id == order.customer_id


# --- Refills -----------------------------------------------------------------------------------------


def test_a_refill_refused_when_sent_mails_once(simulator_provider):
    # given: a refill of an order the provider does not know
    service = ServiceFactory(provider=simulator_provider)
    order = OrderFactory(service=service, stage=Stage.FINAL, status=Status.COMPLETED, upstream_id="999999")
    refill = Refill.objects.create(order=order)

    # when
    requests.refills_send(provider_id=simulator_provider.pk)
    requests.refills_send(provider_id=simulator_provider.pk)

    # then
    refill.refresh_from_db()
    assert refill.status == Refill.Status.REJECTED
    (row,) = _rows("refill_rejected")
    assert row.event_key == f"refill_rejected:{refill.pk}" and row.customer_id == order.customer_id
    assert row.context == {"order_id": order.pk, "refill_id": refill.pk, "reason": refill.error}


def test_a_refill_the_provider_rejects_later_mails_once(simulator, simulator_provider):
    # given: completed orders whose refills the provider will reject
    simulator.config.set(partial_share=0, canceled_share=0, refill_rejected_share=1)
    customer = CustomerFactory(funds="1000")
    service = sim_service(simulator, simulator_provider, ot.DEFAULT, refill=True)
    orders = [place(customer, service, link=f"https://x.test/{i}", quantity=service.min) for i in range(2)]
    cycle_until(simulator, [o.pk for o in orders], step=900)
    refills_request(customer=customer, order_ids=[o.pk for o in orders])
    requests.refills_send(provider_id=simulator_provider.pk)
    assert _rows("refill_rejected") == []

    # when: polled until final, and polled again
    for _ in range(3):
        simulator.advance(3600)
        requests.refills_poll(provider_id=simulator_provider.pk)

    # then
    assert set(Refill.objects.values_list("stage", "status")) == {(RequestStage.FINAL, Refill.Status.REJECTED)}
    assert sorted(row.context["order_id"] for row in _rows("refill_rejected")) == sorted(o.pk for o in orders)


# --- Provider balance --------------------------------------------------------------------------------


def test_a_low_provider_balance_mails_staff_once_per_episode(simulator, simulator_provider):
    # given: a warning threshold above the balance at the provider (1000)
    simulator_provider.low_balance_threshold = Decimal("1500")
    simulator_provider.save()

    # when: checked three times while low
    for _ in range(3):
        health.provider_balance_check(provider_id=simulator_provider.pk)

    # then: one mail
    (first,) = _rows("provider_balance_low")
    assert first.to_address == STAFF
    context = first.context
    assert (Decimal(context.pop("balance")), Decimal(context.pop("threshold"))) == (1000, 1500)
    assert context == {"provider_id": simulator_provider.pk, "provider": simulator_provider.name, "currency": "USD"}

    # when: the balance recovers, is checked, then falls again
    simulator.state.accounts[simulator_provider.api_key].balance = Decimal("2000")
    health.provider_balance_check(provider_id=simulator_provider.pk)
    assert len(_rows("provider_balance_low")) == 1
    simulator.state.accounts[simulator_provider.api_key].balance = Decimal("20")
    health.provider_balance_check(provider_id=simulator_provider.pk)
    health.provider_balance_check(provider_id=simulator_provider.pk)

    # then: a second episode, a second mail
    first_again, second = _rows("provider_balance_low")
    assert first_again.pk == first.pk and second.event_key != first.event_key
    assert Decimal(second.context["balance"]) == 20
