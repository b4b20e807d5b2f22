"""A support ticket in a real browser (Debian chromium driven by Playwright): a customer asks about an order,
staff answer from the admin with the order in view, the customer reads the answer.

Screenshots at 390 and 1280 px go to $PLAYWRIGHT_ARTIFACTS (default artifacts/screenshots).
"""

from __future__ import annotations

import os

import pytest

# Playwright's sync API runs an event loop in this thread; the ORM calls around it are synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.test import Client  # noqa: E402

from orders.models import Stage  # noqa: E402
from support.models import Ticket  # noqa: E402
from tests.factories import CustomerFactory, OrderFactory, ServiceFactory  # noqa: E402
from tests.support.test_admin import seed_canned_replies  # noqa: E402
from tests.web.conftest import PASSWORD  # noqa: E402
from tests.web.test_browser import browser, log_in, shot  # noqa: E402,F401 - the browser fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _staff_context(browser, live_server, *, width: int, height: int):  # noqa: F811
    """A browser signed in to the admin as a superuser. The session comes from the test client's sign-in,
    which tests/conftest.py completes with a second factor, as the admin's two-step sign-in would."""
    staff = get_user_model().objects.create_superuser("agent", "agent@panel.test", "pw-agent-123")
    client = Client()
    client.force_login(staff)
    context = browser.new_context(viewport={"width": width, "height": height}, base_url=live_server.url)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}])
    return context


@pytest.mark.parametrize(("width", "height", "tag"), [(1280, 900, "desktop"), (390, 844, "phone")])
def test_a_customer_asks_about_an_order_and_reads_the_staff_answer(browser, live_server, width, height,  # noqa: F811
                                                                      tag):
    # given: a customer whose order is stuck with an unknown outcome
    seed_canned_replies()  # each transactional test starts from emptied tables
    customer = CustomerFactory(funds="20")
    service = ServiceFactory(name="Instagram Followers — Real, HQ")
    order = OrderFactory(customer=customer, service=service, stage=Stage.UNKNOWN,
                         attention="The add call's outcome is unknown")
    context = browser.new_context(viewport={"width": width, "height": height}, base_url=live_server.url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    log_in(page, customer.username, PASSWORD)

    # when: from the order's page, the customer asks support about it
    page.goto(f"/orders/{order.pk}/")
    page.click("[data-ask-support]")
    page.wait_for_url(f"**/tickets/new/?order={order.pk}")
    assert page.input_value("#id_orders") == str(order.pk)
    assert page.input_value("#id_subject") == "order"
    page.fill("#id_message", "My order is stuck since this morning.\nCan you check <b>it</b>?")
    shot(page, f"ticket-new-{tag}")
    page.click("button:has-text('Send ticket')")
    page.wait_for_url("**/tickets/*/")
    ticket = Ticket.objects.get(customer=customer)
    assert "Can you check <b>it</b>?" in page.inner_text("[data-testid=thread]")
    assert f"#{order.pk}" in page.inner_text("[data-testid=ticket-orders]")
    shot(page, f"ticket-open-{tag}")

    # and staff answer from the admin, with the order's stage and attention in view and a canned reply
    staff_context = _staff_context(browser, live_server, width=width, height=height)
    admin = staff_context.new_page()
    admin.set_default_timeout(15_000)
    admin.goto("/admin/support/ticket/?state__exact=open")
    assert admin.inner_text("td.field-unread") == "1"  # the customer's message, not yet read by staff
    shot(admin, f"ticket-inbox-{tag}")
    admin.click(f"a[href*='/admin/support/ticket/{ticket.pk}/change/'] >> nth=0")
    admin.wait_for_url(f"**/admin/support/ticket/{ticket.pk}/change/**")
    orders_table = admin.inner_text("[data-testid=ticket-orders]")
    assert "Unknown outcome" in orders_table and "The add call's outcome is unknown" in orders_table
    admin.select_option("[data-canned-picker]", label="Order in progress")
    assert admin.input_value("#id_message").startswith("Your order is in progress")
    admin.fill("#id_message", admin.input_value("#id_message") + "\n\nWe are checking it with the provider.")
    shot(admin, f"ticket-admin-{tag}")
    admin.click("input[type=submit][value=Send]")
    admin.wait_for_selector("text=Reply sent; the customer is mailed.")
    staff_context.close()
    ticket.refresh_from_db()
    assert ticket.state == Ticket.State.ANSWERED

    # then: the customer sees the answer flagged in the nav and the list, and reads it
    page.goto("/tickets/")
    # (below 1024 px the nav is a drawer, closed: its count is there, to be seen once opened)
    assert page.locator("[data-support-unread]").text_content() == "1"
    assert "1 new reply" in page.inner_text(f"[data-ticket='{ticket.pk}']")
    shot(page, f"ticket-list-{tag}")
    page.click(f"[data-ticket='{ticket.pk}'] a >> nth=0")
    page.wait_for_url(f"**/tickets/{ticket.pk}/")
    thread = page.inner_text("[data-testid=thread]")
    assert "Your order is in progress" in thread and "We are checking it with the provider." in thread
    assert page.inner_text("[data-state]") == "Answered"
    shot(page, f"ticket-answered-{tag}")
    page.goto("/tickets/")
    assert page.locator("[data-support-unread]").count() == 0
    context.close()
