"""Adding funds in a real browser (Debian chromium driven by Playwright) through the demo card gateway."""

from __future__ import annotations

import os
from decimal import Decimal

import pytest

# Playwright's sync API runs an event loop in this thread; the ORM calls around it are synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from accounts.models import BonusTier, Deposit, LedgerEntry  # noqa: E402
from tests.factories import CustomerFactory  # noqa: E402
from tests.payments.conftest import make_gateway  # noqa: E402
from tests.web.conftest import PASSWORD  # noqa: E402
from tests.web.test_browser import browser, log_in, shot  # noqa: E402,F401 - the browser fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize(("width", "height", "tag"), [(1280, 900, "desktop"), (390, 844, "phone")])
def test_a_customer_adds_funds_with_the_demo_card_and_sees_the_balance_credited(
        browser, live_server, gateway_simulator, ledger_checked, width, height, tag):  # noqa: F811
    # given: a customer with nothing on the balance, a card gateway at the simulator, +5% from 20
    customer = CustomerFactory()
    gateway = make_gateway(gateway_simulator, "stripe", name="demo-card", title="Card (demo)")
    gateway_simulator.webhook_urls["stripe"] = f"{live_server.url}/payments/{gateway.name}/webhook/"
    BonusTier.objects.create(min_amount=Decimal("20"), percent=Decimal("5"))
    context = browser.new_context(viewport={"width": width, "height": height}, base_url=live_server.url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    log_in(page, customer.username, PASSWORD)

    # when: 25 through the card gateway; the page shows what will be credited before paying
    page.goto("/funds/")
    page.select_option("select[name=gateway]", gateway.name)
    page.fill("input[name=amount]", "25")
    page.wait_for_selector("[data-quote-credit]:not(:empty)")
    assert "25.00" in page.inner_text("[data-quote-credit]")
    assert "1.25" in page.inner_text("[data-quote-bonus]")
    shot(page, f"funds-{tag}")
    page.click("text=Continue to payment")
    page.wait_for_url(f"{gateway_simulator.url}/**")
    shot(page, f"funds-gateway-{tag}")
    page.get_by_role("button", name="Pay", exact=True).click()

    # then: back on the panel, the payment is confirmed and the balance shows the credit and the bonus
    page.wait_for_url(f"{live_server.url}/funds/deposits/**")
    page.wait_for_selector("text=Payment received, balance credited.")
    assert "26.25" in page.inner_text("[data-deposit-balance]")
    shot(page, f"funds-credited-{tag}")
    context.close()
    deposit = Deposit.objects.get(customer=customer)
    assert deposit.status == Deposit.Status.PAID
    assert sorted(LedgerEntry.objects.filter(deposit=deposit).values_list("cause", "amount")) == [
        ("bonus", Decimal("1.25")), ("gateway", Decimal("25"))]
    customer.refresh_from_db()
    assert customer.balance == Decimal("26.25")
