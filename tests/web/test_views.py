"""Every customer page through Django's test client: what it shows and what its forms refuse."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import Customer, LedgerEntry, PaymentRequest
from accounts.selectors import customer_by_api_key
from accounts.services import payment_request_approve
from orders.charges import order_refund
from orders.models import Order, Status
from tests.factories import ServiceFactory
from tests.web.conftest import PASSWORD

pytestmark = pytest.mark.django_db

CUSTOMER_PAGES = ["dashboard", "order_new", "order_mass", "orders", "refills", "services", "funds", "transactions",
                  "api_access", "account"]


@pytest.mark.parametrize("name", CUSTOMER_PAGES)
def test_pages_need_login(client, name):
    # when
    response = client.get(reverse(name))
    # then
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("name", CUSTOMER_PAGES)
def test_every_page_renders_for_a_customer(customer_client, default_service, name):
    response = customer_client.get(reverse(name))
    assert response.status_code == 200
    assert b"<form" in response.content  # at least the language switch and log-out


def test_staff_user_without_customer_gets_a_clear_page(client, django_user_model):
    user = django_user_model.objects.create_user("staff", password=PASSWORD, is_staff=True)
    client.force_login(user)
    response = client.get(reverse("dashboard"))
    assert response.status_code == 403
    assert b"No customer account" in response.content


# --- sign up, log in, password reset ---------------------------------------------------------


def test_signup_creates_customer_with_key_and_signs_in(client):
    # when
    response = client.post(reverse("signup"), {"username": "alice", "email": "alice@example.com",
                                                "password1": "Very-secret-42", "password2": "Very-secret-42"})
    # then
    assert response.status_code == 302 and response["Location"] == reverse("dashboard")
    customer = Customer.objects.get(user__username="alice")
    assert customer.balance == 0 and customer.api_key_prefix
    assert client.get(reverse("dashboard")).status_code == 200


@pytest.mark.parametrize("data, field, message", [
    ({"password2": "other-password-1"}, "password2", "The two passwords differ."),
    ({"password1": "123", "password2": "123"}, "password1", "too short"),
    ({"username": "taken"}, "username", "This username is not available"),
    ({"email": "not-an-email"}, "email", "valid email"),
    ({"username": "bad name!"}, "username", "Use only letters"),
])
def test_signup_errors(client, django_user_model, data, field, message):
    django_user_model.objects.create_user("taken", password=PASSWORD)
    payload = {"username": "bob", "email": "bob@example.com", "password1": "Very-secret-42",
               "password2": "Very-secret-42", **data}
    response = client.post(reverse("signup"), payload)
    assert response.status_code == 200
    assert any(message in error for error in response.context["form"].errors[field])
    assert not Customer.objects.filter(user__username="bob").exists()


def test_login_and_logout(client, customer):
    response = client.post(reverse("login"), {"username": customer.username, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("dashboard")
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get(reverse("dashboard")).status_code == 302


def test_login_with_a_wrong_password_is_a_form_error(client, customer):
    response = client.post(reverse("login"), {"username": customer.username, "password": "wrong"})
    assert response.status_code == 200
    assert "correct username and password" in response.content.decode()


def test_password_reset_sends_a_link_that_sets_a_new_password(client, customer):
    # when
    response = client.post(reverse("password_reset"), {"email": customer.user.email})
    # then
    assert response.status_code == 302 and response["Location"] == reverse("password_reset_done")
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^/]+(/password-reset/\S+/)", mail.outbox[0].body).group(1)
    response = client.get(link, follow=True)
    assert response.status_code == 200 and response.context["validlink"]
    response = client.post(response.redirect_chain[-1][0], {"new_password1": "Brand-new-pass-9",
                                                            "new_password2": "Brand-new-pass-9"})
    assert response["Location"] == reverse("password_reset_complete")
    assert client.login(username=customer.username, password="Brand-new-pass-9")


# --- dashboard -------------------------------------------------------------------------------


def test_dashboard_shows_balance_spent_status_counts_and_recent_orders(customer_client, customer, default_service,
                                                                     make_order):
    # given: two orders of 1.00 and 0.20; the second completed
    make_order(customer=customer, service=default_service, quantity="500")
    make_order(customer=customer, service=default_service, quantity="100", status=Status.COMPLETED,
               upstream_id="9")
    # when
    response = customer_client.get(reverse("dashboard"))
    # then
    html = response.content.decode()
    assert response.context["total_spent"] == Decimal("1.20")
    assert "98.80" in html and "1.20" in html
    counts = {value: count for value, _label, count in response.context["status_counts"]}
    assert counts[Status.PENDING] == 1 and counts[Status.COMPLETED] == 1
    assert len(response.context["recent"]) == 2


# --- services --------------------------------------------------------------------------------


def test_services_page_lists_by_category_with_the_customers_price_and_searches(customer_client, customer, category):
    customer.discount_percent = Decimal("25")
    customer.save()
    followers = ServiceFactory(category=category, name="Followers Real", rate=Decimal("4.00"))
    ServiceFactory(name="YouTube Views", rate=Decimal("1.00"))
    ServiceFactory(category=category, name="Hidden", is_active=False)
    response = customer_client.get(reverse("services"))
    names = [s.name for _cat, services in response.context["groups"] for s in services]
    assert sorted(names) == ["Followers Real", "YouTube Views"]
    assert "3.00" in response.content.decode()  # 4.00 less 25 %
    found = customer_client.get(reverse("services"), {"q": "followers"}).context["groups"]
    assert [s.pk for _c, services in found for s in services] == [followers.pk]


# --- funds and transactions ------------------------------------------------------------------


def test_payment_request_is_filed_listed_and_credited_once_on_approval(customer_client, customer):
    # when
    response = customer_client.post(reverse("funds"), {"amount": "25.50", "method": "bank_transfer",
                                                       "reference": "TX-123"}, follow=True)
    # then
    payment = PaymentRequest.objects.get(customer=customer)
    assert (payment.amount, payment.status) == (Decimal("25.50"), PaymentRequest.Status.PENDING)
    assert "TX-123" in response.content.decode()
    assert payment_request_approve(payment_request_id=payment.pk)
    assert not payment_request_approve(payment_request_id=payment.pk)
    customer.refresh_from_db()
    assert customer.balance == Decimal("125.50")
    html = customer_client.get(reverse("transactions")).content.decode()
    assert "+25.50" in html and "125.50" in html


@pytest.mark.parametrize("data, field", [
    ({"amount": "0"}, "amount"), ({"amount": "-5"}, "amount"), ({"amount": "abc"}, "amount"),
    ({"amount": "1.234"}, "amount"), ({"method": "gold-bars"}, "method"),
])
def test_payment_request_errors(customer_client, customer, data, field):
    payload = {"amount": "10", "method": "bank_transfer", "reference": "", **data}
    response = customer_client.post(reverse("funds"), payload)
    assert response.status_code == 200 and field in response.context["form"].errors
    assert not PaymentRequest.objects.exists()


def test_transactions_show_charges_and_refunds(customer_client, customer, default_service, make_order):
    order = make_order(customer=customer, service=default_service, quantity="1000")
    order_refund(order_id=order.pk, amount=Decimal("0.5"), cause=LedgerEntry.Cause.PARTIAL)
    response = customer_client.get(reverse("transactions"))
    page = response.context["page"]
    assert [(e.kind, e.amount) for e in page.object_list] == [
        ("refund", Decimal("0.5")), ("charge", Decimal("-2")), ("deposit", Decimal("100"))]
    html = response.content.decode()
    assert f"Order #{order.pk}" in html and "Partial" in html and "+0.50" in html and "-2.00" in html


# --- API key ---------------------------------------------------------------------------------


def test_api_page_shows_only_the_prefix(customer_client, customer):
    html = customer_client.get(reverse("api_access")).content.decode()
    assert customer.api_key_prefix in html and customer.raw_api_key not in html


def test_new_key_needs_confirmation(customer_client, customer):
    old_digest = customer.api_key_digest
    response = customer_client.post(reverse("api_key_regenerate"), {})
    assert response.status_code == 400 and "confirm" in response.context["form"].errors
    customer.refresh_from_db()
    assert customer.api_key_digest == old_digest


def test_new_key_is_shown_once_and_the_old_one_stops_working(customer_client, customer):
    old_key = customer.raw_api_key
    # when
    response = customer_client.post(reverse("api_key_regenerate"), {"confirm": "on"}, follow=True)
    # then
    new_key = response.context["new_key"]
    assert new_key and new_key in response.content.decode()
    assert customer_by_api_key(new_key) == customer
    assert customer_by_api_key(old_key) is None
    assert customer_client.get(reverse("api_access")).context["new_key"] is None


# --- account, time zone, language ------------------------------------------------------------


def test_change_password(customer_client, customer):
    response = customer_client.post(reverse("account"), {
        "action": "password", "old_password": PASSWORD, "new_password1": "Another-pass-77",
        "new_password2": "Another-pass-77"})
    assert response.status_code == 302
    customer.user.refresh_from_db()
    assert customer.user.check_password("Another-pass-77")
    assert customer_client.get(reverse("dashboard")).status_code == 200  # still signed in


def test_change_password_with_a_wrong_old_password_is_refused(customer_client, customer):
    response = customer_client.post(reverse("account"), {
        "action": "password", "old_password": "nope", "new_password1": "Another-pass-77",
        "new_password2": "Another-pass-77"})
    assert response.status_code == 200 and "old_password" in response.context["password_form"].errors
    customer.user.refresh_from_db()
    assert customer.user.check_password(PASSWORD)


def test_times_are_shown_in_the_customers_time_zone(customer_client, customer, default_service, make_order):
    order = make_order(customer=customer, service=default_service)
    Order.objects.filter(pk=order.pk).update(created_at="2026-01-15T10:30:00Z")
    assert "10:30" in customer_client.get(reverse("orders")).content.decode()
    # when
    response = customer_client.post(reverse("account"), {"action": "timezone", "timezone": "Asia/Jakarta"})
    # then
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.timezone == "Asia/Jakarta"
    assert "17:30" in customer_client.get(reverse("orders")).content.decode()  # UTC+7


def test_unknown_time_zone_is_refused(customer_client, customer):
    response = customer_client.post(reverse("account"), {"action": "timezone", "timezone": "Mars/Olympus"})
    assert response.status_code == 200 and "timezone" in response.context["timezone_form"].errors
    customer.refresh_from_db()
    assert customer.timezone == "UTC"


def test_switching_to_indonesian(customer_client):
    response = customer_client.post(reverse("set_language"), {"language": "id", "next": reverse("dashboard")},
                                    follow=True)
    html = response.content.decode()
    assert 'lang="id"' in html
    assert "Pesanan baru" in html and "Saldo" in html  # "New order", "Balance"
    customer_client.post(reverse("set_language"), {"language": "en", "next": reverse("dashboard")})
    assert "New order" in customer_client.get(reverse("dashboard")).content.decode()
