"""The order form's live charge in a real browser: the server's figure, shown as every page shows amounts,
whatever the language; the preview is the charge taken, to the last decimal, half-way cases included."""

from __future__ import annotations

import os
from decimal import Decimal

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from django.utils import translation  # noqa: E402

from orders.models import Order  # noqa: E402
from providers.pricing import format_money  # noqa: E402
from tests.factories import CategoryFactory, CustomerFactory, ServiceFactory  # noqa: E402
from tests.web.test_browser import browser, choose_service, log_in, page, shot  # noqa: E402,F401

pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _quote_answer(page, quantity: str):
    """Type `quantity` and return the quote endpoint's JSON answer for it (not for an earlier state of the form)."""
    def for_this_quantity(response) -> bool:
        body = response.request.post_data or ""
        return "/orders/quote/" in response.url and f'name="quantity"\r\n\r\n{quantity}\r\n' in body

    with page.expect_response(for_this_quantity) as answer:
        page.fill("#id_quantity", quantity)
    page.wait_for_selector("[data-charge]:not([data-charge-pending])")
    return answer.value.json()


def _shown_in(language: str, amount: Decimal) -> str:
    with translation.override(language):
        return format_money(amount)


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
    answer = _quote_answer(page, "500")

    # then: the page prices nothing itself; it shows the server's figure in Indonesian (decimal comma)
    assert page.get_attribute("html", "lang") == "id"
    assert page.get_attribute("#order-form", "data-rate") is None
    assert answer["charge"] == "0.07443"  # half up, as the order is charged
    assert page.inner_text("[data-charge]") == answer["display"] == "0,0744"
    shot(page, "charge_id_390" if page.viewport_size["width"] < 500 else "charge_id")
    page.click("#order-form button[type=submit]")
    page.wait_for_url("**/orders/")
    order = Order.objects.get(customer=customer)
    assert order.charge == Decimal(answer["charge"])
    # and the orders list shows the same figure the preview showed
    assert page.inner_text(f"tr[data-order='{order.pk}'] [data-charge]").startswith(answer["display"])
    assert answer["display"] == _shown_in("id", order.charge)

    # and a package is its (discounted) rate, with nothing to type: shown from the first paint
    choose_service(page, package)
    assert page.inner_text("[data-charge]") == "4,0500"


@pytest.mark.parametrize("language", ["en", "id"])
def test_half_way_at_the_shown_decimal_rounds_up_as_everywhere(page, live_server, language):  # noqa: F811
    # given: 0.14890 per 1000; 500 units cost exactly 0.07445, half-way at the fourth (shown) decimal, where a
    # browser's own rounding of 0.1489 × 500 / 1000 (a float just under 0.07445) would show 0.0744
    service = ServiceFactory(category=CategoryFactory(name="YouTube"), rate=Decimal("0.14890"), min=10, max=5000)
    customer = CustomerFactory(funds=Decimal("10"))
    log_in(page, customer.username)
    page.context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
    choose_service(page, service)
    page.fill("#id_link", "https://youtube.com/watch?v=half")

    # when
    answer = _quote_answer(page, "500")

    # then: 0.07445 is charged and shown everywhere as 0.0745 (0,0745), by the one rule
    assert answer["charge"] == "0.07445"
    expected = "0.0745" if language == "en" else "0,0745"
    assert page.inner_text("[data-charge]") == expected
    page.click("#order-form button[type=submit]")
    page.wait_for_url("**/orders/")
    order = Order.objects.get(customer=customer)
    assert order.charge == Decimal("0.07445")
    assert page.inner_text(f"tr[data-order='{order.pk}'] [data-charge]").startswith(expected)
    page.goto(f"/orders/{order.pk}/")
    assert expected in page.inner_text("main")
    page.goto("/transactions/")
    assert f"-{expected}" in page.inner_text("[data-testid=ledger-table]")
