"""Subscriptions and drip-feed through /api/v2: add, status in the common panels' shape, cancel."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from accounts.models import LedgerEntry
from orders.models import CancelRequest, Order, Stage, Status
from orders.services import order_create
from tests.factories import CustomerFactory, ServiceFactory

pytestmark = pytest.mark.django_db


def _subscription_service(**extra):
    return ServiceFactory(type="Subscriptions", rate=Decimal("2"), min=10, max=1000, cancel=True, **extra)


def test_add_prepaid_subscription_charges_posts_times_max(api):
    # given
    customer = CustomerFactory(funds="10")
    service = _subscription_service()
    expiry = (dt.date.today() + dt.timedelta(days=30)).strftime("%d/%m/%Y")

    # when
    answer = api(customer.raw_api_key, "add", service=service.pk, username="natgeo", min=50, max=200, posts=4,
                 old_posts=1, delay=30, expiry=expiry)

    # then: (4 + 1) posts × 200 units at 2 per 1000
    order = Order.objects.get(customer=customer)
    assert answer == {"order": order.pk}
    assert (order.sub_min, order.sub_max, order.sub_posts, order.sub_old_posts, order.sub_delay) == (50, 200, 4, 1, 30)
    assert order.sub_expiry.strftime("%d/%m/%Y") == expiry
    assert order.charge == Decimal("2")
    customer.refresh_from_db()
    assert customer.balance == Decimal("8")


def test_add_unlimited_subscription_charges_nothing_up_front(api):
    customer = CustomerFactory(funds="1")
    service = _subscription_service()

    answer = api(customer.raw_api_key, "add", service=service.pk, username="natgeo", min=50, max=200, delay=0)

    order = Order.objects.get(customer=customer)
    assert answer == {"order": order.pk}
    assert order.charge == 0 and order.sub_posts is None
    assert not LedgerEntry.objects.filter(order=order).exists()


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"min": 300, "max": 200}, "Incorrect min: must not be more than max"),
        ({"min": 5}, "Quantity less than minimal 10"),
        ({"max": 5000}, "Quantity more than maximal 1000"),
        ({"delay": 7}, "Incorrect delay: must be one of"),
        ({"posts": -1}, "Incorrect posts: must be at least 0"),
        ({"posts": 0}, "Incorrect posts: must be at least 1, or left out for unlimited"),
        ({"old_posts": -2}, "Incorrect old_posts: must be at least 0"),
        ({"expiry": "2020-01-01"}, "Incorrect expiry: use the format d/m/Y"),
        ({"expiry": "01/01/2020"}, "Incorrect expiry: must be a future date"),
    ],
)
def test_add_subscription_refuses_bad_fields_charging_and_storing_nothing(api, params, error):
    customer = CustomerFactory(funds="10")
    service = _subscription_service()
    data = {"username": "natgeo", "min": 50, "max": 200, "delay": 30, "posts": 2, **params}

    answer = api(customer.raw_api_key, "add", service=service.pk, **data)

    assert answer["error"].startswith(error)
    assert not Order.objects.exists()
    customer.refresh_from_db()
    assert customer.balance == Decimal("10")


def test_add_prepaid_subscription_beyond_the_balance_is_refused(api):
    customer = CustomerFactory(funds="0.5")
    service = _subscription_service()
    answer = api(customer.raw_api_key, "add", service=service.pk, username="natgeo", min=50, max=200, posts=2,
                 delay=0)
    assert answer == {"error": "Not enough funds on balance"}
    assert not Order.objects.exists()


def test_status_of_a_subscription_gives_posts_and_expiry(api):
    # given: an unlimited subscription with three posts charged upstream-side and polled
    customer = CustomerFactory(funds="10")
    expiry = dt.date.today() + dt.timedelta(days=9)
    order = order_create(customer=customer, service=_subscription_service(), data={
        "username": "natgeo", "min": 50, "max": 200, "delay": 0, "expiry": expiry.strftime("%d/%m/%Y")})
    from orders.subscriptions import subscription_charge_posts

    Order.objects.filter(pk=order.pk).update(stage=Stage.SENT, upstream_id="9", status=Status.ACTIVE, posts_done=3)
    subscription_charge_posts(order_id=order.pk, posts_done=3)

    # when
    one = api(customer.raw_api_key, "status", order=order.pk)
    many = api(customer.raw_api_key, "status", orders=f"{order.pk},999999")

    # then
    assert one == {"charge": "1.20", "status": "Active", "posts": "3", "expiry": expiry.strftime("%d/%m/%Y"),
                   "currency": "USD"}
    assert many == {str(order.pk): one, "999999": {"error": "Incorrect order ID"}}


def test_status_of_a_dripfeed_gives_runs_and_child_orders(api):
    customer = CustomerFactory(funds="10")
    service = ServiceFactory(rate=Decimal("2"), dripfeed=True, min=10, max=1000)
    order = order_create(customer=customer, service=service,
                         data={"link": "https://x.com/p", "quantity": 100, "runs": 3, "interval": 10})
    Order.objects.filter(pk=order.pk).update(stage=Stage.SENT, upstream_id="9", status=Status.IN_PROGRESS,
                                             runs_done=2, remains=100, start_count=5, child_orders="71,ab7")

    answer = api(customer.raw_api_key, "status", order=order.pk)

    assert answer == {"charge": "0.60", "start_count": "5", "status": "In progress", "remains": "100",
                      "currency": "USD", "runs": "2", "orders": [71, "ab7"]}


def test_cancel_a_subscription_through_the_api(api):
    customer = CustomerFactory(funds="10")
    order = order_create(customer=customer, service=_subscription_service(),
                         data={"username": "natgeo", "min": 50, "max": 200, "delay": 0, "posts": 2})
    Order.objects.filter(pk=order.pk).update(stage=Stage.SENT, upstream_id="9", status=Status.ACTIVE)

    answer = api(customer.raw_api_key, "cancel", orders=str(order.pk))

    cancel = CancelRequest.objects.get(order=order)
    assert answer == [{"order": order.pk, "type": "subscription", "cancel": cancel.pk}]


def test_docs_describe_subscription_and_dripfeed_status(client):
    page = client.get("/api").content.decode()
    assert "Subscription status" in page and "Drip-feed status" in page
    assert "&quot;posts&quot;: &quot;3&quot;" in page and "&quot;expiry&quot;" in page
    assert "(posts + old_posts) × max" in page
    assert "not available yet" not in page.lower()
