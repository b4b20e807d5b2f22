"""Cryptomus invoices end to end against the gateway simulator: checkout, the pay page, signed webhooks through
the live server, refusals, replays, concurrent deliveries and the return page."""

from __future__ import annotations

import base64
import hashlib
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
from accounts.gateways import GatewayError, Outcome, WebhookRefused
from accounts.gateways.cryptomus import CryptomusGateway, php_json, received_amount
from accounts.gateways.simulator.cryptomus import _php_encode
from accounts.models import Deposit, Gateway, LedgerEntry
from tests.factories import CustomerFactory
from tests.payments.conftest import CREDENTIALS, make_gateway

pytestmark = pytest.mark.usefixtures("ledger_checked")
KEY = CREDENTIALS["cryptomus"]["payment_key"]


def _md5_sign(text: str, key: str = KEY) -> str:
    return hashlib.md5(base64.b64encode(text.encode()) + key.encode()).hexdigest()


def _module(**credentials) -> CryptomusGateway:
    return CryptomusGateway(Gateway(name="cryptomus", kind="cryptomus",
                                    credentials={**CREDENTIALS["cryptomus"], **credentials}))


@pytest.fixture
def setup(gateway_simulator, live_server):
    """A Cryptomus gateway at the simulator whose webhooks reach the live server, a customer and a deposit
    of 10 USD with its invoice."""
    sim = gateway_simulator
    gateway = make_gateway(sim, "cryptomus")
    webhook_url = f"{live_server.url}/payments/{gateway.name}/webhook/"
    sim.webhook_urls["cryptomus"] = webhook_url
    customer = CustomerFactory()
    deposit = deposit_start(customer=customer, gateway=gateway, amount=Decimal("10"),
                            success_url=live_server.url + "/funds/deposits/{id}/",
                            cancel_url=live_server.url + "/funds/deposits/{id}/?canceled=1", webhook_url=webhook_url)

    class Setup:
        pass

    s = Setup()
    s.sim, s.cryptomus, s.gateway, s.customer, s.deposit, s.live_server = (
        sim, sim.kinds["cryptomus"], gateway, customer, deposit, live_server)
    return s


def _balance(customer) -> Decimal:
    customer.refresh_from_db(fields=["balance"])
    return customer.balance


def _credits(deposit) -> int:
    return LedgerEntry.objects.filter(deposit=deposit, cause=LedgerEntry.Cause.GATEWAY).count()


def _status(deposit) -> str:
    deposit.refresh_from_db()
    return deposit.status


def _untouched(s) -> None:
    assert _balance(s.customer) == Decimal("0")
    assert _credits(s.deposit) == 0


# --- The signature scheme -------------------------------------------------------------------------------


def test_php_json_escapes_slashes_keeps_unicode_and_is_compact():
    data = {"url": "https://example.com/a/b", "name": "Привет €", "n": None, "ok": True, "list": [1, "x"],
            "empty": {}, "sep": "\u2028"}
    expected = ('{"url":"https:\\/\\/example.com\\/a\\/b","name":"Привет €","n":null,"ok":true,"list":[1,"x"],'
                '"empty":[],"sep":"\\u2028"}')
    assert php_json(data) == expected
    assert _php_encode(data) == expected  # the simulator's own encoder agrees


def _signed_with(data: dict, text: str) -> bytes:
    return json.dumps({**data, "sign": _md5_sign(text)}).encode()


def test_a_signature_over_unescaped_slashes_does_not_verify():
    data = {"type": "payment", "uuid": str(uuid.uuid4()), "order_id": "deposit-1", "amount": "10.00",
            "payment_amount": "10.00", "currency": "USD", "payer_currency": "USD", "status": "paid",
            "is_final": True, "additional_data": "https://shop.example/orders/1"}
    php = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("/", "\\/")
    state = _module().parse_webhook(body=_signed_with(data, php), headers={})
    assert (state.outcome, state.deposit_id, state.amount) == (Outcome.PAID, 1, Decimal("10.00"))
    unescaped = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    assert "/" in unescaped and unescaped != php
    with pytest.raises(WebhookRefused):
        _module().parse_webhook(body=_signed_with(data, unescaped), headers={})


def test_a_signature_over_escaped_unicode_does_not_verify():
    data = {"type": "payment", "uuid": str(uuid.uuid4()), "order_id": "deposit-2", "amount": "10.00",
            "payment_amount": "10.00", "currency": "USD", "status": "paid", "is_final": True,
            "additional_data": "Заказ № 2 — café"}
    php = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    assert _module().parse_webhook(body=_signed_with(data, php), headers={}).outcome == Outcome.PAID
    escaped = json.dumps(data, separators=(",", ":"))  # \u0417... as Python writes it by default
    with pytest.raises(WebhookRefused):
        _module().parse_webhook(body=_signed_with(data, escaped), headers={})


@pytest.mark.parametrize("body", [b"", b"not json", b"[1, 2]", b'{"uuid": "x", "status": "paid"}',
                                  b'{"uuid": "x", "status": "paid", "sign": ""}', b'{"uuid": "x", "sign": 5}'])
def test_bodies_without_a_usable_signature_are_refused(body):
    with pytest.raises(WebhookRefused) as refused:
        _module().parse_webhook(body=body, headers={})
    assert refused.value.status == 400


# --- Reading an invoice ---------------------------------------------------------------------------------


def _invoice(status: str, **fields) -> dict:
    return {"uuid": "u-1", "order_id": "deposit-7", "amount": "10.00", "currency": "USD", "status": status,
            "is_final": True, **fields}


def test_amounts_come_in_the_invoices_currency():
    same = {"payer_currency": "USD"}
    # Paid in the invoice's currency: the gross payment_amount, never the net merchant_amount.
    assert received_amount(_invoice("paid_over", payment_amount="12.5", merchant_amount="12.25", **same),
                           "paid_over") == Decimal("12.5")
    assert received_amount(_invoice("wrong_amount", payment_amount="4", **same), "wrong_amount") == Decimal("4")
    # `paid` within Cryptomus's margin below the invoice shows what came; above it, the invoice's amount.
    assert received_amount(_invoice("paid", payment_amount="9.95", **same), "paid") == Decimal("9.95")
    assert received_amount(_invoice("paid", payment_amount="10.50", **same), "paid") == Decimal("10.00")
    # A USD invoice paid in USDT: payment_amount is USDT; the USD figure is payment_amount_usd.
    usdt = {"payer_currency": "USDT", "payment_amount": "99", "payment_amount_usd": "4.20"}
    assert received_amount(_invoice("wrong_amount", **usdt), "wrong_amount") == Decimal("4.20")
    assert received_amount(_invoice("paid", **usdt), "paid") == Decimal("10.00")
    assert received_amount(_invoice("paid_over", **{**usdt, "payment_amount_usd": "11"}), "paid_over") == 11
    # An EUR invoice paid in BTC: no EUR figure for a wrong amount.
    btc = {"currency": "EUR", "payer_currency": "BTC", "payment_amount": "0.0001", "payment_amount_usd": "9"}
    assert received_amount(_invoice("wrong_amount", **btc), "wrong_amount") is None


def _parse(data: dict):
    return _module().parse_webhook(body=_php_encode({**data, "sign": _md5_sign(php_json(data))}).encode(),
                                   headers={})


def test_statuses_map_to_outcomes(settings):
    settings.PAYMENT_WRONG_AMOUNT = "review"
    assert _parse(_invoice("paid", payment_amount="10.00")).outcome == Outcome.PAID
    assert _parse(_invoice("paid", payment_amount="10.00", is_final=False)).outcome == Outcome.PENDING
    assert _parse(_invoice("confirm_check", is_final=False)).outcome == Outcome.PENDING
    for failed in ("cancel", "fail", "system_fail"):
        assert _parse(_invoice(failed)).outcome == Outcome.FAILED
    assert _parse(_invoice("refund_paid")).outcome == Outcome.IGNORE
    assert _parse(_invoice("paid", payment_amount="10.00", type="wallet")).outcome == Outcome.IGNORE
    assert _parse(_invoice("paid", payment_amount="10.00", order_id="order-7")).outcome == Outcome.IGNORE
    review = _parse(_invoice("wrong_amount", payment_amount="4.00", payer_currency="USD"))
    assert (review.outcome, review.amount, review.currency) == (Outcome.REVIEW, Decimal("4.00"), "USD")
    assert "wrong amount" in review.note
    paid = _parse(_invoice("paid", payment_amount="10.00"))
    assert (paid.reference, paid.deposit_id, paid.currency) == ("u-1", 7, "USD")
    assert "sign" not in paid.raw


def test_a_wrong_amount_in_credit_mode_is_reported_paid_with_what_came(settings):
    settings.PAYMENT_WRONG_AMOUNT = "credit"
    state = _parse(_invoice("wrong_amount", payment_amount="4.00", payer_currency="USD"))
    assert (state.outcome, state.amount, state.currency) == (Outcome.PAID, Decimal("4.00"), "USD")
    assert "wrong amount" in state.note


# --- Checkout and the pay page --------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_happy_path_pay_page_webhook_credits_once(setup):
    s = setup
    invoice = s.cryptomus.invoice(s.deposit.reference)
    assert (invoice["order_id"], invoice["amount"], invoice["currency"]) == (
        f"deposit-{s.deposit.pk}", "10.00", "USD")
    assert invoice["url_callback"].endswith("/payments/cryptomus/webhook/")
    assert s.deposit.status == Deposit.Status.PENDING
    page = requests.get(s.deposit.checkout_url, timeout=10)
    assert page.status_code == 200 and "10.00 USD" in page.text and "Pay" in page.text and "Cancel" in page.text
    answer = requests.post(s.deposit.checkout_url, data={"choice": "pay"}, allow_redirects=False, timeout=10)
    assert answer.status_code == 303
    assert answer.headers["Location"] == f"{s.live_server.url}/funds/deposits/{s.deposit.pk}/"
    assert s.sim.deliveries[-1].status == 200
    assert _status(s.deposit) == Deposit.Status.PAID
    assert _balance(s.customer) == s.deposit.credit_amount == Decimal("10")
    entries = LedgerEntry.objects.filter(deposit=s.deposit)
    assert [(e.cause, e.amount) for e in entries] == [(LedgerEntry.Cause.GATEWAY, Decimal("10"))]
    assert s.deposit.received_amount == Decimal("10") and s.deposit.received_currency == "USD"
    assert "sign" not in s.deposit.last_event


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
