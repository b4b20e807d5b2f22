"""The order pages through Django's test client: new order, mass order, the orders list, refill, cancel."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import LedgerEntry
from orders.models import CancelRequest, Order, Refill, Source, Status
from tests.factories import CustomerFactory, ServiceFactory

pytestmark = pytest.mark.django_db


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
    # the page prices nothing itself: no rate for a script to multiply, only the quote endpoint
    assert "data-rate" not in html.split('id="order-form"')[1].split(">")[0]


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


def test_subscription_form_is_shown_and_a_bad_delay_is_refused(customer_client, customer, category):
    service = ServiceFactory(category=category, type="Subscriptions", min=10, max=100)
    form = customer_client.get(reverse("order_new"), {"service": service.pk}).context["form"]
    assert list(form.fields) == ["username", "min", "max", "delay", "posts", "old_posts", "expiry"]
    response = customer_client.post(reverse("order_new"), {"service": service.pk, "username": "someone",
                                                           "min": "10", "max": "20", "delay": "7"})
    assert response.status_code == 200
    assert response.context["form"].errors
    assert not Order.objects.exists()


# --- the live charge ---------------------------------------------------------------------------


def test_quote_is_the_server_charge_with_the_customer_discount(customer_client, customer, default_service, settings):
    # given: 2.00 per 1000, no link typed yet
    # when
    response = customer_client.get(reverse("order_quote"), {"service": default_service.pk, "quantity": "1500"})
    # then
    assert response.status_code == 200
    assert response.json() == {"charge": "3.00000", "display": "3.0000", "currency": settings.PANEL_CURRENCY}


def test_quote_rounds_half_up_as_the_order_is_charged(customer_client, customer, category,
                                                      django_capture_on_commit_callbacks):
    # given: 500 at 0.14885 per 1000 is 0.074425, half-way at the fifth decimal
    service = ServiceFactory(category=category, rate=Decimal("0.14885"), min=10, max=5000)
    # when
    quote = customer_client.post(reverse("order_quote"), {"service": service.pk, "quantity": "500"}).json()
    with django_capture_on_commit_callbacks(execute=False):
        customer_client.post(reverse("order_new"), {"service": service.pk, "link": "https://x.com/a",
                                                    "quantity": "500"})
    # then
    assert quote["charge"] == "0.07443" == str(Order.objects.get(customer=customer).charge)


def test_quote_prices_packages_lists_and_drip_feed(customer_client, category, comments_service):
    package = ServiceFactory(category=category, type="Package", rate=Decimal("4.50"), min=1, max=1)
    drip = ServiceFactory(category=category, rate=Decimal("2.00"), min=10, max=5000, dripfeed=True)
    url = reverse("order_quote")

    def charge(**data):
        return customer_client.post(url, data).json()["charge"]

    assert charge(service=package.pk) == "4.50000"  # one package at its rate
    assert charge(service=comments_service.pk, comments="Nice!\n\nGreat post\nWow") == "0.03000"
    assert charge(service=drip.pk, quantity="1500", runs="2", interval="30") == "6.00000"
    assert charge(service=drip.pk, quantity="1500", runs="", interval="") == "3.00000"


@pytest.mark.parametrize("data, message", [
    ({"quantity": "5"}, "Quantity less than minimal 10"),
    ({"quantity": "1,5"}, "Incorrect quantity: must be a whole number"),
    ({"quantity": ""}, "Missing quantity"),
    ({"service": "999999"}, "Incorrect service ID"),
])
def test_quote_refuses_what_cannot_be_priced(customer_client, default_service, data, message):
    response = customer_client.get(reverse("order_quote"), {"service": default_service.pk, **data})
    assert response.status_code == 400
    assert response.json() == {"error": message}


def test_quote_applies_each_customer_own_discount(customer_client, default_service):
    # given: the signed-in customer without a discount, and another customer with 10 % off
    other = Client()
    other.force_login(CustomerFactory(discount_percent=Decimal("10")).user)
    data = {"service": default_service.pk, "quantity": "1000"}
    # when / then
    assert other.get(reverse("order_quote"), data).json()["charge"] == "1.80000"
    assert customer_client.get(reverse("order_quote"), data).json()["charge"] == "2.00000"


def test_quote_needs_a_signed_in_customer(client, default_service):
    response = client.get(reverse("order_quote"), {"service": default_service.pk, "quantity": "1000"})
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_order_form_numbers_are_unlocalized(customer_client, customer, default_service):
    # given: a customer reading the panel in Indonesian (decimal comma)
    customer_client.cookies["django_language"] = "id"
    # when
    html = customer_client.get(reverse("order_new"), {"service": default_service.pk}).content.decode()
    # then
    assert '<html lang="id">' in html
    assert "data-rate=" not in html.split('id="order-form"')[1].split(">")[0]  # nothing for a script to parse
    assert f'data-quote-url="{reverse("order_quote")}"' in html


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


def test_order_page_without_javascript_narrows_services_by_category(customer_client, default_service):
    other = ServiceFactory(name="YouTube Views")
    everything = customer_client.get(reverse("order_new")).context["services"]
    narrowed = customer_client.get(reverse("order_new"), {"category": default_service.category_id}).context
    assert {s.pk for s in everything} == {default_service.pk, other.pk}
    assert [s.pk for s in narrowed["services"]] == [default_service.pk]
    assert narrowed["form"] is None
