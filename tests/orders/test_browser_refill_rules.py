"""The refill rules in a real browser: each order says when it can be refilled, or why not, in English and
Indonesian, and the one that may be refilled is."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from django.utils import timezone  # noqa: E402

from orders.models import Refill  # noqa: E402
from tests.factories import CustomerFactory  # noqa: E402
from tests.orders.refill_rules_support import completed_order, refill_at, ruled_service  # noqa: E402
from tests.web.test_browser import browser, log_in, page, shot  # noqa: E402,F401

pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_orders_show_when_a_refill_is_possible_and_why_not(page, live_server):  # noqa: F811
    # given: four completed orders of a service refillable for 30 days, twice, 24 h apart
    customer = CustomerFactory(funds="10")
    service = ruled_service(name="Instagram Followers — 30 days refill")
    now = timezone.now()
    fine = completed_order(customer, service, finished_at=now - timedelta(days=2))
    cooling = completed_order(customer, service, finished_at=now - timedelta(days=3))
    refill_at(cooling, now - timedelta(hours=19))
    expired = completed_order(customer, service, finished_at=now - timedelta(days=45))
    maxed = completed_order(customer, service, finished_at=now - timedelta(days=6))
    refill_at(maxed, now - timedelta(days=5))
    refill_at(maxed, now - timedelta(days=4))

    # when
    log_in(page, customer.username)
    page.goto("/orders/")

    # then: the row of each says it
    def row(order):
        return page.locator(f"tr[data-order='{order.pk}']")

    assert row(cooling).locator("[data-refill-note]").inner_text() == "Refill available in 5 h"
    assert row(expired).locator("[data-refill-note]").inner_text().startswith("The refill period ended on ")
    assert row(maxed).locator("[data-refill-note]").inner_text() == "Refill limit reached: 2 per order"
    assert row(fine).locator("[data-action=refill]").count() == 1
    for order in (cooling, expired, maxed):
        assert row(order).locator("[data-action=refill]").count() == 0
    shot(page, "orders_refill_rules")

    # and the one that may be refilled is, once
    row(fine).locator("[data-action=refill]").click()
    page.wait_for_selector("text=Refill requested for order")
    assert Refill.objects.filter(order=fine).count() == 1
    page.goto("/orders/")
    assert row(fine).locator("[data-refill-note]").inner_text() == "A refill for this order is already in progress"

    # the order page states the rules
    page.goto(f"/orders/{cooling.pk}/")
    assert page.inner_text("[data-refill-state]").startswith("Refill available in 5 h")
    assert page.inner_text("[data-refill-rules]") == (
        "within 30 days after completion · up to 2 refills per order · 24 hours between refills")
    shot(page, "order_refill_rules")

    # in Indonesian (the language switcher's cookie)
    page.context.add_cookies([{"name": "django_language", "value": "id", "url": live_server.url}])
    page.goto("/orders/")
    assert row(cooling).locator("[data-refill-note]").inner_text() == "Refill tersedia dalam 5 jam"
    page.goto(f"/orders/{cooling.pk}/")
    assert "dalam 30 hari setelah selesai" in page.inner_text("[data-refill-rules]")
    shot(page, "order_refill_rules_id")
