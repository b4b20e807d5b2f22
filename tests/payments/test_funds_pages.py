"""The Add funds page, the return page and the webhook endpoint, through Django's test client."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from accounts.models import Deposit, LedgerEntry
from tests.factories import CustomerFactory
from tests.payments.conftest import make_gateway

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("ledger_checked")]


@pytest.fixture
def customer_client(client):
    customer = CustomerFactory()
    client.force_login(customer.user)
    client.customer = customer
    return client


@pytest.fixture
def card(gateway_simulator):
    return make_gateway(gateway_simulator, "stripe", name="card", title="Card", min_amount=Decimal("5"),
                        max_amount=Decimal("500"), fee_percent=Decimal("2.5"))


def test_the_page_lists_enabled_gateways_with_limits_and_fee(customer_client, card, gateway_simulator):
    make_gateway(gateway_simulator, "stripe", name="off", title="Switched off", is_enabled=False)

    page = customer_client.get("/funds/").content.decode()

    assert "Card" in page and "5.00" in page and "500.00" in page and "2.5%" in page
    assert "Switched off" not in page


def test_posting_gateway_and_amount_redirects_to_the_checkout(customer_client, card, gateway_simulator):
    answer = customer_client.post("/funds/", {"gateway": "card", "amount": "20"})

    deposit = Deposit.objects.get(customer=customer_client.customer)
    assert answer.status_code == 302 and answer["Location"] == deposit.checkout_url
    assert deposit.checkout_url.startswith(gateway_simulator.url)
    assert (deposit.status, deposit.amount, deposit.pay_amount) == (Deposit.Status.PENDING, Decimal("20"),
                                                                     Decimal("20.5"))
    assert deposit.reference


@pytest.mark.parametrize(("data", "message"), [
    ({"gateway": "card", "amount": "4.99"}, "between 5 and 500"),
    ({"gateway": "card", "amount": "lots"}, "Enter a number"),
    ({"gateway": "nope", "amount": "20"}, "Select a valid choice"),
])
def test_bad_input_is_a_form_error_and_nothing_is_created(customer_client, card, data, message):
    answer = customer_client.post("/funds/", data)

    assert answer.status_code == 200 and message in answer.content.decode()
    assert not Deposit.objects.exists()


def test_a_gateway_that_cannot_be_reached_is_a_form_error(customer_client, card, gateway_simulator):
    gateway_simulator.stop()

    answer = customer_client.post("/funds/", {"gateway": "card", "amount": "20"})

    assert answer.status_code == 200 and "could not be reached" in answer.content.decode()
    assert Deposit.objects.get().status == Deposit.Status.FAILED


def test_the_quote_says_what_is_paid_and_credited(customer_client, card):
    answer = customer_client.get("/funds/quote/", {"gateway": "card", "amount": "20"}).json()
    assert answer["pay"] == "20.5000 USD" and answer["credit"].startswith("20.00")

    refused = customer_client.get("/funds/quote/", {"gateway": "card", "amount": "1000"})
    assert refused.status_code == 400 and "between" in refused.json()["error"]


def test_another_customers_deposit_is_not_found(customer_client, card, gateway_simulator):
    other = Client()
    someone = CustomerFactory()
    other.force_login(someone.user)
    other.post("/funds/", {"gateway": "card", "amount": "20"})
    deposit = Deposit.objects.get(customer=someone)

    assert customer_client.get(f"/funds/deposits/{deposit.pk}/").status_code == 404
    assert customer_client.get(f"/funds/deposits/{deposit.pk}/status/").status_code == 404
    assert other.get(f"/funds/deposits/{deposit.pk}/").status_code == 200


def test_the_webhook_needs_no_csrf_token_refuses_get_and_unknown_gateways(card):
    client = Client(enforce_csrf_checks=True)

    assert client.get("/payments/card/webhook/").status_code == 405
    assert client.post("/payments/nope/webhook/", b"{}", content_type="application/json").status_code == 404
    # A body that does not verify: refused with a 4xx (not 403 from CSRF, not a 5xx), nothing credited.
    answer = client.post("/payments/card/webhook/", b"{}", content_type="application/json")
    assert answer.status_code == 400
    assert not LedgerEntry.objects.exists()


def test_an_oversized_webhook_is_refused_unread(card, settings):
    settings.PAYMENT_WEBHOOK_MAX_BYTES = 1024

    answer = Client().post("/payments/card/webhook/", b"{" + b" " * 2048 + b"}", content_type="application/json")

    assert answer.status_code == 413
