"""A subscription's life in a real browser: ordered with the charge preview, followed, canceled."""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from orders.models import CancelRequest, Order, Stage, Status  # noqa: E402
from tests.factories import CategoryFactory, CustomerFactory, ServiceFactory  # noqa: E402
from tests.web.test_browser import balance_of, browser, choose_service, log_in, page  # noqa: E402,F401

pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_order_follow_and_cancel_a_subscription(page):  # noqa: F811
    # given
    service = ServiceFactory(name="Instagram Auto Likes", type="Subscriptions", category=CategoryFactory(),
                             rate=Decimal("2.00"), min=10, max=1000, cancel=True)
    customer = CustomerFactory(funds=Decimal("10"))
    log_in(page, customer.username)
    expiry = (dt.date.today() + dt.timedelta(days=30)).strftime("%d/%m/%Y")

    # when: 4 posts and 1 old post at max 200; the preview shows (4 + 1) × 200 units at 2.00
    choose_service(page, service)
    page.fill("#id_username", "natgeo")
    page.fill("#id_min", "50")
    page.fill("#id_max", "200")
    page.select_option("#id_delay", "30")
    page.fill("#id_posts", "4")
    page.fill("#id_old_posts", "1")
    page.fill("#id_expiry", expiry)
    assert page.inner_text("[data-charge]") == "2.0000"
    page.click("button:has-text('Place order')")
    page.wait_for_url("**/orders/")

    # then
    order = Order.objects.get(customer=customer)
    assert order.charge == Decimal("2") and balance_of(customer.username) == Decimal("8")

    # when: the pipeline reports it active with 2 posts
    Order.objects.filter(pk=order.pk).update(stage=Stage.SENT, upstream_id="71", status=Status.ACTIVE, posts_done=2)
    page.goto(f"/orders/{order.pk}/")

    # then: the detail shows progress and expiry, and the subscription can be canceled
    assert page.inner_text("[data-posts]").startswith("2 / 5")
    assert page.inner_text("[data-expiry]") == expiry
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("[data-action=cancel]")
    page.wait_for_selector("text=Cancellation requested")
    assert CancelRequest.objects.filter(order=order).count() == 1
