"""The API key cache (accounts.keycache): served without the database, and never wrong after a change."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts import keycache
from accounts.models import Customer
from accounts.selectors import customer_by_api_key, customer_by_cached_api_key
from accounts.services import api_key_digest, api_key_generate
from tests.api.conftest import answer_of, api_call
from tests.factories import CustomerFactory, ServiceFactory

pytestmark = pytest.mark.django_db


def _balance(client, key: str) -> dict:
    return answer_of(api_call(client, "form", {"key": key, "action": "balance"}))


def test_a_key_found_once_is_served_from_the_cache(django_assert_num_queries):
    # given
    customer = CustomerFactory()
    assert customer_by_api_key(customer.raw_api_key) == customer

    # when
    with django_assert_num_queries(0):
        cached = customer_by_cached_api_key(customer.raw_api_key)

    # then: the balance is not part of it, and loads fresh when read
    assert cached == customer and cached.user_id == customer.user_id
    assert cached.get_deferred_fields() >= {"balance"}


def test_a_new_key_refuses_the_old_one_at_once(client):
    # given: the old key was used, so it is cached
    customer = CustomerFactory(funds="1")
    old_key = customer.raw_api_key
    assert "balance" in _balance(client, old_key)

    # when
    new_key = api_key_generate(customer=customer)

    # then
    assert _balance(client, old_key) == {"error": "Invalid API key"}
    assert _balance(client, new_key)["balance"] == "1.00"


@pytest.mark.parametrize("switch_off", ["customer", "user"])
def test_a_customer_switched_off_is_refused_at_once(client, switch_off):
    # given
    customer = CustomerFactory(funds="1")
    assert "balance" in _balance(client, customer.raw_api_key)

    # when: as the admin's change forms save them
    if switch_off == "customer":
        customer.is_active = False
        customer.save(update_fields=["is_active"])
    else:
        customer.user.is_active = False
        customer.user.save()

    # then
    assert _balance(client, customer.raw_api_key) == {"error": "Invalid API key"}


def test_the_customers_admin_form_refuses_the_key_at_once(admin_client, client):
    # given
    customer = CustomerFactory(funds="1")
    assert "balance" in _balance(client, customer.raw_api_key)

    # when: "active" unticked in the admin
    url = reverse("admin:accounts_customer_change", args=[customer.pk])
    page = admin_client.get(url).content.decode()
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
    saved = admin_client.post(url, hidden | {"discount_percent": "0", "timezone": "UTC", "_save": "Save"})
    assert saved.status_code == 302

    # then
    assert not Customer.objects.get(pk=customer.pk).is_active
    assert _balance(client, customer.raw_api_key) == {"error": "Invalid API key"}


def test_a_new_discount_prices_the_next_order_and_the_next_list(client):
    # given: the key and the catalogue are cached at no discount
    customer = CustomerFactory(funds="100")
    service = ServiceFactory(rate=Decimal("2.00"))
    key = customer.raw_api_key
    assert answer_of(api_call(client, "form", {"key": key, "action": "services"}))[0]["rate"] == "2.00"

    # when
    customer.discount_percent = Decimal("25")
    customer.save(update_fields=["discount_percent"])

    # then
    listed = answer_of(api_call(client, "form", {"key": key, "action": "services"}))
    order = answer_of(api_call(client, "form", {"key": key, "action": "add", "service": service.pk,
                                                "link": "https://x.com/a", "quantity": 1000}))
    status = answer_of(api_call(client, "form", {"key": key, "action": "status", "order": order["order"]}))
    assert listed[0]["rate"] == "1.50" and status["charge"] == "1.50"


def test_a_balance_moving_keeps_the_entry(django_assert_num_queries):
    # given
    customer = CustomerFactory(funds="5")
    customer_by_api_key(customer.raw_api_key)

    # when: a charge or a deposit saves the customer's balance
    from accounts.services import balance_deposit
    balance_deposit(customer_id=customer.pk, amount="1", note="top-up")

    # then
    with django_assert_num_queries(0):
        assert customer_by_cached_api_key(customer.raw_api_key) == customer


def test_an_answer_read_before_a_change_is_not_cached_after_it():
    # given: a request read the customer while it was still active...
    customer = CustomerFactory()
    read_before = Customer.objects.get(pk=customer.pk)

    # when: ...the admin switched it off (forgetting the key), and only then did that request write its entry
    customer.is_active = False
    customer.save(update_fields=["is_active"])
    keycache.remember(read_before)

    # then
    assert customer_by_cached_api_key(customer.raw_api_key) is None
    assert customer_by_api_key(customer.raw_api_key) is None


def test_an_unknown_key_is_not_cached():
    # when
    assert customer_by_api_key("f" * 32) is None

    # then
    assert keycache.cached_customer(api_key_digest("f" * 32)) is None
