"""Cryptomus, continued: webhooks through the live server, refusals, replays, concurrent deliveries, the return page."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
import requests
from django.db import connection
from django.utils import timezone
from freezegun import freeze_time

from accounts.deposits import deposit_refresh, deposit_start
from accounts.gateways import GatewayError, Outcome
from accounts.gateways.cryptomus import CryptomusGateway
from accounts.models import Deposit
from tests.factories import CustomerFactory
from tests.payments.conftest import CREDENTIALS, make_gateway
from tests.payments.test_cryptomus import (  # noqa: F401 - helpers and fixtures
    KEY,
    _balance,
    _credits,
    _invoice,
    _md5_sign,
    _module,
    _parse,
    _signed_with,
    _status,
    _untouched,
    setup,
)

pytestmark = pytest.mark.usefixtures("ledger_checked")


@pytest.mark.django_db(transaction=True)
def test_a_webhook_with_slashes_and_unicode_verifies_through_the_live_server(setup):
    s = setup
    body = s.cryptomus.event(s.deposit.reference, additional_data="https://shop.example/заказ/1?a=b&c=€")
    assert b"\\/" in body and "заказ".encode() in body
    assert s.cryptomus.send(body).status == 200
    assert _status(s.deposit) == Deposit.Status.PAID and _balance(s.customer) == Decimal("10")


@pytest.mark.django_db(transaction=True)
def test_cancel_on_the_pay_page_fails_the_deposit(setup):
    s = setup
    answer = requests.post(s.deposit.checkout_url, data={"choice": "cancel"}, allow_redirects=False, timeout=10)
    assert answer.status_code == 303 and answer.headers["Location"].endswith("?canceled=1")
    assert s.sim.deliveries[-1].status == 200
    assert _status(s.deposit) == Deposit.Status.FAILED
    _untouched(s)


@pytest.mark.django_db(transaction=True)
def test_a_wrong_payment_key_fails_the_checkout_without_showing_it(gateway_simulator, live_server):
    gateway = make_gateway(gateway_simulator, "cryptomus")
    gateway_simulator.kinds["cryptomus"].configure({**CREDENTIALS["cryptomus"], "payment_key": "another-key"})
    with pytest.raises(GatewayError) as failed:
        deposit_start(customer=CustomerFactory(), gateway=gateway, amount=Decimal("10"), success_url=live_server.url,
                      cancel_url=live_server.url, webhook_url=live_server.url)
    assert "401" in str(failed.value) and KEY not in str(failed.value)
    assert Deposit.objects.get().status == Deposit.Status.FAILED


# --- Refusals and what is ignored -----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_bad_signature_is_refused_and_credits_nothing(setup):
    s = setup
    assert s.cryptomus.send(s.cryptomus.event(s.deposit.reference, key="not-the-key")).status == 400
    _untouched(s)
    assert _status(s.deposit) == Deposit.Status.PENDING


@pytest.mark.django_db(transaction=True)
def test_a_body_changed_after_signing_is_refused(setup):
    s = setup
    signed = s.cryptomus.event(s.deposit.reference, status="cancel")
    tampered = json.loads(signed)
    tampered.update(status="paid", payment_amount="10.00000000", payer_currency="USD")
    assert s.cryptomus.send(json.dumps(tampered).encode()).status == 400
    without_sign = {k: v for k, v in json.loads(signed).items() if k != "sign"}
    assert s.cryptomus.send(json.dumps(without_sign).encode()).status == 400
    _untouched(s)
    assert _status(s.deposit) == Deposit.Status.PENDING
    assert s.cryptomus.send(signed).status == 200  # the untouched body is believed
    assert _status(s.deposit) == Deposit.Status.FAILED


@pytest.mark.django_db(transaction=True)
def test_another_currency_is_held_for_review(setup):
    s = setup
    assert s.cryptomus.pay(s.deposit.reference, currency="EUR").status == 200
    assert _status(s.deposit) == Deposit.Status.REVIEW
    assert (s.deposit.received_amount, s.deposit.received_currency) == (Decimal("10"), "EUR")
    _untouched(s)


@pytest.mark.django_db(transaction=True)
def test_a_wrong_amount_is_held_for_review(setup, settings):
    settings.PAYMENT_WRONG_AMOUNT = "review"
    s = setup
    assert s.cryptomus.pay(s.deposit.reference, amount="4.5", status="wrong_amount").status == 200
    assert _status(s.deposit) == Deposit.Status.REVIEW
    assert (s.deposit.received_amount, s.deposit.received_currency) == (Decimal("4.5"), "USD")
    assert "wrong amount" in s.deposit.note
    _untouched(s)


@pytest.mark.django_db(transaction=True)
def test_paid_with_less_than_asked_is_held_for_review(setup):
    s = setup
    assert s.cryptomus.pay(s.deposit.reference, amount="9.90").status == 200  # `paid` inside Cryptomus's margin
    assert _status(s.deposit) == Deposit.Status.REVIEW
    assert s.deposit.received_amount == Decimal("9.90")
    _untouched(s)


@pytest.mark.django_db(transaction=True)
def test_a_non_final_paid_event_moves_nothing(setup):
    s = setup
    assert s.cryptomus.send(s.cryptomus.event(s.deposit.reference, is_final=False)).status == 200
    assert _status(s.deposit) == Deposit.Status.PENDING
    _untouched(s)


@pytest.mark.django_db(transaction=True)
def test_an_event_for_no_deposit_of_ours_is_answered_and_ignored(setup):
    s = setup
    foreign = s.cryptomus.event(s.deposit.reference, uuid=str(uuid.uuid4()), order_id="deposit-987654")
    assert s.cryptomus.send(foreign).status == 200
    # Our invoice's uuid, but an order_id that is not one of our deposits: still not ours to credit.
    shop_order = s.cryptomus.event(s.deposit.reference, order_id="shop-order-17")
    delivery = s.cryptomus.send(shop_order)
    assert delivery.status == 200
    assert requests.post(delivery.url, data=shop_order, timeout=10).text == "ignored"
    assert _status(s.deposit) == Deposit.Status.PENDING
    _untouched(s)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("fields", [{"type": "wallet"}, {"status": "refund_paid"}])
def test_an_event_we_do_not_handle_is_answered_and_ignored(setup, fields):
    s = setup
    delivery = s.cryptomus.send(s.cryptomus.event(s.deposit.reference, **fields))
    assert delivery.status == 200
    assert requests.post(delivery.url, data=delivery.body, timeout=10).text == "ignored"
    assert _status(s.deposit) == Deposit.Status.PENDING
    _untouched(s)


# --- Replays, concurrency, the return page --------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_replay_an_hour_later_credits_nothing_more(setup):
    s = setup
    delivery = s.cryptomus.pay(s.deposit.reference)
    assert delivery.status == 200 and _balance(s.customer) == Decimal("10")
    with freeze_time(timezone.now() + timedelta(hours=1), tick=True):
        assert s.sim.replay(delivery) == 200
    assert _balance(s.customer) == Decimal("10")
    assert _credits(s.deposit) == 1


def _threads(targets) -> list:
    errors: list = []
    start = threading.Barrier(len(targets))

    def run(target):
        try:
            start.wait()
            target()
        except Exception as error:  # noqa: BLE001 - reported by the test
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return errors


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_deliveries_credit_once(setup):
    s = setup
    s.sim.send_webhooks = False
    delivery = s.cryptomus.pay(s.deposit.reference)
    statuses: list[int] = []
    assert _threads([lambda: statuses.append(s.sim.replay(delivery))] * 10) == []
    assert statuses == [200] * 10
    assert _status(s.deposit) == Deposit.Status.PAID
    assert _credits(s.deposit) == 1
    assert _balance(s.customer) == Decimal("10")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_return_page_racing_the_webhook_credits_once(setup):
    s = setup
    s.sim.send_webhooks = False
    delivery = s.cryptomus.pay(s.deposit.reference)
    statuses: list[int] = []
    targets = [lambda: statuses.append(s.sim.replay(delivery))] * 4 + [
        lambda: deposit_refresh(deposit_id=s.deposit.pk)] * 4
    assert _threads(targets) == []
    assert statuses == [200] * 4
    assert _status(s.deposit) == Deposit.Status.PAID
    assert _credits(s.deposit) == 1
    assert _balance(s.customer) == Decimal("10")


@pytest.mark.django_db(transaction=True)
def test_the_return_page_credits_a_lost_webhook_and_the_late_webhook_does_nothing(setup, client):
    s = setup
    s.sim.send_webhooks = False
    delivery = s.cryptomus.pay(s.deposit.reference)
    client.force_login(s.customer.user)
    assert client.get(f"/funds/deposits/{s.deposit.pk}/").status_code == 200
    assert _status(s.deposit) == Deposit.Status.PAID and _balance(s.customer) == Decimal("10")
    assert s.sim.replay(delivery) == 200
    assert _credits(s.deposit) == 1 and _balance(s.customer) == Decimal("10")


@pytest.mark.django_db(transaction=True)
def test_fetch_state_reads_the_invoice(setup):
    s = setup
    module = CryptomusGateway(s.gateway)
    assert module.fetch_state(s.deposit).outcome == Outcome.PENDING
    s.sim.send_webhooks = False
    s.cryptomus.pay(s.deposit.reference, status="cancel")
    state = module.fetch_state(s.deposit)
    assert (state.outcome, state.reference, state.deposit_id) == (Outcome.FAILED, s.deposit.reference, s.deposit.pk)
    other = Deposit(pk=s.deposit.pk, reference=str(uuid.uuid4()))
    with pytest.raises(GatewayError):
        module.fetch_state(other)
