"""The order form's live charge in a real browser: the server's figure, whatever the language."""

from __future__ import annotations

import os
from decimal import Decimal

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from orders.models import Order  # noqa: E402
from tests.factories import CategoryFactory, CustomerFactory, ServiceFactory  # noqa: E402
from tests.web.test_browser import browser, choose_service, log_in, page  # noqa: E402,F401

pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_live_charge_is_the_charge_taken_in_indonesian_too(page, live_server):  # noqa: F811
    # given: 0.16539 per 1000 less a 10 % discount is 0.14885, for a customer reading the panel in Indonesian
    category = CategoryFactory(name="Instagram")
    service = ServiceFactory(category=category, rate=Decimal("0.16539"), min=10, max=5000)
    package = ServiceFactory(category=category, type="Package", rate=Decimal("4.50"), min=1, max=1)
    customer = CustomerFactory(funds=Decimal("10"), discount_percent=Decimal("10"))
    log_in(page, customer.username)
    page.context.add_cookies([{"name": "django_language", "value": "id", "url": live_server.url}])

    # when: 500 units at 0.14885 = 0.074425, half-way at the fifth decimal
    choose_service(page, service)
    page.fill("#id_link", "https://instagram.com/p/half")
    page.fill("#id_quantity", "500")

    # then: the figure shown is the server's, and the one taken
    assert page.get_attribute("html", "lang") == "id"
    assert page.get_attribute("#order-form", "data-rate") == "0.14885"
    assert page.inner_text("[data-charge]") == "0.07443"
    page.click("#order-form button[type=submit]")
    page.wait_for_url("**/orders/")
    assert Order.objects.get(customer=customer).charge == Decimal("0.07443")

    # and a package is its (discounted) rate, with nothing to type
    choose_service(page, package)
    assert page.inner_text("[data-charge]") == "4.05"
