"""Every customer page through Django's test client: what it shows and what its forms refuse."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import Customer, LedgerEntry, PaymentRequest
from accounts.selectors import customer_by_api_key
from accounts.services import balance_refund, payment_request_approve
from orders.models import CancelRequest, Order, Refill, Source, Status
from tests.factories import CustomerFactory, ServiceFactory
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
    ({"username": "taken"}, "username", "This username is taken."),
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


# --- new order -------------------------------------------------------------------------------


def test_order_form_shows_the_fields_of_the_service_type(customer_client, default_service, comments_service):
    default = customer_client.get(reverse("order_new"), {"service": default_service.pk}).context["form"]
    comments = customer_client.get(reverse("order_new"), {"service": comments_service.pk}).context["form"]
    assert list(default.fields) == ["link", "quantity"]  # no drip-feed: the service does not allow it
    assert list(comments.fields) == ["link", "comments"]


def test_drip_feed_fields_only_where_the_service_allows_it(customer_client, category):
    service = ServiceFactory(category=category, dripfeed=True)
    response = customer_client.get(reverse("order_new"), {"service": service.pk})
    assert list(response.context["form"].fields) == ["link", "quantity", "runs", "interval"]
    assert b"Drip-feed" in response.content


def test_order_page_shows_min_max_rate_description_and_badges(customer_client, customer, category):
    customer.discount_percent = Decimal("10")
    customer.save()
    service = ServiceFactory(category=category, rate=Decimal("3.00"), min=50, max=7000, description="Fast start",
                             refill=True, cancel=False)
    html = customer_client.get(reverse("order_new"), {"service": service.pk}).content.decode()
    assert "2.70" in html  # the customer's own price
    assert ">50<" in html and ">7000<" in html and "Fast start" in html
    assert 'data-rate="2.70000"' in html and 'data-mode="quantity"' in html


def test_placing_a_default_order_charges_and_enqueues(customer_client, customer, default_service,
                                                      django_capture_on_commit_callbacks):
    # when
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = customer_client.post(reverse("order_new"), {
            "service": default_service.pk, "link": "https://instagram.com/p/xyz", "quantity": "1500"})
    # then
    assert response.status_code == 302 and response["Location"] == reverse("orders")
    order = Order.objects.get(customer=customer)
    assert (order.charge, order.quantity, order.source) == (Decimal("3.00000"), 1500, Source.WEB)
    customer.refresh_from_db()
    assert customer.balance == Decimal("97.00")
    assert len(callbacks) == 1


def test_placing_a_custom_comments_order_counts_the_lines(customer_client, customer, comments_service,
                                                          django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        customer_client.post(reverse("order_new"), {
            "service": comments_service.pk, "link": "https://instagram.com/p/xyz",
            "comments": "Nice!\nGreat post\n\nWow"})
    order = Order.objects.get(customer=customer)
    assert order.quantity == 3 and order.charge == Decimal("0.03000")
    assert order.comments == "Nice!\nGreat post\nWow"


def test_insufficient_funds_is_a_form_error_and_charges_nothing(client, default_service,
                                                                django_capture_on_commit_callbacks):
    # given
    poor = CustomerFactory(funds=Decimal("1"))
    client.force_login(poor.user)
    # when: 5000 at 2.00 per 1000 = 10.00
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("order_new"), {
            "service": default_service.pk, "link": "https://instagram.com/p/xyz", "quantity": "5000"})
    # then
    assert response.status_code == 200
    assert "Not enough funds on balance" in response.content.decode()
    poor.refresh_from_db()
    assert poor.balance == Decimal("1") and not Order.objects.exists() and not callbacks
    assert LedgerEntry.objects.filter(customer=poor).count() == 1  # only the deposit


@pytest.mark.parametrize("data, field, message", [
    ({"quantity": "5"}, "quantity", "Quantity less than minimal 10"),
    ({"quantity": "99999"}, "quantity", "Quantity more than maximal 5000"),
    ({"quantity": "many"}, "quantity", "must be a whole number"),
    ({"link": "not a link"}, "link", "must be an http(s) URL"),
    ({"link": ""}, "link", "Missing link"),
])
def test_bad_fields_are_field_errors_and_charge_nothing(customer_client, customer, default_service, data, field,
                                                        message):
    payload = {"service": default_service.pk, "link": "https://instagram.com/p/xyz", "quantity": "100", **data}
    response = customer_client.post(reverse("order_new"), payload)
    assert response.status_code == 200
    assert any(message in error for error in response.context["form"].errors[field])
    customer.refresh_from_db()
    assert customer.balance == Decimal("100") and not Order.objects.exists()


def test_an_unavailable_service_is_refused(customer_client, customer, default_service):
    default_service.is_active = False
    default_service.save()
    response = customer_client.post(reverse("order_new"), {"service": default_service.pk,
                                                           "link": "https://x.com/a", "quantity": "100"})
    assert response.status_code == 200 and response.context["form"] is None
    assert "not available" in response.content.decode()
    assert not Order.objects.exists()


def test_subscription_form_is_shown_and_the_server_refusal_is_displayed(customer_client, customer, category):
    service = ServiceFactory(category=category, type="Subscriptions", min=10, max=100)
    form = customer_client.get(reverse("order_new"), {"service": service.pk}).context["form"]
    assert list(form.fields) == ["username", "min", "max", "delay", "posts", "old_posts", "expiry"]
    response = customer_client.post(reverse("order_new"), {"service": service.pk, "username": "someone",
                                                           "min": "10", "max": "20", "delay": "0"})
    assert response.status_code == 200
    assert response.context["form"].errors
    assert not Order.objects.exists()


# --- mass order ------------------------------------------------------------------------------


def test_mass_order_places_good_lines_and_reports_bad_ones(customer_client, customer, default_service,
                                                           django_capture_on_commit_callbacks):
    text = (f"{default_service.pk} | https://instagram.com/p/1 | 100\n"
            f"999999 | https://instagram.com/p/2 | 100\n"
            f"{default_service.pk} | https://instagram.com/p/3 | 5\n"
            "just garbage\n"
            f"{default_service.pk} | https://instagram.com/p/4 | 200\n")
    with django_capture_on_commit_callbacks(execute=False):
        response = customer_client.post(reverse("order_mass"), {"orders": text})
    results = response.context["results"]
    assert [bool(r.order) for r in results] == [True, False, False, False, True]
    assert results[1].error == "Incorrect service ID"
    assert "minimal" in results[2].error and "format" in results[3].error
    orders = Order.objects.filter(customer=customer)
    assert orders.count() == 2 and {o.source for o in orders} == {Source.MASS}
    customer.refresh_from_db()
    assert customer.balance == Decimal("100") - Decimal("0.2") - Decimal("0.4")


def test_mass_order_line_beyond_the_balance_charges_nothing(client, default_service,
                                                             django_capture_on_commit_callbacks):
    poor = CustomerFactory(funds=Decimal("1"))
    client.force_login(poor.user)
    text = f"{default_service.pk} | https://a.com/1 | 400\n{default_service.pk} | https://a.com/2 | 400\n"
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(reverse("order_mass"), {"orders": text})
    results = response.context["results"]
    assert bool(results[0].order) and results[1].error == "Not enough funds on balance"
    poor.refresh_from_db()
    assert poor.balance == Decimal("0.2")


# --- orders list, refill and cancel ----------------------------------------------------------


def test_orders_list_filters_by_status_and_searches_by_id_and_link(customer_client, customer, default_service,
                                                                   make_order):
    first = make_order(customer=customer, service=default_service, link="https://instagram.com/p/first")
    second = make_order(customer=customer, service=default_service, link="https://instagram.com/p/second",
                        status=Status.COMPLETED, upstream_id="7")

    def ids(**params):
        return [o.pk for o in customer_client.get(reverse("orders"), params).context["page"].object_list]

    assert ids() == [second.pk, first.pk]
    assert ids(status=Status.COMPLETED) == [second.pk]
    assert ids(q=str(first.pk)) == [first.pk]
    assert ids(q="p/second") == [second.pk]
    assert ids(q="nothing-like-it") == []


def test_orders_list_paginates(customer_client, customer, default_service):
    Order.objects.bulk_create([
        Order(customer=customer, service=default_service, provider=default_service.provider, link=f"https://a.com/{i}",
              quantity=100, rate=Decimal("2")) for i in range(120)
    ])
    page1 = customer_client.get(reverse("orders")).context["page"]
    page3 = customer_client.get(reverse("orders"), {"page": 3}).context["page"]
    assert len(page1.object_list) == 50 and len(page3.object_list) == 20
    assert page1.paginator.count == 120


def test_refill_and_cancel_buttons_only_where_allowed(customer_client, customer, default_service, comments_service,
                                                      make_order):
    pending = make_order(customer=customer, service=default_service)
    completed = make_order(customer=customer, service=default_service, status=Status.COMPLETED, upstream_id="5")
    no_features = make_order(customer=customer, service=comments_service, comments="a\nb",
                             status=Status.COMPLETED, upstream_id="6")
    html = customer_client.get(reverse("orders")).content.decode()
    assert reverse("order_cancel", args=[pending.pk]) in html
    assert reverse("order_refill", args=[pending.pk]) not in html
    assert reverse("order_refill", args=[completed.pk]) in html
    assert reverse("order_cancel", args=[completed.pk]) not in html
    assert reverse("order_refill", args=[no_features.pk]) not in html
    assert reverse("order_cancel", args=[no_features.pk]) not in html


def test_refill_creates_a_refill_listed_with_its_status(customer_client, customer, default_service, make_order):
    order = make_order(customer=customer, service=default_service, status=Status.COMPLETED, upstream_id="5")
    response = customer_client.post(reverse("order_refill", args=[order.pk]), follow=True)
    refill = Refill.objects.get(order=order)
    assert "Refill requested" in response.content.decode()
    assert list(response.context["page"].object_list) == [refill]
    # a second one while the first is open is refused with the reason
    response = customer_client.post(reverse("order_refill", args=[order.pk]), follow=True)
    assert "already in progress" in response.content.decode()
    assert Refill.objects.filter(order=order).count() == 1


def test_cancel_of_an_unsent_order_refunds_it(customer_client, customer, default_service, make_order):
    order = make_order(customer=customer, service=default_service)
    response = customer_client.post(reverse("order_cancel", args=[order.pk]), follow=True)
    assert "Cancellation requested" in response.content.decode()
    order.refresh_from_db()
    customer.refresh_from_db()
    assert order.status == Status.CANCELED and order.refunded == order.charge
    assert customer.balance == Decimal("100")
    assert CancelRequest.objects.filter(order=order).exists()


def test_order_detail_page(customer_client, customer, default_service, make_order):
    order = make_order(customer=customer, service=default_service, link="https://instagram.com/p/detail")
    response = customer_client.get(reverse("order_detail", args=[order.pk]))
    assert response.status_code == 200 and "https://instagram.com/p/detail" in response.content.decode()


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
    balance_refund(order_id=order.pk, amount=Decimal("0.5"), cause=LedgerEntry.Cause.PARTIAL)
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


def test_order_page_without_javascript_narrows_services_by_category(customer_client, default_service):
    other = ServiceFactory(name="YouTube Views")
    everything = customer_client.get(reverse("order_new")).context["services"]
    narrowed = customer_client.get(reverse("order_new"), {"category": default_service.category_id}).context
    assert {s.pk for s in everything} == {default_service.pk, other.pk}
    assert [s.pk for s in narrowed["services"]] == [default_service.pk]
    assert narrowed["form"] is None
