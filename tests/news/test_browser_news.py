"""In a real browser: an announcement dismissed from the dashboard, the public updates page and its filters,
and the average time on the services list and the order form."""

from __future__ import annotations

import os
from datetime import timedelta
from decimal import Decimal

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # the ORM calls around Playwright's event loop

from django.utils import timezone  # noqa: E402

from news.models import Announcement, ServiceSpeed  # noqa: E402
from providers.models import ServiceChange  # noqa: E402
from tests.factories import CategoryFactory, CustomerFactory, ServiceFactory  # noqa: E402
from tests.web.test_browser import browser, log_in, page, shot  # noqa: E402,F401 - the browser fixtures

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def catalogue(db):
    instagram, youtube = CategoryFactory(name="Instagram"), CategoryFactory(name="YouTube")
    likes = ServiceFactory(name="Instagram Likes — Fast", category=instagram, rate=Decimal("1.50"))
    views = ServiceFactory(name="YouTube Views — HQ", category=youtube, rate=Decimal("0.80"))
    ServiceChange.objects.create(service=likes, field="added", new_value="1.2")
    ServiceChange.objects.create(service=likes, field="upstream_rate", old_value="0.9", new_value="1.1537")
    ServiceChange.objects.create(service=likes, field="rate", old_value="1.2", new_value="1.5")
    ServiceChange.objects.create(service=views, field="rate", old_value="0.95", new_value="0.8")
    ServiceSpeed.objects.create(service=likes, seconds_per_1000=2 * 3600 + 15 * 60, samples=10,
                                computed_at=timezone.now())
    return {"likes": likes, "views": views, "instagram": instagram}


def test_a_customer_reads_and_dismisses_an_announcement_then_follows_the_updates(page, catalogue):
    # given
    CustomerFactory(user__username="sari")
    now = timezone.now()
    Announcement.objects.create(title="Maintenance on Sunday", body="From 02:00 to 03:00 UTC.\nOrders wait.",
                                level=Announcement.Level.WARNING, starts_at=now - timedelta(hours=1))
    log_in(page, "sari")

    # when the dashboard shows it, and the customer dismisses it
    banner = page.locator("[data-announcement]")
    assert banner.inner_text().splitlines()[:3] == ["Maintenance on Sunday", "From 02:00 to 03:00 UTC.",
                                                    "Orders wait."]
    shot(page, "news-dashboard-announcement")
    with page.expect_navigation():
        banner.locator("button:has-text('Dismiss')").click()

    # then it is gone, for good
    assert page.locator("[data-announcement]").count() == 0
    page.reload()
    assert page.locator("[data-announcement]").count() == 0

    # when the customer opens the service updates from the menu and picks price drops
    page.click(".sidebar a:has-text('Service updates')")
    page.wait_for_url("**/updates/")
    assert page.locator("tr[data-change]").count() == 3
    page.select_option("#id_kind", "price_down")
    with page.expect_navigation():
        page.click("button:has-text('Filter')")

    # then
    rows = page.locator("tr[data-change]")
    assert rows.count() == 1 and "YouTube Views — HQ" in rows.first.inner_text()
    assert "0.95" in rows.first.inner_text() and "0.80" in rows.first.inner_text()
    assert "1.1537" not in page.content()
    shot(page, "news-updates-price-down")

    # and the services list and the order form show the average time
    page.goto("/services/")
    row = page.locator(f"tr[data-service='{catalogue['likes'].pk}'] [data-average-time]")
    assert row.inner_text() == "2 hours 15 minutes"
    assert page.locator(f"tr[data-service='{catalogue['views'].pk}'] [data-average-time]").inner_text() == (
        "Not enough data")
    page.goto(f"/orders/new/?service={catalogue['likes'].pk}")
    assert page.locator("dd[data-average-time]").inner_text() == "2 hours 15 minutes"
    shot(page, "news-order-form-average-time")


def test_a_visitor_sees_the_updates_without_signing_in(page, catalogue):
    page.goto("/updates/")

    assert page.locator("tr[data-change]").count() == 3
    assert page.locator(".sidebar").count() == 0
    page.select_option("#id_category", str(catalogue["instagram"].pk))
    with page.expect_navigation():
        page.click("button:has-text('Filter')")
    assert page.locator("tr[data-change]").count() == 2
    shot(page, "news-updates-public")
