"""Security headers and settings: Content-Security-Policy, no caching of signed-in pages, HTTPS and HSTS.

The browser tests drive Debian chromium (Playwright) and watch its console for Content-Security-Policy
violations while the pages' scripts do their work.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client

# Playwright's sync API runs an event loop in this thread; the ORM calls around it are synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from accounts.models import Customer, PaymentRequest  # noqa: E402
from tests.factories import CustomerFactory, OrderFactory, UserFactory  # noqa: E402
from tests.payments.conftest import gateway_simulator, make_gateway  # noqa: E402,F401 - the simulator fixture
from tests.web.test_browser import browser, choose_service, log_in, page  # noqa: E402,F401 - browser fixtures

ROOT = Path(django_settings.BASE_DIR)
TEMPLATES = ROOT / "templates"
CSP = "Content-Security-Policy"


def directives(header: str) -> dict[str, list[str]]:
    """`default-src 'self'; img-src 'self' data:` -> {"default-src": ["'self'"], "img-src": ["'self'", "data:"]}"""
    parsed = {}
    for part in header.split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed


def assert_scripts_are_files_only(header: str) -> None:
    policy = directives(header)
    script_src = policy.get("script-src", policy.get("default-src"))
    assert script_src == ["'self'"], header
    assert "script-src-attr" not in policy and "script-src-elem" not in policy, header
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]


# --- Content-Security-Policy ---------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/", "/orders/new/", "/orders/", "/funds/", "/api-access/", "/account/"])
def test_customer_pages_allow_only_script_and_style_files(customer_client, path):
    # when
    response = customer_client.get(path)

    # then: scripts and styles only from the panel's own files, nothing inline
    assert response.status_code == 200
    policy = directives(response[CSP])
    assert_scripts_are_files_only(response[CSP])
    assert policy["style-src"] == ["'self'"]


@pytest.mark.parametrize("path", ["/login/", "/signup/", "/password-reset/", "/api"])
def test_public_pages_carry_the_policy(client, db, path):
    response = client.get(path)

    assert response.status_code == 200
    assert_scripts_are_files_only(response[CSP])
    assert directives(response[CSP])["style-src"] == ["'self'"]


@pytest.mark.parametrize("path", ["/admin/login/", "/admin/orders/order/"])
def test_admin_pages_allow_inline_styles_but_no_inline_script(client, db, path):
    # given: staff (the admin's own templates write style elements and attributes)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    # when
    response = client.get(path)

    # then
    assert response.status_code in (200, 302)
    assert_scripts_are_files_only(response[CSP])
    assert directives(response[CSP])["style-src"] == ["'self'", "'unsafe-inline'"]


# Inline code the policy refuses: a <script> without src, on...= handlers, javascript: URLs; and, outside the
# admin (whose policy allows inline styles), style attributes and <style> elements.
INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc\s*=)[^>]*>", re.IGNORECASE)
TAG = re.compile(r"<[a-zA-Z][^>]*>", re.DOTALL)
EVENT_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
JAVASCRIPT_URL = re.compile(r"""=\s*["']?\s*javascript:""", re.IGNORECASE)
INLINE_STYLE = re.compile(r"""\sstyle\s*=|<style\b""", re.IGNORECASE)


def inline_code(path: Path) -> list[str]:
    text = path.read_text()
    found = [m.group(0) for m in INLINE_SCRIPT.finditer(text)]
    for tag in TAG.findall(text):
        found += [f"{tag[:60]}… ({what})" for what, pattern in (("handler", EVENT_HANDLER),
                                                               ("javascript: URL", JAVASCRIPT_URL))
                  if pattern.search(tag)]
    # Mail is not a page (no policy applies) and mail clients keep only inline styles.
    if path.relative_to(TEMPLATES).parts[0] not in ("admin", "email"):
        found += [f"style: {m.group(0)}" for m in INLINE_STYLE.finditer(text)]
    return found


def test_no_template_has_inline_script_handlers_or_customer_page_styles():
    templates = sorted(TEMPLATES.rglob("*.html"))
    assert len(templates) > 20

    offenders = {str(p.relative_to(ROOT)): inline_code(p) for p in templates if inline_code(p)}

    assert offenders == {}, "move these into static/panel/*.js or panel.css"


def test_the_template_scan_finds_what_it_looks_for(tmp_path, monkeypatch):
    # given: a customer template with each kind of inline code
    monkeypatch.setattr(sys.modules[__name__], "TEMPLATES", tmp_path)
    page_ = tmp_path / "web" / "bad.html"
    page_.parent.mkdir()
    page_.write_text('<script>alert(1)</script><script src="/static/x.js"></script>\n'
                     '<button type="button"\n onclick="go()">x</button><select onChange=x></select>\n'
                     '<a href="javascript:void(0)">y</a><p style="color:red">z</p>')

    found = inline_code(page_)

    assert len(found) == 5, found


# --- No caching of signed-in pages --------------------------------------------------------------

def no_store(response) -> bool:
    return "no-store" in response.get("Cache-Control", "")


@pytest.mark.parametrize("path", ["/", "/funds/", "/orders/", "/transactions/", "/api-access/", "/account/"])
def test_signed_in_pages_are_not_stored(customer_client, path):
    response = customer_client.get(path)

    assert response.status_code == 200
    assert no_store(response)
    assert "private" in response["Cache-Control"]


def test_a_freshly_generated_key_is_not_stored(customer_client, customer):
    # when: a new key is made, and the page that shows it once is opened
    made = customer_client.post("/api-access/new-key/", {"confirm": "on"})
    shown = customer_client.get("/api-access/")

    # then
    assert made.status_code == 302 and no_store(made)
    assert shown.status_code == 200
    assert 'id="new-api-key"' in shown.content.decode()
    assert no_store(shown)


# --- HTTPS and HSTS ------------------------------------------------------------------------------

def test_plain_http_is_redirected_except_the_health_check(client, db, settings):
    # given: production's default (the test run turns it off: tests speak plain HTTP)
    settings.SECURE_SSL_REDIRECT = True

    # when
    page_ = client.get("/login/")
    health = client.get("/health")
    behind_proxy = client.get("/login/", headers={"X-Forwarded-Proto": "https"})

    # then
    assert page_.status_code == 301 and page_["Location"] == "https://testserver/login/"
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert behind_proxy.status_code == 200
    assert behind_proxy["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"


def compose_production_environment() -> dict[str, str]:
    """The web service's environment in docker-compose.yml, with each `${NAME:-default}` at its default."""
    text = (ROOT / "docker-compose.yml").read_text()
    block = re.search(r"^x-panel-env: &panel-env\n((?:  .*\n)+)", text, re.MULTILINE)
    assert block, "docker-compose.yml has no x-panel-env block"
    assert re.search(r"environment: \*panel-env", text)
    env = {}
    for line in block.group(1).splitlines():
        name, value = line.strip().split(":", 1)
        value = value.strip().strip('"')
        required = re.fullmatch(r"\$\{(\w+):\?[^}]*\}", value)
        if required:
            assert required.group(1) == "SECRET_KEY", f"{name} is required by docker-compose.yml"
            value = secrets.token_urlsafe(50)
        env[name] = re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", value)
    return env


def test_check_deploy_is_clean_with_the_production_environment(tmp_path):
    # given: docker-compose.yml's environment for the web service, and nothing else of this test run
    env = {"PATH": os.environ["PATH"], "PANEL_DATA_DIR": str(tmp_path), **compose_production_environment()}
    assert "DEBUG" not in env

    # when
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)

    # then
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


# --- In a browser: no Content-Security-Policy violation while the scripts work ------------------

@pytest.fixture
def csp_violations(page):  # noqa: F811
    """Console lines in which chromium reports a Content-Security-Policy violation."""
    seen = []
    page.on("console", lambda message: seen.append(message.text) if "Content Security Policy" in message.text
            else None)
    return seen


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_order_form_live_charge_runs_under_the_policy(page, csp_violations, live_server):  # noqa: F811
    # given: a customer, a service with drip-feed (its fields are shown and hidden by script)
    from tests.factories import CategoryFactory, ServiceFactory

    service = ServiceFactory(category=CategoryFactory(name="Instagram"), rate=Decimal("2.00"), min=10, max=5000,
                             dripfeed=True)
    customer = CustomerFactory(funds=Decimal("50"))
    log_in(page, customer.username)

    # when: the service is picked through the script-driven picker, and the quantity is typed
    choose_service(page, service)
    response = page.reload()
    page.fill("#id_link", "https://instagram.com/p/csp")
    page.fill("#id_quantity", "1500")

    # then: the charge follows the typing, under a policy that allows no inline script
    assert_scripts_are_files_only(response.headers["content-security-policy"])
    assert page.inner_text("[data-charge]") == "3.0000"
    page.check("[data-drip-toggle]")
    page.fill("#id_runs", "2")
    page.fill("#id_interval", "30")
    assert page.inner_text("[data-charge]") == "6.0000"
    assert csp_violations == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_add_funds_quote_and_checkout_run_under_the_policy(page, csp_violations, live_server,  # noqa: F811
                                                          gateway_simulator):  # noqa: F811
    # given: a card gateway at the simulator
    gateway = make_gateway(gateway_simulator, "stripe", name="demo-card", title="Card (demo)")
    customer = CustomerFactory()
    log_in(page, customer.username)

    # when: an amount is typed on the add-funds page
    response = page.goto("/funds/")
    page.select_option("select[name=gateway]", gateway.name)
    page.fill("input[name=amount]", "25")

    # then: the quote appears, and the form still sends the customer on to the gateway's checkout
    assert_scripts_are_files_only(response.headers["content-security-policy"])
    page.wait_for_selector("[data-quote-credit]:not(:empty)")
    assert "25.00" in page.inner_text("[data-quote-credit]")
    page.click("text=Continue to payment")
    page.wait_for_url(f"{gateway_simulator.url}/**")
    assert csp_violations == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_admin_change_list_form_and_confirm_page_run_under_the_policy(page, csp_violations,  # noqa: F811
                                                                      live_server):
    # given: a signed-in superuser, a customer with an order and a payment request (a styled status column)
    staff = UserFactory(is_staff=True, is_superuser=True)
    order = OrderFactory()
    balance = Customer.objects.get(pk=order.customer_id).balance
    PaymentRequest.objects.create(customer=order.customer, amount=Decimal("5"), method="bank_transfer")
    client = Client()
    client.force_login(staff)
    page.context.add_cookies([{"name": django_settings.SESSION_COOKIE_NAME,
                               "value": client.cookies[django_settings.SESSION_COOKIE_NAME].value,
                               "url": live_server.url}])

    # when: the change list, the change form, and an action's confirm page are used
    for path in ("/admin/", "/admin/orders/order/", f"/admin/orders/order/{order.pk}/change/",
                 "/admin/accounts/paymentrequest/", "/admin/orders/order/dashboard/"):
        response = page.goto(path)
        assert response.status == 200, path
        assert_scripts_are_files_only(response.headers["content-security-policy"])
    page.goto("/admin/accounts/customer/")
    page.check(f"input[name=_selected_action][value='{order.customer_id}']")
    page.select_option("select[name=action]", "adjust_balance")
    page.click("button[name=index]")
    page.fill("input[name=amount]", "7")
    page.fill("[name=reason]", "goodwill")
    page.click("input[name=apply]")

    # then: the action's script and the confirm form worked, with no violation reported
    page.wait_for_selector("text=adjusted by 7")
    assert Customer.objects.get(pk=order.customer_id).balance == balance + Decimal("7")
    assert csp_violations == []
