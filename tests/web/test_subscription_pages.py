"""Subscriptions and drip-feed in the browser: ordering, what the lists and the detail show, cancel."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from orders.models import CancelRequest, Order, Stage, Status
from orders.subscriptions import OUT_OF_FUNDS
from tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def subscription_service(category):
    return ServiceFactory(name="Instagram Auto Likes", category=category, type="Subscriptions",
                          rate=Decimal("2.00"), min=10, max=1000, cancel=True)


@pytest.fixture
def dripfeed_service(category):
    return ServiceFactory(name="Instagram Views", category=category, rate=Decimal("2.00"), min=10, max=5000,
                          dripfeed=True, cancel=True)


def _post_order(client, data, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        return client.post(reverse("order_new"), data)


def test_a_prepaid_subscription_is_ordered_in_the_browser(customer_client, customer, subscription_service,
                                                          django_capture_on_commit_callbacks):
    # given
    expiry = (dt.date.today() + dt.timedelta(days=20)).strftime("%d/%m/%Y")

    # when
    response = _post_order(customer_client, {
        "service": subscription_service.pk, "username": "natgeo", "min": "50", "max": "200", "delay": "30",
        "posts": "4", "old_posts": "1", "expiry": expiry}, django_capture_on_commit_callbacks)

    # then: (4 + 1) × 200 units at 2.00 per 1000
    assert response.status_code == 302
    order = Order.objects.get(customer=customer)
    assert (order.sub_posts, order.sub_old_posts, order.sub_max, order.charge) == (4, 1, 200, Decimal("2"))
    customer.refresh_from_db()
    assert customer.balance == Decimal("98")


def test_an_unlimited_subscription_is_ordered_in_the_browser_with_nothing_charged(
        customer_client, customer, subscription_service, django_capture_on_commit_callbacks):
    response = _post_order(customer_client, {
        "service": subscription_service.pk, "username": "natgeo", "min": "50", "max": "200", "delay": "0"},
        django_capture_on_commit_callbacks)
    assert response.status_code == 302
    order = Order.objects.get(customer=customer)
    assert order.sub_posts is None and order.charge == 0
    customer.refresh_from_db()
    assert customer.balance == Decimal("100")


@pytest.mark.parametrize(("field", "value", "error"), [
    ("expiry", "01/01/2020", "must be a future date"),
    ("old_posts", "-1", "must be at least 0"),
    ("min", "500", "must not be more than max"),
])
def test_bad_subscription_fields_are_form_errors(customer_client, customer, subscription_service, field, value,
                                                 error):
    data = {"service": subscription_service.pk, "username": "natgeo", "min": "50", "max": "200", "delay": "0",
            field: value}
    response = customer_client.post(reverse("order_new"), data)
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not Order.objects.exists()


def test_a_dripfeed_is_ordered_in_the_browser_and_charged_for_every_run(
        customer_client, customer, dripfeed_service, django_capture_on_commit_callbacks):
    response = _post_order(customer_client, {
        "service": dripfeed_service.pk, "link": "https://instagram.com/p/x", "quantity": "100", "runs": "3",
        "interval": "10"}, django_capture_on_commit_callbacks)
    assert response.status_code == 302
    order = Order.objects.get(customer=customer)
    assert (order.runs, order.interval, order.charge) == (3, 10, Decimal("0.6"))


def test_lists_and_detail_show_posts_expiry_and_runs(customer_client, customer, subscription_service,
                                                     dripfeed_service, make_order):
    # given: an active subscription with 3 posts and a drip-feed on its second run
    expiry = dt.date.today() + dt.timedelta(days=20)
    sub = make_order(customer=customer, service=subscription_service, link="", username="natgeo", min="50",
                     max="200", delay="0", posts="5", expiry=expiry.strftime("%d/%m/%Y"))
    Order.objects.filter(pk=sub.pk).update(stage=Stage.SENT, upstream_id="7", status=Status.ACTIVE, posts_done=3)
    drip = make_order(customer=customer, service=dripfeed_service, quantity="100", runs="3", interval="10")
    Order.objects.filter(pk=drip.pk).update(stage=Stage.SENT, upstream_id="8", status=Status.IN_PROGRESS,
                                            runs_done=2, remains=100)

    # when
    listing = customer_client.get(reverse("orders")).content.decode()
    sub_page = customer_client.get(reverse("order_detail", args=[sub.pk])).content.decode()
    drip_page = customer_client.get(reverse("order_detail", args=[drip.pk])).content.decode()

    # then
    assert "3 posts" in listing and expiry.strftime("%d/%m/%Y") in listing and "run 2/3" in listing
    assert "Active" in sub_page and "3 / 5" in sub_page and expiry.strftime("%d/%m/%Y") in sub_page
    assert reverse("order_cancel", args=[sub.pk]) in sub_page
    assert "2 / 3" in drip_page


def test_a_subscription_stopped_for_funds_tells_the_customer_why(customer_client, customer, subscription_service,
                                                                  make_order):
    sub = make_order(customer=customer, service=subscription_service, link="", username="natgeo", min="50",
                     max="200", delay="0")
    Order.objects.filter(pk=sub.pk).update(stage=Stage.FINAL, upstream_id="7", status=Status.CANCELED,
                                           posts_done=4, attention=OUT_OF_FUNDS)
    page = customer_client.get(reverse("order_detail", args=[sub.pk])).content.decode()
    assert OUT_OF_FUNDS in page
    assert "Canceled" in page


def test_a_subscription_is_canceled_from_the_browser(customer_client, customer, subscription_service, make_order):
    # given: sent and active
    sub = make_order(customer=customer, service=subscription_service, link="", username="natgeo", min="50",
                     max="200", delay="0", posts="2")
    Order.objects.filter(pk=sub.pk).update(stage=Stage.SENT, upstream_id="7", status=Status.ACTIVE)

    # when
    response = customer_client.post(reverse("order_cancel", args=[sub.pk]), follow=True)

    # then: a cancel request waits for the pipeline; the money moves when the upstream answers
    assert response.status_code == 200
    cancel = CancelRequest.objects.get(order=sub)
    assert cancel.stage == "requested"
    assert "Cancellation requested" in response.content.decode()
    sub.refresh_from_db()
    assert sub.refunded == 0
