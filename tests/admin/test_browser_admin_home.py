"""The admin home in a real browser (Debian chromium driven by Playwright), at a phone's and a desktop's width.

Screenshots go to $PLAYWRIGHT_ARTIFACTS (default artifacts/screenshots): admin-home-phone.png (390 px) and
admin-home-desktop.png (1280 px).
"""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal

import pytest

# Playwright's sync API runs an event loop in this thread; the ORM calls around it are synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import LedgerEntry  # noqa: E402
from orders.models import Order, Stage, Status  # noqa: E402
from tests.admin.conftest import things_waiting  # noqa: E402
from tests.factories import CustomerFactory, OrderFactory, ServiceFactory  # noqa: E402
from tests.web.test_browser import browser, shot  # noqa: E402,F401 - the browser fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _a_month_of_business() -> None:
    """Orders on most of the last 30 days (one day at a loss), deposits on some, and things waiting."""
    now = timezone.now()
    service = ServiceFactory(name="Instagram Followers — Real, HQ", rate=Decimal("2.40"))
    for day in range(30):
        if day % 7 == 3:
            continue  # a quiet day
        customer = CustomerFactory(funds=str(20 + day * 3))
        when = now - dt.timedelta(days=day)
        for n in range(1 + day % 4):
            order = OrderFactory(customer=customer, service=service, quantity=1000 + 250 * n, stage=Stage.FINAL,
                                 status=Status.COMPLETED)
            cost = order.charge * (Decimal("1.3") if day == 9 else Decimal("0.62"))  # day 9: a loss
            Order.objects.filter(pk=order.pk).update(created_at=when, upstream_charge=cost.quantize(Decimal("1e-5")))
        LedgerEntry.objects.filter(customer=customer).update(created_at=when)
    things_waiting()


def _staff_context(browser, live_server, *, width: int, height: int):  # noqa: F811
    """A browser signed in to the admin as a superuser; the test client's sign-in includes the second factor
    (tests/conftest.py), as the admin's two-step sign-in would."""
    staff = get_user_model().objects.create_superuser("operator", "operator@panel.test", "pw-operator-123")
    client = Client()
    client.force_login(staff)
    context = browser.new_context(viewport={"width": width, "height": height}, base_url=live_server.url)
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": client.cookies[settings.SESSION_COOKIE_NAME]
                          .value, "url": live_server.url}])
    return context


@pytest.mark.parametrize(("width", "height", "tag"), [(1280, 900, "desktop"), (390, 844, "phone")])
def test_the_admin_home_fits_the_screen_and_shows_the_business(browser, live_server, width, height,  # noqa: F811
                                                                tag):
    # given: a month of orders and deposits, and things waiting for an operator
    _a_month_of_business()
    context = _staff_context(browser, live_server, width=width, height=height)
    page = context.new_page()
    page.set_default_timeout(15_000)
    violations = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)

    # when
    response = page.goto("/admin/")
    shot(page, f"admin-home-{tag}")

    # then: the panel's name, not Django's; no page wider than the screen
    assert response.status == 200 and "Django" not in page.title()
    assert page.inner_text("#site-name").strip().endswith("admin")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    # and today's figures, the charts and the waiting things are on screen, each chart as wide as its box
    for selector in ("[data-figure=revenue]", "[data-figure=profit]", "[data-chart=revenue] svg", "#needs-attention",
                     "#provider-health", "#unknown-orders"):
        box = page.locator(selector).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5, selector
    assert page.locator("[data-chart=profit] .ph-bar-negative").count() == 1  # the day at a loss
    assert page.locator("#needs-attention .ph-due").count() >= 5
    if tag == "desktop":
        # the overview spans the page; the recent actions sit beside the app list, not under the overview
        overview = page.locator("#panel-overview").bounding_box()
        related = page.locator("#content-related").bounding_box()
        assert overview["width"] > 900 and related["x"] > page.locator("#content-main").bounding_box()["x"] + 400
    # and following a count opens its filtered list
    page.click("#needs-attention >> text=Payment requests to decide")
    page.wait_for_url("**/admin/accounts/paymentrequest/?status__exact=pending")
    assert "1 payment request" in page.inner_text("#changelist-form")
    assert violations == []
    context.close()


@pytest.mark.parametrize(("width", "height", "tag"), [(1280, 900, "desktop"), (390, 844, "phone")])
def test_a_payment_request_is_approved_from_its_own_page(browser, live_server, width, height, tag):  # noqa: F811
    # given: a customer's request for 50 by e-wallet
    from accounts.models import Customer, PaymentRequest

    customer = CustomerFactory(funds="10")
    payment = PaymentRequest.objects.create(customer=customer, amount=Decimal("50"), method="e_wallet",
                                            reference="OVO-778812")
    context = _staff_context(browser, live_server, width=width, height=height)
    page = context.new_page()
    page.set_default_timeout(15_000)

    # when: the operator opens it, gives the reason, and clicks Approve once
    page.goto(f"/admin/accounts/paymentrequest/{payment.pk}/change/")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.fill("#payment-decision textarea[name=reason]", "Seen on the OVO statement")
    shot(page, f"admin-payment-request-{tag}")
    page.click("#payment-decision button[value=approve]")

    # then: back on the page, approved, credited, with the decision in its audit log
    page.wait_for_selector(".messagelist .success")
    assert "approved" in page.inner_text(".messagelist")
    assert page.locator("#payment-decision").count() == 0
    assert "Seen on the OVO statement" in page.inner_text(".field-audit_log")
    assert Customer.objects.get(pk=customer.pk).balance == Decimal("60")
    context.close()
