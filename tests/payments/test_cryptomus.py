"""Cryptomus invoices end to end against the gateway simulator: checkout, the pay page, signed webhooks through
the live server, refusals, replays, concurrent deliveries and the return page."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from decimal import Decimal

import pytest
import requests

from accounts.deposits import deposit_start
from accounts.gateways import Outcome, WebhookRefused
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
