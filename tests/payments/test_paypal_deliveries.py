"""PayPal, continued: webhooks through the live server, refusals, replays, races with the return page."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from freezegun import freeze_time

from accounts.deposits import deposit_refresh, deposit_webhook
from accounts.models import Deposit
from tests.payments.test_paypal import (  # noqa: F401 - helpers and fixtures
    COMPLETED,
    PAID_10,
    UNPAID,
    _captured_unsent,
    _money,
    _post,
    _start,
    live,
    pay,
)

pytestmark = pytest.mark.usefixtures("ledger_checked")


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
