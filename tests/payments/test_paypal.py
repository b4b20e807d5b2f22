"""PayPal Orders v2 against the gateway simulator: the order we create, the capture on the return page, the
webhooks PayPal verifies for us (and those refused), and exactly one credit however the news arrives."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
import requests
from freezegun import freeze_time

from accounts.deposits import deposit_refresh, deposit_start, deposit_webhook
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


@pytest.mark.django_db(transaction=True)
def test_a_denied_capture_fails_the_deposit_by_webhook(live):
    deposit = _start(live)
    live.paypal.decline.add(deposit.reference)
    delivery = live.paypal.capture_event(deposit.reference)
    assert json.loads(delivery.body)["event_type"] == "PAYMENT.CAPTURE.DENIED" and delivery.status == 200
    assert _money(deposit) == (Decimal("0"), 0, Deposit.Status.FAILED)


@pytest.mark.django_db
def test_a_capture_of_less_is_held_for_review_on_the_return_page(pay):
    deposit = _start(pay)
    _captured_unsent(pay, deposit, amount="4.00")
    deposit = deposit_refresh(deposit_id=deposit.pk)
    assert _money(deposit) == (Decimal("0"), 0, Deposit.Status.REVIEW)
    assert deposit.received_amount == Decimal("4")


@pytest.mark.django_db(transaction=True)
def test_a_voided_order_fails_by_webhook(live):
    deposit = _start(live)
    delivery = live.paypal.void(deposit.reference)
    assert delivery.status == 200
    assert _money(deposit) == (Decimal("0"), 0, Deposit.Status.FAILED)
    assert deposit_refresh(deposit_id=deposit.pk).status == Deposit.Status.FAILED


# --- Webhooks that must not be believed --------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_signature_made_with_another_key_is_refused(live):
    deposit = _start(live)
    good = _captured_unsent(live, deposit)
    forged = live.paypal.send_event(COMPLETED, json.loads(good.body)["resource"], wrong_key=True)
    assert forged.status == 400
    assert _money(deposit) == UNPAID


@pytest.mark.django_db(transaction=True)
def test_a_webhook_without_paypals_headers_is_refused(live):
    deposit = _start(live)
    good = _captured_unsent(live, deposit)
    headers = {name: value for name, value in good.headers.items() if name != "PAYPAL-TRANSMISSION-SIG"}
    answer = _post(live, good.body, headers)
    assert answer.status_code == 400 and "paypal-transmission-sig" in answer.text
    assert _money(deposit) == UNPAID


@pytest.mark.django_db(transaction=True)
def test_a_stale_transmission_is_refused(live):
    deposit = _start(live)
    good = _captured_unsent(live, deposit)
    hour_ago = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    stale = live.paypal.send_event(COMPLETED, json.loads(good.body)["resource"], transmission_time=hour_ago)
    assert stale.status == 400
    assert _money(deposit) == UNPAID


@pytest.mark.django_db(transaction=True)
def test_a_body_changed_after_signing_is_refused(live):
    deposit = _start(live)
    good = _captured_unsent(live, deposit)
    event = json.loads(good.body)
    event["summary"] = "changed in transit"
    assert live.sim.replay(good, body=json.dumps(event).encode()) == 400
    assert _money(deposit) == UNPAID
    assert live.sim.replay(good) == 200  # the body as signed is believed
    assert _money(deposit) == PAID_10


@pytest.mark.django_db(transaction=True)
def test_a_webhook_signed_for_another_webhook_id_is_refused(live):
    live.gateway.credentials = {**live.gateway.credentials, "webhook_id": "WH-SOMEONE-ELSE"}
    live.gateway.save()
    deposit = _start(live)
    good = _captured_unsent(live, deposit)
    assert live.sim.replay(good) == 400
    assert _money(deposit) == UNPAID


@pytest.mark.django_db(transaction=True)
def test_another_currency_is_held_for_review(live):
    deposit = _start(live)
    delivery = live.paypal.capture_event(deposit.reference, currency="EUR")
    assert delivery.status == 200
    assert _money(deposit) == (Decimal("0"), 0, Deposit.Status.REVIEW)
    assert (deposit.received_amount, deposit.received_currency) == (Decimal("10"), "EUR")


@pytest.mark.django_db(transaction=True)
def test_less_than_asked_is_held_for_review(live):
    deposit = _start(live)
    delivery = live.paypal.capture_event(deposit.reference, amount="9.99")
    assert delivery.status == 200
    assert _money(deposit) == (Decimal("0"), 0, Deposit.Status.REVIEW)
    assert deposit.received_amount == Decimal("9.99")


@pytest.mark.django_db(transaction=True)
def test_a_capture_for_no_deposit_of_ours_is_ignored(live):
    deposit = _start(live)
    resource = json.loads(_captured_unsent(live, deposit).body)["resource"]
    resource.update(custom_id="deposit-987654", invoice_id="deposit-987654",
                    supplementary_data={"related_ids": {"order_id": "5O190127TN364715T"}})
    unsent = live.sim.send_webhooks = False
    delivery = live.paypal.send_event(COMPLETED, resource)
    live.sim.send_webhooks = not unsent
    answer = _post(live, delivery.body, delivery.headers)
    assert (answer.status_code, answer.text) == (200, "ignored")
    assert _money(deposit) == UNPAID


@pytest.mark.django_db(transaction=True)
def test_an_event_type_we_do_not_act_on_is_ignored(live):
    """A verified event about our deposit's completed capture, but not PAYMENT.CAPTURE.COMPLETED: nothing moves."""
    deposit = _start(live)
    resource = json.loads(_captured_unsent(live, deposit).body)["resource"]
    live.sim.send_webhooks = False
    delivery = live.paypal.send_event("PAYMENT.CAPTURE.REVERSED", resource)
    live.sim.send_webhooks = True
    answer = _post(live, delivery.body, delivery.headers)
    assert (answer.status_code, answer.text) == (200, "ignored")
    assert _money(deposit) == UNPAID


@pytest.mark.django_db(transaction=True)
def test_verification_down_answers_503_then_the_redelivery_credits_once(live):
    deposit = _start(live)
    delivery = _captured_unsent(live, deposit)
    live.paypal.verify_down = True
    answer = _post(live, delivery.body, delivery.headers)
    assert answer.status_code == 503
    assert _money(deposit) == UNPAID
    live.paypal.verify_down = False
    assert live.sim.replay(delivery) == 200
    assert live.sim.replay(delivery) == 200
    assert _money(deposit) == PAID_10


# --- Exactly once ------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_same_webhook_an_hour_later_credits_nothing_more(live):
    deposit = _start(live)
    delivery = _captured_unsent(live, deposit)
    assert live.sim.replay(delivery) == 200
    with freeze_time(datetime.now(UTC) + timedelta(hours=1)):
        status, _ = deposit_webhook(gateway_name=live.gateway.name, body=delivery.body, headers=delivery.headers)
    assert status == 400  # its transmission time is an hour old
    # PayPal's own redelivery is a new transmission: believed, and still one credit.
    assert live.paypal.capture_event(deposit.reference).status == 200
    assert _money(deposit) == PAID_10


@pytest.mark.django_db(transaction=True)
def test_the_webhook_first_then_the_return_page(live):
    deposit = _start(live)
    assert live.paypal.capture_event(deposit.reference).status == 200
    assert _money(deposit) == PAID_10
    deposit_refresh(deposit_id=deposit.pk)
    assert _money(deposit) == PAID_10


@pytest.mark.django_db(transaction=True)
def test_the_return_page_first_then_the_webhook(live):
    deposit = _start(live)
    live.paypal.approve(deposit.reference)
    live.sim.send_webhooks = False
    deposit_refresh(deposit_id=deposit.pk)
    live.sim.send_webhooks = True
    assert _money(deposit) == PAID_10
    [delivery] = live.sim.deliveries
    assert live.sim.replay(delivery) == 200
    assert _money(deposit) == PAID_10


def _together(count: int, work) -> list:
    start, results = threading.Barrier(count), []

    def run():
        start.wait()
        try:
            results.append(work())
        finally:
            from django.db import connection

            connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_deliveries_credit_once(live):
    deposit = _start(live)
    delivery = _captured_unsent(live, deposit)
    statuses = _together(10, lambda: live.sim.replay(delivery))
    assert statuses == [200] * 10
    assert _money(deposit) == PAID_10


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_return_pages_racing_the_capture_webhook_credit_once(live):
    """Three return pages capture at once (one PayPal-Request-Id: one capture), while the capture's webhook
    arrives through the live server."""
    deposit = _start(live)
    live.paypal.approve(deposit.reference)
    states = _together(3, lambda: deposit_refresh(deposit_id=deposit.pk).status)
    assert states == [Deposit.Status.PAID] * 3
    assert len([d for d in live.sim.deliveries if json.loads(d.body)["event_type"] == COMPLETED]) == 1
    assert live.sim.replay(live.sim.deliveries[-1]) == 200
    assert _money(deposit) == PAID_10
