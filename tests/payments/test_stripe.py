"""Stripe Checkout against the gateway simulator: the session we create, the webhooks we believe (and those we
refuse), the session read back, and exactly one credit however the news arrives."""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from types import SimpleNamespace

import pytest
import requests
import stripe
from django.db import connection
from django.test import Client

from accounts.deposits import deposit_refresh, deposit_start, deposit_webhook
from accounts.gateways import GatewayError, Outcome, WebhookRefused
from accounts.gateways.stripe import StripeGateway
from accounts.models import Deposit, LedgerEntry
from tests.factories import CustomerFactory
from tests.payments.conftest import CREDENTIALS, make_gateway

pytestmark = pytest.mark.usefixtures("ledger_checked")

SECRET = CREDENTIALS["stripe"]["webhook_secret"]
COMPLETED = "checkout.session.completed"


@pytest.fixture
def gw(gateway_simulator, db):
    """A Stripe gateway at the simulator; webhooks go nowhere until `live` points them at the panel."""
    gateway = make_gateway(gateway_simulator, "stripe")
    return SimpleNamespace(sim=gateway_simulator, stripe=gateway_simulator.kinds["stripe"], gateway=gateway,
                           base="http://testserver")


@pytest.fixture
def live(gw, live_server):
    gw.base = live_server.url
    gw.webhook_url = f"{live_server.url}/payments/{gw.gateway.name}/webhook/"
    gw.sim.webhook_urls["stripe"] = gw.webhook_url
    return gw


def _start(gw, amount="10", customer=None) -> Deposit:
    return deposit_start(customer=customer or CustomerFactory(), gateway=gw.gateway, amount=Decimal(amount),
                         success_url=f"{gw.base}/funds/deposits/{{id}}/", cancel_url=f"{gw.base}/funds/",
                         webhook_url=f"{gw.base}/payments/{gw.gateway.name}/webhook/")


def _paid_unsent(gw, deposit: Deposit, **options):
    """The buyer pays, but the webhook is held back (a delivery the test sends when it wants)."""
    gw.sim.send_webhooks = False
    try:
        return gw.stripe.pay(deposit.reference, **options)
    finally:
        gw.sim.send_webhooks = True


def _post(gw, body: bytes, header: str | None) -> requests.Response:
    headers = {"Content-Type": "application/json", **({"Stripe-Signature": header} if header else {})}
    return requests.post(gw.webhook_url, data=body, headers=headers, timeout=10)


def _money(deposit: Deposit) -> tuple[Decimal, int, str]:
    """(the customer's balance, how many credit rows the deposit has, its status), fresh from the database."""
    deposit.refresh_from_db()
    deposit.customer.refresh_from_db()
    return deposit.customer.balance, LedgerEntry.objects.filter(deposit_id=deposit.pk).count(), deposit.status


UNPAID = (Decimal("0"), 0, Deposit.Status.PENDING)
PAID_10 = (Decimal("10"), 1, Deposit.Status.PAID)


# --- Creating the checkout ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_checkout_session_carries_the_deposit(gw):
    gw.gateway.fee_percent = Decimal("2.5")
    gw.gateway.save()
    deposit = _start(gw)
    params = gw.stripe.created_params[deposit.reference]
    assert params["mode"] == "payment"
    assert params["line_items"] == [{"quantity": "1", "price_data": {
        "currency": "usd", "unit_amount": "1025", "product_data": {"name": f"Deposit #{deposit.pk}"}}}]
    assert params["client_reference_id"] == str(deposit.pk)
    assert params["metadata"] == {"deposit_id": str(deposit.pk)}
    assert params["success_url"] == f"http://testserver/funds/deposits/{deposit.pk}/"
    assert params["cancel_url"] == "http://testserver/funds/"
    assert deposit.reference.startswith("cs_test_")
    assert deposit.checkout_url == f"{gw.sim.url}/stripe/pay/{deposit.reference}"
    assert deposit.status == Deposit.Status.PENDING and deposit.pay_amount == Decimal("10.25")
    assert gw.stripe.session(deposit.reference)["amount_total"] == 1025


@pytest.mark.django_db
def test_amounts_that_are_not_whole_cents_are_refused(gw):
    module = StripeGateway(gw.gateway)
    urls = {"success_url": "http://testserver/ok", "cancel_url": "http://testserver/no", "webhook_url": ""}
    for amount, currency in ((Decimal("10.005"), "USD"), (Decimal("1000"), "JPY"), (Decimal("5"), "KWD"),
                             (Decimal("0"), "USD")):
        with pytest.raises(GatewayError):
            module.create_checkout(Deposit(pk=1, pay_amount=amount, currency=currency), **urls)


@pytest.mark.django_db
def test_a_refused_key_is_a_gateway_error_without_the_secret(gw):
    gw.stripe.configure({**CREDENTIALS["stripe"], "secret_key": "sk_test_another_account_key"})
    with pytest.raises(GatewayError) as refused:
        _start(gw)
    assert "401" in str(refused.value) and "Invalid API Key" in str(refused.value)
    assert CREDENTIALS["stripe"]["secret_key"] not in str(refused.value)
    assert gw.stripe.sessions == {}
    deposit = Deposit.objects.get()
    assert deposit.status == Deposit.Status.FAILED and CREDENTIALS["stripe"]["secret_key"] not in deposit.note

    gw.gateway.api_base = "http://127.0.0.1:9/stripe"  # nothing listens there
    gw.gateway.save()
    with pytest.raises(GatewayError):
        _start(gw)


# --- The happy path ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_pay_page_webhook_credits_once(live):
    deposit = _start(live)
    page = requests.get(deposit.checkout_url, timeout=10)
    assert page.status_code == 200 and "10.00 USD" in page.text and "Pay" in page.text
    answer = requests.post(deposit.checkout_url, data={"choice": "pay"}, allow_redirects=False, timeout=10)
    assert answer.status_code == 303
    assert answer.headers["Location"] == f"{live.base}/funds/deposits/{deposit.pk}/"
    assert live.sim.deliveries[-1].status == 200
    assert _money(deposit) == PAID_10
    entry = LedgerEntry.objects.get(deposit_id=deposit.pk)
    assert (entry.cause, entry.amount) == (LedgerEntry.Cause.GATEWAY, Decimal("10"))
    assert (deposit.received_amount, deposit.received_currency) == (Decimal("10"), "USD")
    assert deposit.last_event["type"] == COMPLETED
    assert deposit.last_event["data"]["object"]["id"] == deposit.reference
    assert deposit_refresh(deposit_id=deposit.pk).status == Deposit.Status.PAID
    assert _money(deposit) == PAID_10
    assert requests.get(deposit.checkout_url, timeout=10).status_code == 410  # a completed checkout is closed


@pytest.mark.django_db(transaction=True)
def test_cancel_leaves_the_deposit_open(live):
    deposit = _start(live)
    answer = requests.post(deposit.checkout_url, data={"choice": "cancel"}, allow_redirects=False, timeout=10)
    assert answer.status_code == 303 and answer.headers["Location"] == f"{live.base}/funds/"
    assert live.sim.deliveries == []
    assert _money(deposit) == UNPAID


# --- Our verification is Stripe's ----------------------------------------------------------------------


@pytest.mark.django_db
def test_simulator_signatures_verify_with_the_stripe_sdk(gw):
    deposit = _start(gw)
    _paid_unsent(gw, deposit)
    body = gw.stripe.event(deposit.reference, COMPLETED)
    good, other = gw.stripe.sign(body), gw.stripe.sign(body, secret="whsec_another_endpoint")
    event = stripe.Webhook.construct_event(body, good, SECRET)
    assert event.type == COMPLETED and event.data.object.id == deposit.reference
    assert event.data.object.amount_total == 1000 and event.livemode is False
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body, other, SECRET)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body.replace(b"1000", b"9000"), good, SECRET)

    module = StripeGateway(gw.gateway)
    state = module.parse_webhook(body=body, headers={"stripe-signature": good})
    assert (state.outcome, state.amount, state.currency) == (Outcome.PAID, Decimal("10"), "USD")
    assert (state.reference, state.deposit_id) == (deposit.reference, deposit.pk)
    for header in (other, "", "t=abc,v1=00", f"t={int(time.time())}"):
        with pytest.raises(WebhookRefused) as refused:
            module.parse_webhook(body=body, headers={"Stripe-Signature": header})
        assert refused.value.status == 400
    with pytest.raises(WebhookRefused):
        module.parse_webhook(body=b"\xff" + body, headers={"Stripe-Signature": gw.stripe.sign(b"\xff" + body)})


# --- Refusals: nothing is credited ---------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_wrong_secret_or_no_signature_is_refused(live):
    deposit = _start(live)
    delivery = _paid_unsent(live, deposit)
    assert live.stripe.send(COMPLETED, deposit.reference, secret="whsec_another_endpoint").status == 400
    assert _post(live, delivery.body, None).status_code == 400
    assert _money(deposit) == UNPAID
    assert live.sim.replay(delivery) == 200  # the same event, rightly signed
    assert _money(deposit) == PAID_10


@pytest.mark.django_db(transaction=True)
def test_stale_timestamp_is_refused(live, settings):
    deposit = _start(live)
    _paid_unsent(live, deposit)
    old = int(time.time()) - settings.PAYMENT_WEBHOOK_TOLERANCE_SECONDS - 30
    assert live.stripe.send(COMPLETED, deposit.reference, timestamp=old).status == 400
    settings.PAYMENT_WEBHOOK_TOLERANCE_SECONDS = 20  # the panel's setting, not the SDK's default of 300
    assert live.stripe.send(COMPLETED, deposit.reference, timestamp=int(time.time()) - 60).status == 400
    assert _money(deposit) == UNPAID
    assert live.stripe.send(COMPLETED, deposit.reference).status == 200
    assert _money(deposit) == PAID_10


@pytest.mark.django_db(transaction=True)
def test_body_changed_after_signing_is_refused(live):
    deposit = _start(live)
    delivery = _paid_unsent(live, deposit)
    tampered = delivery.body.replace(b'"amount_total": 1000,', b'"amount_total": 100000,')
    assert tampered != delivery.body
    assert live.sim.replay(delivery, body=tampered) == 400
    assert _money(deposit) == UNPAID
    assert live.sim.replay(delivery) == 200
    assert _money(deposit) == PAID_10  # what was signed, not what was sent


@pytest.mark.django_db(transaction=True)
def test_other_currency_is_held_for_review(live):
    deposit = _start(live)
    assert live.stripe.pay(deposit.reference, currency="EUR").status == 200
    assert _money(deposit) == (Decimal("0"), 0, Deposit.Status.REVIEW)
    assert (deposit.received_amount, deposit.received_currency) == (Decimal("10"), "EUR")


@pytest.mark.django_db(transaction=True)
def test_lower_amount_is_held_for_review(live):
    deposit = _start(live)
    assert live.stripe.pay(deposit.reference, amount="9.99").status == 200
    assert _money(deposit) == (Decimal("0"), 0, Deposit.Status.REVIEW)
    assert (deposit.received_amount, deposit.received_currency) == (Decimal("9.99"), "USD")


@pytest.mark.django_db(transaction=True)
def test_event_for_no_deposit_of_ours_is_ignored(live):
    deposit = _start(live)
    _paid_unsent(live, deposit)
    body = live.stripe.event("cs_test_not_ours", COMPLETED, metadata={"deposit_id": "999999"},
                             client_reference_id="999999")
    answer = _post(live, body, live.stripe.sign(body))
    assert (answer.status_code, answer.text) == (200, "ignored")
    assert _money(deposit) == UNPAID


@pytest.mark.django_db(transaction=True)
def test_unhandled_event_types_are_ignored(live):
    deposit = _start(live)
    _paid_unsent(live, deposit)  # the session is paid: only the event type says not to act on it
    for event_type in ("payment_intent.succeeded", "checkout.session.async_payment_paid", "charge.succeeded"):
        body = live.stripe.event(deposit.reference, event_type)
        answer = _post(live, body, live.stripe.sign(body))
        assert (answer.status_code, answer.text) == (200, "ignored")
    assert _money(deposit) == UNPAID


# --- Other outcomes ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_delayed_payment_waits_then_credits_or_fails(live):
    deposit = _start(live)
    assert live.stripe.pay(deposit.reference, delayed=True).status == 200  # completed, still unpaid
    assert _money(deposit) == UNPAID
    assert deposit_refresh(deposit_id=deposit.pk).status == Deposit.Status.PENDING
    assert live.stripe.settle(deposit.reference).status == 200
    assert _money(deposit) == PAID_10

    failing = _start(live)
    live.stripe.pay(failing.reference, delayed=True)
    assert live.stripe.settle(failing.reference, succeeded=False).status == 200
    assert _money(failing) == (Decimal("0"), 0, Deposit.Status.FAILED)


@pytest.mark.django_db(transaction=True)
def test_expired_checkout_expires_the_deposit(live):
    deposit = _start(live)
    assert live.stripe.expire(deposit.reference).status == 200
    assert _money(deposit) == (Decimal("0"), 0, Deposit.Status.EXPIRED)
    assert requests.get(deposit.checkout_url, timeout=10).status_code == 410


@pytest.mark.django_db
def test_fetch_state_reads_the_session(gw):
    module = StripeGateway(gw.gateway)
    deposit = _start(gw)
    assert module.fetch_state(deposit).outcome == Outcome.PENDING
    _paid_unsent(gw, deposit, amount="9.50")
    state = module.fetch_state(deposit)
    assert (state.outcome, state.amount, state.currency) == (Outcome.PAID, Decimal("9.50"), "USD")
    assert (state.reference, state.deposit_id, state.raw["status"]) == (deposit.reference, deposit.pk, "complete")
    assert deposit_refresh(deposit_id=deposit.pk).status == Deposit.Status.REVIEW

    open_one, expired = _start(gw), _start(gw)
    gw.stripe.expire(expired.reference)  # no webhook URL yet: only the read finds it
    assert module.fetch_state(expired).outcome == Outcome.EXPIRED
    assert deposit_refresh(deposit_id=expired.pk).status == Deposit.Status.EXPIRED
    gw.stripe.pay(open_one.reference, delayed=True)
    assert module.fetch_state(open_one).outcome == Outcome.PENDING

    lost = Deposit.objects.create(customer=deposit.customer, gateway=gw.gateway, amount=1, pay_amount=1,
                                  currency="USD", credit_amount=1, reference="cs_test_gone")
    with pytest.raises(GatewayError, match="404"):
        module.fetch_state(lost)


# --- Exactly once --------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_return_page_then_webhook_credits_once(live):
    customer = CustomerFactory()
    deposit = _start(live, customer=customer)
    delivery = _paid_unsent(live, deposit)
    client = Client()
    client.force_login(customer.user)
    assert client.get(f"/funds/deposits/{deposit.pk}/").status_code == 200
    assert _money(deposit) == PAID_10
    assert live.sim.replay(delivery) == 200
    assert _money(deposit) == PAID_10


@pytest.mark.django_db(transaction=True)
def test_replay_an_hour_later_credits_once(live):
    deposit = _start(live)
    delivery = live.stripe.pay(deposit.reference)
    assert delivery.status == 200 and _money(deposit) == PAID_10
    # Stripe retries the same event signed anew: answered 200, nothing moves.
    assert _post(live, delivery.body, live.stripe.sign(delivery.body)).status_code == 200
    # The captured request itself, an hour on: its signature's timestamp is stale.
    hour_old = live.stripe.sign(delivery.body, timestamp=int(time.time()) - 3600)
    assert _post(live, delivery.body, hour_old).status_code == 400
    assert deposit_webhook(gateway_name=live.gateway.name, body=delivery.body, headers=delivery.headers)[0] == 200
    assert _money(deposit) == PAID_10


def _race(*calls) -> list:
    """Run `calls` at the same moment, each in its own thread (with its own database connection)."""
    start, results = threading.Barrier(len(calls)), []

    def run(call) -> None:
        start.wait()
        try:
            results.append(call())
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_credit_once(live):
    deposit = _start(live)
    delivery = _paid_unsent(live, deposit)
    statuses = _race(*[lambda: live.sim.replay(delivery)] * 10)
    assert statuses == [200] * 10
    assert _money(deposit) == PAID_10
    assert LedgerEntry.objects.filter(deposit_id=deposit.pk, cause=LedgerEntry.Cause.GATEWAY).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_return_page_racing_the_webhook_credits_once(live):
    customer = CustomerFactory()
    for _ in range(5):
        deposit = _start(live, customer=customer)
        delivery = _paid_unsent(live, deposit)
        results = _race(lambda: deposit_refresh(deposit_id=deposit.pk).status,  # noqa: B023 - run before the loop moves
                        lambda: live.sim.replay(delivery))  # noqa: B023
        assert sorted(results, key=str) == sorted([200, Deposit.Status.PAID], key=str)
        assert LedgerEntry.objects.filter(deposit_id=deposit.pk, cause=LedgerEntry.Cause.GATEWAY).count() == 1
    customer.refresh_from_db()
    assert customer.balance == Decimal("50")
