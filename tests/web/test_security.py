"""CSRF on every form, one customer never reaching another's data, login throttling, bounded queries."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from accounts.models import PaymentRequest
from accounts.services import payment_request_create
from orders.models import CancelRequest, Order, Refill, Status
from panel.web import throttle
from tests.factories import CustomerFactory
from tests.web.conftest import PASSWORD

pytestmark = pytest.mark.django_db


# --- CSRF ------------------------------------------------------------------------------------


@pytest.fixture
def csrf_client(customer):
    client = Client(enforce_csrf_checks=True)
    client.force_login(customer.user)
    return client


@pytest.mark.parametrize("url_name, args, data", [
    ("order_new", [], {"link": "https://a.com/x", "quantity": "100"}),
    ("order_mass", [], {"orders": "1 | https://a.com/x | 100"}),
    ("order_refill", [1], {}),
    ("order_cancel", [1], {}),
    ("funds", [], {"amount": "10", "method": "bank_transfer"}),
    ("api_key_regenerate", [], {"confirm": "on"}),
    ("account", [], {"action": "timezone", "timezone": "Asia/Jakarta"}),
    ("logout", [], {}),
])
def test_every_form_needs_the_csrf_token(csrf_client, customer, default_service, url_name, args, data):
    if "link" in data:
        data = {**data, "service": default_service.pk}
    key_before = customer.api_key_digest
    response = csrf_client.post(reverse(url_name, args=args), data)
    assert response.status_code == 403
    customer.refresh_from_db()
    assert customer.api_key_digest == key_before and customer.timezone == "UTC"
    assert not Order.objects.exists() and not PaymentRequest.objects.exists()


def test_login_and_signup_need_the_csrf_token(customer):
    client = Client(enforce_csrf_checks=True)
    assert client.post(reverse("login"), {"username": customer.username, "password": PASSWORD}).status_code == 403
    assert client.post(reverse("signup"), {"username": "x"}).status_code == 403


def test_pages_carry_the_csrf_token_in_their_forms(customer_client, default_service):
    for name in ("order_mass", "funds", "api_access", "account"):
        assert b"csrfmiddlewaretoken" in customer_client.get(reverse(name)).content
    page = customer_client.get(reverse("order_new"), {"service": default_service.pk}).content
    assert b"csrfmiddlewaretoken" in page


# --- isolation -------------------------------------------------------------------------------


@pytest.fixture
def victim_order(default_service, make_order):
    victim = CustomerFactory(funds=Decimal("50"))
    return make_order(customer=victim, service=default_service, link="https://victim.example/secret",
                      status=Status.COMPLETED, upstream_id="77")


def test_another_customers_order_is_not_found(customer_client, victim_order):
    response = customer_client.get(reverse("order_detail", args=[victim_order.pk]))
    assert response.status_code == 404
    assert b"victim.example" not in response.content


def test_another_customers_orders_are_not_listed_nor_found_by_search(customer_client, victim_order):
    for params in ({}, {"q": str(victim_order.pk)}, {"q": "victim"}, {"status": Status.COMPLETED}):
        response = customer_client.get(reverse("orders"), params)
        assert list(response.context["page"].object_list) == []
        assert b"victim.example" not in response.content
    assert b"victim.example" not in customer_client.get(reverse("dashboard")).content


def test_refill_of_another_customers_order_is_refused(customer_client, victim_order):
    response = customer_client.post(reverse("order_refill", args=[victim_order.pk]), follow=True)
    assert "Incorrect order ID" in response.content.decode()
    assert not Refill.objects.exists()


def test_cancel_of_another_customers_order_is_refused(customer_client, default_service, make_order):
    victim = CustomerFactory(funds=Decimal("50"))
    order = make_order(customer=victim, service=default_service)
    response = customer_client.post(reverse("order_cancel", args=[order.pk]), follow=True)
    assert "Incorrect order ID" in response.content.decode()
    order.refresh_from_db()
    assert order.status == Status.PENDING and not CancelRequest.objects.exists()


def test_another_customers_refills_payments_and_ledger_are_not_shown(customer_client, victim_order):
    Refill.objects.create(order=victim_order)
    payment_request_create(customer_id=victim_order.customer_id, amount=Decimal("33.33"), method="bank_transfer",
                           reference="VICTIM-REF")
    assert list(customer_client.get(reverse("refills")).context["page"].object_list) == []
    assert b"VICTIM-REF" not in customer_client.get(reverse("funds")).content
    entries = customer_client.get(reverse("transactions")).context["page"].object_list
    assert all(entry.customer_id != victim_order.customer_id for entry in entries)


# --- login throttling ------------------------------------------------------------------------


def _login(client, username, password, ip="10.0.0.1"):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_repeated_failures_lock_the_username_from_that_address(client, customer):
    # given: the limit of wrong passwords
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        assert _login(client, customer.username, "wrong").status_code == 200
    # when: the right password
    response = _login(client, customer.username, PASSWORD)
    # then: still refused, with a clear message
    assert response.status_code == 200
    assert "Too many failed sign-in attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_lock_is_per_address_and_per_username(client, customer):
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        _login(client, customer.username, "wrong")
    other = CustomerFactory()
    assert _login(Client(), customer.username, PASSWORD, ip="10.0.0.2").status_code == 302
    assert _login(Client(), other.username, PASSWORD).status_code == 302


def test_the_lock_is_case_insensitive_on_the_username(client, customer):
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        _login(client, customer.username.upper(), "wrong")
    assert "Too many failed" in _login(client, customer.username, PASSWORD).content.decode()


def test_a_success_before_the_limit_resets_the_count(client, customer):
    for _ in range(settings.LOGIN_FAILURE_LIMIT - 1):
        _login(client, customer.username, "wrong")
    assert _login(client, customer.username, PASSWORD).status_code == 302
    client.logout()
    for _ in range(settings.LOGIN_FAILURE_LIMIT - 1):
        _login(client, customer.username, "wrong")
    assert _login(client, customer.username, PASSWORD).status_code == 302


def test_the_lock_expires(client, customer):
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        _login(client, customer.username, "wrong")
    assert throttle.login_locked(username=customer.username, ip="10.0.0.1")
    # the cache entry's timeout is the lock; dropping it is what its expiry does
    from django.core.cache import cache

    cache.delete(throttle._key(username=customer.username, ip="10.0.0.1"))
    assert _login(client, customer.username, PASSWORD).status_code == 302


# --- bounded queries -------------------------------------------------------------------------


def test_orders_page_runs_a_constant_number_of_queries_for_10000_orders(
    customer_client, customer, default_service, django_assert_max_num_queries
):
    # given: 10,000 orders, some with open refills and cancels
    Order.objects.bulk_create(
        [Order(customer=customer, service=default_service, provider=default_service.provider,
               link=f"https://instagram.com/p/{i}", quantity=100, rate=Decimal("2"),
               status=Status.COMPLETED if i % 2 else Status.IN_PROGRESS, upstream_id=str(i)) for i in range(10_000)],
        batch_size=2000,
    )
    some = list(Order.objects.filter(customer=customer).order_by("-id")[:10])
    Refill.objects.bulk_create([Refill(order=o) for o in some if o.status == Status.COMPLETED])
    CancelRequest.objects.bulk_create([CancelRequest(order=o) for o in some if o.status == Status.IN_PROGRESS])
    # when / then: session, user, customer (x2: middleware and view), count, page, messages... but not per row
    with django_assert_max_num_queries(10):
        response = customer_client.get(reverse("orders"))
    assert response.status_code == 200 and response.context["page"].paginator.count == 10_000
    with django_assert_max_num_queries(10):
        customer_client.get(reverse("orders"), {"page": 150, "status": Status.COMPLETED, "q": "instagram"})
    with django_assert_max_num_queries(12):
        customer_client.get(reverse("dashboard"))


# --- cookies outside DEBUG -------------------------------------------------------------------


def test_cookies_are_secure_outside_debug():
    code = ("import django, os; os.environ['DJANGO_SETTINGS_MODULE']='panel.settings'; django.setup();"
            "from django.conf import settings as s;"
            "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY)")
    env = {**os.environ, "DEBUG": "0", "SECRET_KEY": "x"}
    env.pop("SECURE_COOKIES", None)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
                         cwd=settings.BASE_DIR)
    assert out.stdout.split() == ["True", "True", "True"]
