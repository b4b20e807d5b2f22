"""The customer's main journeys in a real browser (Debian chromium driven by Playwright).

Screenshots of the main pages go to $PLAYWRIGHT_ARTIFACTS (default artifacts/screenshots).
"""

from __future__ import annotations

import os
import re
from decimal import Decimal
from pathlib import Path

import pytest
import requests

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make around it are
# ordinary synchronous ones, which Django would otherwise refuse.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from accounts.models import Customer, LedgerEntry, PaymentRequest  # noqa: E402
from accounts.services import payment_request_approve  # noqa: E402
from orders.charges import order_refund  # noqa: E402
from orders.models import Order, Status  # noqa: E402
from tests.factories import CategoryFactory, CustomerFactory, ServiceFactory  # noqa: E402
from tests.web.conftest import PASSWORD  # noqa: E402

sync_api = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(os.environ.get("PLAYWRIGHT_ARTIFACTS", "artifacts/screenshots"))


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser tests: no chromium at {CHROMIUM} (.ci/run installs it)")
        pytest.skip(f"no chromium at {CHROMIUM}; `apt-get install chromium` to run the browser tests")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 1366, "height": 900}, base_url=live_server.url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def services(db):
    instagram = CategoryFactory(name="Instagram")
    followers = ServiceFactory(name="Instagram Followers — Real, HQ", category=instagram, rate=Decimal("2.00"),
                               min=10, max=5000, dripfeed=True,
                               description="Start: 0-1 h\nSpeed: 5k/day\n30 days refill")
    comments = ServiceFactory(name="Instagram Custom Comments", type="Custom Comments", category=instagram,
                              rate=Decimal("10.00"), min=1, max=100, refill=False, cancel=False)
    youtube = CategoryFactory(name="YouTube")
    ServiceFactory(name="YouTube Views — Fast", category=youtube, rate=Decimal("0.80"), min=100, max=100000)
    ServiceFactory(name="YouTube Likes", category=youtube, rate=Decimal("3.50"), min=20, max=10000, refill=False)
    return {"followers": followers, "comments": comments}


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def log_in(page, username: str, password: str = PASSWORD) -> None:
    page.goto("/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]:has-text('Log in')")
    page.wait_for_url("**/")


def choose_service(page, service) -> None:
    page.goto("/orders/new/")
    page.select_option("[data-category-select]", str(service.category_id))
    with page.expect_navigation():
        page.select_option("[data-service-select]", str(service.pk))
    page.wait_for_selector("#order-form")


def balance_of(username: str) -> Decimal:
    return Customer.objects.get(user__username=username).balance


def test_sign_up_fund_and_order_two_types(page, services):
    # given: a new customer signs up in the browser
    page.goto("/signup/")
    page.fill("#id_username", "dewi")
    page.fill("#id_email", "dewi@example.com")
    page.fill("#id_password1", "Sunny-garden-42")
    page.fill("#id_password2", "Sunny-garden-42")
    shot(page, "signup")
    page.click("button[type=submit]:has-text('Sign up')")
    page.wait_for_url("**/")
    assert "0.00" in page.inner_text("[data-testid=balance]")

    # and files a payment request that the admin approves
    page.goto("/funds/")
    page.fill("#id_amount", "50")
    page.select_option("#id_method", "bank_transfer")
    page.fill("#id_reference", "BCA-778812")
    page.click("button:has-text('Send request')")
    page.wait_for_selector("text=BCA-778812")
    payment = PaymentRequest.objects.get(customer__user__username="dewi")
    assert payment_request_approve(payment_request_id=payment.pk)
    page.goto("/funds/")
    assert "Approved" in page.inner_text("[data-testid=payments-table]")
    shot(page, "add_funds")
    page.goto("/")
    assert "50.00" in page.inner_text("[data-testid=balance]")

    # when: a Default order; the charge preview follows the typing
    choose_service(page, services["followers"])
    page.fill("#id_link", "https://instagram.com/dewi.shop")
    page.fill("#id_quantity", "1500")
    assert page.inner_text("[data-charge]") == "3.0000"
    page.check("[data-drip-toggle]")
    page.fill("#id_runs", "2")
    page.fill("#id_interval", "30")
    assert page.inner_text("[data-charge]") == "6.0000"
    page.uncheck("[data-drip-toggle]")
    assert page.inner_text("[data-charge]") == "3.0000"
    shot(page, "new_order")
    page.click("button:has-text('Place order')")
    page.wait_for_url("**/orders/")

    # and a Custom Comments order: the quantity is the number of comment lines
    choose_service(page, services["comments"])
    assert page.locator("#id_quantity").count() == 0
    page.fill("#id_link", "https://instagram.com/p/C0ffee")
    page.fill("#id_comments", "Love it!\nSo pretty\nWhere can I buy this?")
    assert page.inner_text("[data-charge]") == "0.0300"
    page.click("button:has-text('Place order')")
    page.wait_for_url("**/orders/")

    # then: both listed with the right charge, and the balance went down by both
    table = page.inner_text("[data-testid=orders-table]")
    assert "Instagram Followers" in table and "Instagram Custom Comments" in table
    rows = {o.service_id: o for o in Order.objects.filter(customer__user__username="dewi")}
    assert rows[services["followers"].pk].charge == Decimal("3.00")
    assert rows[services["comments"].pk].charge == Decimal("0.03")
    for order in rows.values():
        row = page.locator(f"tr[data-order='{order.pk}'] [data-charge]").inner_text()
        assert row.startswith(f"{order.charge:.2f}")
    assert balance_of("dewi") == Decimal("46.97")
    shot(page, "orders")
    page.goto("/")
    assert "46.97" in page.inner_text("[data-testid=balance]")
    shot(page, "dashboard")
    page.goto("/services/")
    page.fill("[data-table-filter]", "youtube")
    assert page.locator("tr[data-service]:visible").count() == 2
    page.fill("[data-table-filter]", "")
    shot(page, "services")


def test_insufficient_funds_shows_the_error_and_charges_nothing(page, services):
    customer = CustomerFactory(funds=Decimal("1.00"))
    log_in(page, customer.username)
    choose_service(page, services["followers"])
    page.fill("#id_link", "https://instagram.com/poor")
    page.fill("#id_quantity", "1000")
    page.click("button:has-text('Place order')")
    page.wait_for_selector("text=Not enough funds on balance")
    assert balance_of(customer.username) == Decimal("1.00")
    assert not Order.objects.filter(customer=customer).exists()


def test_mass_order_with_one_bad_line(page, services):
    customer = CustomerFactory(funds=Decimal("20"))
    log_in(page, customer.username)
    followers = services["followers"].pk
    page.goto("/orders/mass/")
    page.fill("#id_orders", f"{followers} | https://instagram.com/a | 100\n"
                            f"{followers} | https://instagram.com/b | 1\n"
                            f"{followers} | https://instagram.com/c | 500\n")
    page.click("button:has-text('Place orders')")
    results = page.locator("[data-testid=mass-results]")
    results.wait_for()
    assert "Placed" in results.locator("tr[data-line='1']").inner_text()
    assert "Quantity less than minimal 10" in results.locator("tr[data-line='2']").inner_text()
    assert "Placed" in results.locator("tr[data-line='3']").inner_text()
    assert Order.objects.filter(customer=customer).count() == 2
    assert balance_of(customer.username) == Decimal("20") - Decimal("0.2") - Decimal("1.0")


def test_new_api_key_works_on_the_api_at_once(page, live_server):
    customer = CustomerFactory(funds=Decimal("12.5"))
    old_key = customer.raw_api_key
    log_in(page, customer.username)
    page.goto("/api-access/")
    assert customer.api_key_prefix in page.inner_text("[data-testid=key-prefix]")
    page.check("#id_confirm")
    page.click("button:has-text('Generate a new key')")
    new_key = page.inner_text("#new-api-key").strip()
    assert re.fullmatch(r"[0-9a-f]{32}", new_key)
    shot(page, "api")
    page.reload()
    assert page.locator("#new-api-key").count() == 0  # shown once

    answer = requests.post(f"{live_server.url}/api/v2", data={"key": new_key, "action": "balance"}, timeout=10)
    assert answer.status_code == 200
    body = answer.json()
    assert Decimal(body["balance"]) == Decimal("12.5") and body["currency"] == "USD"
    refused = requests.post(f"{live_server.url}/api/v2", data={"key": old_key, "action": "balance"}, timeout=10)
    assert "error" in refused.json()


def test_partial_order_shows_its_refund_in_the_balance(page, services):
    customer = CustomerFactory(funds=Decimal("10"))
    log_in(page, customer.username)
    choose_service(page, services["followers"])
    page.fill("#id_link", "https://instagram.com/partial")
    page.fill("#id_quantity", "1000")
    page.click("button:has-text('Place order')")
    page.wait_for_url("**/orders/")
    order = Order.objects.get(customer=customer)
    assert balance_of(customer.username) == Decimal("8")
    # the pipeline's work, done here by hand: 400 of 1000 undelivered -> 40 % back
    Order.objects.filter(pk=order.pk).update(status=Status.PARTIAL, remains=400, start_count=120, upstream_id="55")
    assert order_refund(order_id=order.pk, amount=Decimal("0.8"), cause=LedgerEntry.Cause.PARTIAL)

    page.goto("/orders/")
    row = page.locator(f"tr[data-order='{order.pk}']")
    assert "Partial" in row.inner_text() and "refunded 0.80" in row.inner_text()
    page.goto("/")
    assert "8.80" in page.inner_text("[data-testid=balance]")
    assert "1.20" in page.inner_text("[data-testid=spent]")
    page.goto("/transactions/")
    assert "+0.80" in page.inner_text("[data-testid=ledger-table]")
    shot(page, "transactions")

    # and in Indonesian
    with page.expect_navigation():
        page.select_option("#lang-select", "id")
    page.goto("/orders/")
    assert "Sebagian" in page.locator(f"tr[data-order='{order.pk}']").inner_text()  # "Partial"
    assert "Pesanan baru" in page.inner_text("nav")  # "New order"
    shot(page, "orders_id")
