"""Every customer page at a phone's width (390 px) and a laptop's (1280 px), in a real browser: no sideways
scroll of the page, the key columns of each table on screen, the menu reachable. Screenshots of each page at
each width go to $PLAYWRIGHT_ARTIFACTS (kept by CI) as layout_<page>_<width>.png.
"""

from __future__ import annotations

import os

import pytest

# Playwright's sync API runs an event loop in this thread; the ORM calls around it are synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from tests.web.shop import open_shop  # noqa: E402
from tests.web.test_browser import browser, log_in, shot  # noqa: E402,F401 - the browser fixture

pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE, LAPTOP = 390, 1280
# (name, path, the table whose columns must show); {order} and {deposit} are filled in from the shop.
CUSTOMER_PAGES = [
    ("dashboard", "/", "[data-testid=recent-orders]"),
    ("new_order", "/orders/new/?service={followers}", None),
    ("mass_order", "/orders/mass/", None),
    ("orders", "/orders/", "[data-testid=orders-table]"),
    ("order_detail", "/orders/{order}/", None),
    ("services", "/services/", "[data-testid=services-table]"),
    ("refills", "/refills/", "[data-testid=refills-table]"),
    ("funds", "/funds/", "[data-testid=payments-table]"),
    ("transactions", "/transactions/", "[data-testid=ledger-table]"),
    ("api", "/api-access/", None),
    ("account", "/account/", None),
    ("security", "/account/security/", None),
]
PUBLIC_PAGES = [("signup", "/signup/"), ("login", "/login/")]

# What the page measures: its own width against the window's, and where a table's cells sit.
PAGE_WIDTH = "() => ({page: document.documentElement.scrollWidth, window: window.innerWidth})"
CELLS = """(table) => {
  const box = (el) => { const r = el.getBoundingClientRect(); const s = getComputedStyle(el);
    return {left: r.left, right: r.right, width: r.width, shown: s.display !== 'none' && s.visibility !== 'hidden'
            && r.width > 0, text: el.innerText.trim(), cls: el.className}; };
  const row = table.querySelector('tbody tr:not(.category-row)');
  return {heads: [...table.querySelectorAll('thead th')].map(box), cells: row ? [...row.children].map(box) : [],
          wrap: {scroll: table.parentElement.scrollWidth, client: table.parentElement.clientWidth}};
}"""


@pytest.fixture
def shop(db):
    return open_shop()


def _context(browser, live_server, width):  # noqa: F811
    return browser.new_context(viewport={"width": width, "height": 900}, base_url=live_server.url)


def _assert_fits(page, name, width):
    sizes = page.evaluate(PAGE_WIDTH)
    assert sizes["page"] <= sizes["window"], f"{name} at {width} px is {sizes['page']} px wide"


def _assert_table_shows_its_key_columns(page, selector, width):
    measured = page.locator(selector).evaluate(CELLS)
    assert measured["cells"], f"{selector}: no row"
    on_screen = [c for c in measured["cells"] if c["shown"]]
    for cell in on_screen:
        assert cell["left"] >= 0 and cell["right"] <= width + 0.5, f"{selector}: {cell['text']!r} is off screen"
    keys = [c for c in measured["cells"] if "col-key" in c["cls"] or ("col-actions" in c["cls"] and c["text"])]
    assert keys and all(c["shown"] for c in keys), f"{selector}: a key column is hidden"
    if width >= LAPTOP:
        # every column and every button of the row, each at a readable width
        assert all(h["shown"] and h["right"] <= width + 0.5 for h in measured["heads"])
        assert all(c["shown"] for c in measured["cells"])
        main = [c for c in measured["cells"] if "col-main" in c["cls"]]
        assert all(c["width"] >= 150 for c in main), f"{selector}: the main column is squeezed"
    assert measured["wrap"]["scroll"] <= measured["wrap"]["client"] + 1, f"{selector} scrolls sideways"


@pytest.mark.parametrize("width", [PHONE, LAPTOP])
def test_every_customer_page_fits_the_screen_and_shows_its_key_columns(browser, live_server, shop, width):  # noqa: F811
    context = _context(browser, live_server, width)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        for name, path in PUBLIC_PAGES:
            page.goto(path)
            _assert_fits(page, name, width)
            shot(page, f"layout_{name}_{width}")
        log_in(page, shop.customer.username)
        for name, path, table in CUSTOMER_PAGES:
            page.goto(path.format(followers=shop.followers.pk, order=shop.completed.pk))
            _assert_fits(page, name, width)
            if table:
                _assert_table_shows_its_key_columns(page, table, width)
            shot(page, f"layout_{name}_{width}")
    finally:
        context.close()


def test_on_a_phone_the_menu_button_opens_the_navigation_and_the_account(browser, live_server, shop):  # noqa: F811
    context = _context(browser, live_server, PHONE)
    page = context.new_page()
    try:
        log_in(page, shop.customer.username)
        page.goto("/orders/")
        # the top bar keeps the balance; the navigation waits behind the button
        assert page.is_visible("[data-menu-toggle]") and page.is_visible("[data-balance]")
        assert not page.is_visible("#sidebar a[href='/services/']")
        assert page.locator(".topbar").bounding_box()["height"] <= 80

        page.click("[data-menu-toggle]")
        page.wait_for_selector("#sidebar a[href='/services/']", state="visible")
        assert page.get_attribute("[data-menu-toggle]", "aria-expanded") == "true"
        assert page.is_visible("#sidebar .sidebar-account >> text=Log out")
        assert shop.customer.user.username in page.inner_text("#sidebar .sidebar-account")
        shot(page, "layout_menu_open_390")

        page.keyboard.press("Escape")
        page.wait_for_selector("#sidebar a[href='/services/']", state="hidden")
        page.click("[data-menu-toggle]")
        page.click("#sidebar a[href='/services/']")
        page.wait_for_url("**/services/")
    finally:
        context.close()


def test_without_javascript_the_menu_button_still_opens_the_navigation(browser, live_server, shop):  # noqa: F811
    context = browser.new_context(viewport={"width": PHONE, "height": 900}, base_url=live_server.url,
                                  java_script_enabled=False)
    page = context.new_page()
    try:
        log_in(page, shop.customer.username)
        page.goto("/refills/")
        page.click("[data-menu-toggle]")  # a link to #sidebar
        page.wait_for_selector("#sidebar a[href='/orders/']", state="visible")
    finally:
        context.close()


def test_on_a_laptop_the_sidebar_and_the_account_are_always_there(browser, live_server, shop):  # noqa: F811
    context = _context(browser, live_server, LAPTOP)
    page = context.new_page()
    try:
        log_in(page, shop.customer.username)
        page.goto("/transactions/")
        assert not page.is_visible("[data-menu-toggle]")
        assert page.is_visible("#sidebar a[href='/services/']")
        assert page.is_visible(".topbar >> text=Log out") and page.is_visible("#lang-select")
        # the payment request's method by its name, not its code
        assert "E-wallet" in page.inner_text("[data-testid=ledger-table]")
        assert "e_wallet" not in page.content()
    finally:
        context.close()
