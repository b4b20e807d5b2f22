"""PayPal Orders v2 against the gateway simulator: the order we create, the capture on the return page, the
webhooks PayPal verifies for us (and those refused), and exactly one credit however the news arrives."""

from __future__ import annotations

import json
from decimal import Decimal
from types import SimpleNamespace

import pytest
import requests

from accounts.deposits import deposit_refresh, deposit_start
from accounts.gateways import GatewayError, Outcome
from accounts.gateways.paypal import PayPalGateway, paypal_amount
from accounts.models import Deposit, LedgerEntry
from tests.factories import CustomerFactory
from tests.payments.conftest import make_gateway

pytestmark = pytest.mark.usefixtures("ledger_checked")

COMPLETED = "PAYMENT.CAPTURE.COMPLETED"


@pytest.fixture
def pay(gateway_simulator, db):
    """A PayPal gateway at the simulator; webhooks go nowhere until `live` points them at the panel."""
    gateway = make_gateway(gateway_simulator, "paypal")
    return SimpleNamespace(sim=gateway_simulator, paypal=gateway_simulator.kinds["paypal"], gateway=gateway,
                           base="http://testserver", webhook_url="")


@pytest.fixture
def live(pay, live_server):
    pay.base = live_server.url
    pay.webhook_url = f"{live_server.url}/payments/{pay.gateway.name}/webhook/"
    pay.sim.webhook_urls["paypal"] = pay.webhook_url
    return pay


def _start(pay, amount="10", customer=None) -> Deposit:
    return deposit_start(customer=customer or CustomerFactory(), gateway=pay.gateway, amount=Decimal(amount),
                         success_url=f"{pay.base}/funds/deposits/{{id}}/", cancel_url=f"{pay.base}/funds/",
                         webhook_url=f"{pay.base}/payments/{pay.gateway.name}/webhook/")


def _captured_unsent(pay, deposit: Deposit, **options):
    """The buyer pays and the order is captured, but the webhook is held back for the test to send."""
    pay.sim.send_webhooks = False
    try:
        return pay.paypal.capture_event(deposit.reference, **options)
    finally:
        pay.sim.send_webhooks = True


def _post(pay, body: bytes, headers: dict[str, str]) -> requests.Response:
    return requests.post(pay.webhook_url, data=body, headers={"Content-Type": "application/json", **headers},
                         timeout=10)


def _money(deposit: Deposit) -> tuple[Decimal, int, str]:
    """(the customer's balance, how many credit rows the deposit has, its status), fresh from the database."""
    deposit.refresh_from_db()
    deposit.customer.refresh_from_db()
    return deposit.customer.balance, LedgerEntry.objects.filter(deposit_id=deposit.pk).count(), deposit.status


UNPAID = (Decimal("0"), 0, Deposit.Status.PENDING)
PAID_10 = (Decimal("10"), 1, Deposit.Status.PAID)


# --- Creating the order ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_order_asks_for_the_pay_amount_and_names_the_deposit(pay):
    pay.gateway.fee_percent = Decimal("2.5")
    pay.gateway.save()
    deposit = _start(pay, amount="10.01")
    order = pay.paypal.orders[deposit.reference]
    unit = order["purchase_units"][0]
    assert deposit.pay_amount == Decimal("10.26")
    assert unit["amount"] == {"currency_code": "USD", "value": "10.26"}
    assert unit["custom_id"] == unit["invoice_id"] == f"deposit-{deposit.pk}"
    assert order["intent"] == "CAPTURE" and order["status"] == "PAYER_ACTION_REQUIRED"
    assert deposit.checkout_url == f"{pay.sim.url}/paypal/pay/{deposit.reference}"
    assert pay.paypal.urls[deposit.reference] == (f"http://testserver/funds/deposits/{deposit.pk}/",
                                                   "http://testserver/funds/")
    assert deposit.status == Deposit.Status.PENDING


def test_amounts_are_paypals_strings_rounded_up():
    """Never fewer cents than asked, and no decimals where PayPal takes none."""
    assert paypal_amount(Decimal("10"), "USD") == "10.00"
    assert paypal_amount(Decimal("10.26025"), "usd") == "10.27"
    assert paypal_amount(Decimal("1500.2"), "JPY") == "1501"


@pytest.mark.django_db
def test_creating_twice_for_one_deposit_is_one_order(pay):
    deposit = _start(pay)
    again = PayPalGateway(pay.gateway).create_checkout(deposit, success_url="http://x/s", cancel_url="http://x/c",
                                                       webhook_url="http://x/w")
    assert again.reference == deposit.reference
    assert len(pay.paypal.orders) == 1


@pytest.mark.django_db
def test_the_access_token_is_asked_once_per_module(pay):
    deposit = _start(pay)
    module = PayPalGateway(pay.gateway)
    assert module.fetch_state(deposit).outcome == Outcome.PENDING
    assert module.fetch_state(deposit).outcome == Outcome.PENDING
    assert pay.paypal.tokens_issued == 2  # one for deposit_start's module, one for this one


@pytest.mark.django_db
def test_wrong_credentials_fail_without_the_secret_in_the_message(pay):
    pay.gateway.credentials = {**pay.gateway.credentials, "client_secret": "not-the-secret-xyz"}
    pay.gateway.save()
    with pytest.raises(GatewayError) as error:
        _start(pay)
    assert "not-the-secret-xyz" not in str(error.value) and "401" in str(error.value)
    deposit = Deposit.objects.get()
    assert deposit.status == Deposit.Status.FAILED and "not-the-secret-xyz" not in deposit.note


# --- The happy path, end to end ----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_pay_return_capture_and_webhook_credit_once(live):
    deposit = _start(live)
    page = requests.get(deposit.checkout_url, timeout=10)
    assert page.status_code == 200 and "10.00 USD" in page.text and "Pay" in page.text
    back = requests.post(deposit.checkout_url, data={"choice": "pay"}, allow_redirects=False, timeout=10)
    assert back.status_code == 303
    assert back.headers["Location"].startswith(f"{live.base}/funds/deposits/{deposit.pk}/?token={deposit.reference}")
    assert "PayerID=" in back.headers["Location"]
    assert _money(deposit) == UNPAID  # approved is not paid: nothing until the capture

    deposit = deposit_refresh(deposit_id=deposit.pk)  # the return page: captures the order

    assert live.paypal.orders[deposit.reference]["status"] == "COMPLETED"
    [delivery] = [d for d in live.sim.deliveries if json.loads(d.body)["event_type"] == COMPLETED]
    assert delivery.status == 200  # the capture's webhook went through the live server
    assert _money(deposit) == PAID_10
    entry = LedgerEntry.objects.get(deposit_id=deposit.pk)
    assert (entry.cause, entry.amount) == (LedgerEntry.Cause.GATEWAY, Decimal("10"))
    assert (deposit.received_amount, deposit.received_currency) == (Decimal("10"), "USD")
    assert deposit_refresh(deposit_id=deposit.pk).status == Deposit.Status.PAID
    assert _money(deposit) == PAID_10


@pytest.mark.django_db(transaction=True)
def test_the_webhook_alone_credits(live):
    deposit = _start(live)
    delivery = _captured_unsent(live, deposit)
    answer = _post(live, delivery.body, delivery.headers)
    assert (answer.status_code, answer.text) == (200, "ok")
    assert _money(deposit) == PAID_10
    assert deposit.last_event["event_type"] == COMPLETED


@pytest.mark.django_db
def test_cancel_sends_the_buyer_back_and_nothing_moves(pay):
    deposit = _start(pay)
    back = requests.post(deposit.checkout_url, data={"choice": "cancel"}, allow_redirects=False, timeout=10)
    assert back.status_code == 303
    assert back.headers["Location"] == f"http://testserver/funds/?token={deposit.reference}"
    assert deposit_refresh(deposit_id=deposit.pk).status == Deposit.Status.PENDING
    assert _money(deposit) == UNPAID


# --- The capture on the return page ------------------------------------------------------------------


@pytest.mark.django_db
def test_an_order_captured_elsewhere_is_read_not_failed(pay):
    """The capture answers 422 ORDER_ALREADY_CAPTURED: the order is read again and its capture credited."""
    deposit = _start(pay)
    pay.paypal.approve(deposit.reference)
    pay.paypal.before_capture = lambda order_id: pay.paypal.capture(order_id, request_id="another-process")

    deposit = deposit_refresh(deposit_id=deposit.pk)

    assert pay.paypal.capture_calls == 2
    assert _money(deposit) == PAID_10


@pytest.mark.django_db
def test_the_same_capture_request_gets_the_same_answer(pay):
    deposit = _start(pay)
    pay.paypal.approve(deposit.reference)
    own = PayPalGateway.request_id(deposit, "capture")
    first = pay.paypal.capture(deposit.reference, request_id=own)
    again = pay.paypal.capture(deposit.reference, request_id=own)
    other = pay.paypal.capture(deposit.reference, request_id="another")
    assert first == again and first[0] == 201
    assert other[0] == 422 and other[1]["details"][0]["issue"] == "ORDER_ALREADY_CAPTURED"
    # The module's own request id: its answer is the first capture, not an error.
    assert deposit_refresh(deposit_id=deposit.pk).status == Deposit.Status.PAID


@pytest.mark.django_db
def test_a_declined_capture_fails_the_deposit(pay):
    deposit = _start(pay)
    pay.paypal.decline.add(deposit.reference)
    pay.paypal.approve(deposit.reference)
    deposit = deposit_refresh(deposit_id=deposit.pk)
    assert _money(deposit) == (Decimal("0"), 0, Deposit.Status.FAILED)
