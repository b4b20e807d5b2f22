"""Two-factor sign-in: enrolment, the second step, backup codes, turning it off, staff and the admin, the
operator's reset; and the same in a real browser."""

from __future__ import annotations

import io
import os
import re
import time
from base64 import b32decode
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's loop runs in this thread

from audit.models import AuditEntry  # noqa: E402
from tests.factories import CustomerFactory, UserFactory  # noqa: E402
from tests.web.conftest import PASSWORD  # noqa: E402
from tests.web.test_browser import browser, log_in, page, shot  # noqa: E402,F401

pytestmark = pytest.mark.django_db


def code_for(secret: str, *, steps_ahead: int = 0) -> str:
    """The code an authenticator app shows for `secret` (as the page shows it), `steps_ahead` steps later.

    A code is accepted once: the next sign-in after enrolling uses the next step's, which is still valid.
    """
    totp = TOTP(b32decode(secret.replace(" ", "") + "=" * (-len(secret.replace(" ", "")) % 8)))
    totp.time = time.time() + 30 * steps_ahead
    return f"{totp.token():06d}"


def enrol(client) -> tuple[str, list[str]]:
    """Turn two-factor sign-in on for the client's user; returns the secret and the backup codes."""
    setup = client.get(reverse("security_setup"))
    secret = setup.context["secret"]
    answer = client.post(reverse("security_setup"), {"code": code_for(secret)})
    assert answer.status_code == 302
    codes = client.get(reverse("security")).context["new_codes"]
    return secret, codes


def password_step(client, username, *, url="login", ip="10.0.0.1", **fields):
    return client.post(reverse(url), {"username": username, "password": PASSWORD, **fields}, REMOTE_ADDR=ip)


def _signed_in(client) -> bool:
    return "_auth_user_id" in client.session


# --- customers ------------------------------------------------------------------------------------


def test_the_account_page_links_to_two_factor_sign_in(customer_client):
    page_ = customer_client.get(reverse("account")).content.decode()
    assert reverse("security") in page_


def test_enrolling_needs_a_code_from_the_shown_secret(customer_client, customer):
    setup = customer_client.get(reverse("security_setup"))
    assert "<svg" in setup.content.decode() and setup.context["secret"]
    assert "no-store" in setup["Cache-Control"]
    wrong = customer_client.post(reverse("security_setup"), {"code": "000000"})
    assert wrong.status_code == 400 and not TOTPDevice.objects.filter(user=customer.user, confirmed=True).exists()
    assert customer_client.post(reverse("security_setup"),
                                {"code": code_for(setup.context["secret"])}).status_code == 302
    assert TOTPDevice.objects.filter(user=customer.user, confirmed=True).count() == 1


def test_backup_codes_are_shown_once_and_stored_as_digests(customer_client, customer):
    _secret, codes = enrol(customer_client)
    assert len(codes) == 10 and all(re.fullmatch(r"[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}", c) for c in codes)
    assert customer_client.get(reverse("security")).context["new_codes"] is None
    stored = set(StaticToken.objects.filter(device__user=customer.user).values_list("token", flat=True))
    assert len(stored) == 10
    assert not stored & {c.replace("-", "") for c in codes} and not stored & set(codes)


def test_signing_in_asks_for_the_code_before_the_account_opens(customer_client, customer):
    secret, _codes = enrol(customer_client)
    customer_client.post(reverse("logout"))
    client = Client()
    # when: the right password
    answer = password_step(client, customer.username)
    # then: not signed in yet; the second step is next
    assert answer.status_code == 302 and answer["Location"].startswith(reverse("login_verify"))
    assert not _signed_in(client)
    assert client.get(reverse("dashboard")).status_code == 302
    # when: the code
    done = client.post(reverse("login_verify"), {"code": code_for(secret, steps_ahead=1)})
    # then: signed in, verified
    assert done.status_code == 302 and done["Location"] == reverse("dashboard")
    assert _signed_in(client) and DEVICE_ID_SESSION_KEY in client.session
    assert client.get(reverse("dashboard")).status_code == 200


def test_a_password_changed_between_the_steps_ends_the_pending_sign_in(customer_client, customer):
    secret, _codes = enrol(customer_client)
    client = Client()
    password_step(client, customer.username)
    customer.user.set_password("Another-pass-77")
    customer.user.save()
    answer = client.post(reverse("login_verify"), {"code": code_for(secret, steps_ahead=1)})
    assert answer["Location"] == reverse("login") and not _signed_in(client)


def test_the_second_step_alone_opens_nothing(client):
    assert client.get(reverse("login_verify")).status_code == 302
    assert client.post(reverse("login_verify"), {"code": "123456"})["Location"] == reverse("login")


def test_a_backup_code_signs_in_once(customer_client, customer):
    _secret, codes = enrol(customer_client)
    customer_client.post(reverse("logout"))
    first, second = Client(), Client()
    password_step(first, customer.username)
    assert first.post(reverse("login_verify"), {"code": codes[0].upper()}).status_code == 302
    password_step(second, customer.username)
    reused = second.post(reverse("login_verify"), {"code": codes[0]})
    assert reused.status_code == 200 and not _signed_in(second)
    assert StaticToken.objects.filter(device__user=customer.user).count() == 9


def test_wrong_codes_lock_the_second_step(customer_client, customer):
    secret, _codes = enrol(customer_client)
    customer_client.post(reverse("logout"))
    client = Client()
    password_step(client, customer.username)
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        client.post(reverse("login_verify"), {"code": "000000"})
    locked = client.post(reverse("login_verify"), {"code": code_for(secret, steps_ahead=1)})
    assert "Too many failed" in locked.content.decode() and not _signed_in(client)


def test_an_account_with_two_factor_is_not_locked_by_guesses_from_many_addresses(customer_client, customer):
    secret, _codes = enrol(customer_client)
    customer_client.post(reverse("logout"))
    attacker = Client()
    for i in range(settings.LOGIN_USERNAME_FAILURE_LIMIT + 5):
        attacker.post(reverse("login"), {"username": customer.username, "password": "wrong"},
                      REMOTE_ADDR=f"203.0.113.{i // settings.LOGIN_FAILURE_LIMIT + 1}")
    owner = Client()
    assert password_step(owner, customer.username, ip="198.51.100.7")["Location"].startswith(
        reverse("login_verify"))
    assert owner.post(reverse("login_verify"), {"code": code_for(secret, steps_ahead=1)}).status_code == 302


def test_turning_it_off_needs_the_password_and_a_code(customer_client, customer):
    secret, _codes = enrol(customer_client)
    url = reverse("security_disable")
    no_code = customer_client.post(url, {"disable-password": PASSWORD, "disable-code": "000000"})
    wrong_password = customer_client.post(url, {"disable-password": "wrong",
                                                "disable-code": code_for(secret, steps_ahead=1)})
    assert no_code.status_code == wrong_password.status_code == 400
    assert TOTPDevice.objects.filter(user=customer.user).exists()
    done = customer_client.post(url, {"disable-password": PASSWORD, "disable-code": code_for(secret, steps_ahead=1)})
    assert done.status_code == 302
    assert not TOTPDevice.objects.filter(user=customer.user).exists()
    assert not StaticDevice.objects.filter(user=customer.user).exists()


def test_new_backup_codes_replace_the_old_ones(customer_client, customer):
    secret, old = enrol(customer_client)
    answer = customer_client.post(reverse("security_backup_codes"), {"codes-code": code_for(secret, steps_ahead=1)})
    assert answer.status_code == 302
    new = customer_client.get(reverse("security")).context["new_codes"]
    assert new and not set(new) & set(old)
    customer_client.post(reverse("logout"))
    client = Client()
    password_step(client, customer.username)
    assert client.post(reverse("login_verify"), {"code": old[0]}).status_code == 200
    assert client.post(reverse("login_verify"), {"code": new[0]}).status_code == 302


# --- staff and the admin -----------------------------------------------------------------------------


@pytest.fixture
def staff(db):
    return UserFactory(username="boss", is_staff=True, is_superuser=True)


def test_a_staff_password_alone_does_not_open_the_admin(staff):
    client = Client()
    # when: the right password at the admin's login
    answer = password_step(client, "boss", url="admin:login")
    # then: sent to set up a device, and the admin stays shut
    assert answer.status_code == 302 and answer["Location"].startswith(reverse("security_setup"))
    index = client.get(reverse("admin:index"))
    assert index.status_code == 302 and "/login/" in index["Location"]
    assert client.get(reverse("admin:login"))["Location"].startswith(reverse("security_setup"))
    assert client.get(reverse("admin:auth_user_changelist")).status_code == 302


def test_a_staff_session_without_the_second_factor_is_refused(staff, client):
    client.force_login(staff)
    assert client.get(reverse("admin:index")).status_code == 200
    session = client.session
    del session[DEVICE_ID_SESSION_KEY]
    session.save()
    assert client.get(reverse("admin:index")).status_code == 302


def test_staff_enrol_then_the_admin_opens_and_later_asks_for_a_code(staff):
    client = Client()
    first = password_step(client, "boss", url="admin:login")
    setup = client.get(first["Location"])
    assert "Staff accounts need two-factor sign-in" in setup.content.decode()
    secret = setup.context["secret"]
    done = client.post(first["Location"], {"code": code_for(secret), "next": "/admin/"})
    assert done.status_code == 302
    assert client.get(done["Location"]).context["next"] == "/admin/"
    assert client.get(reverse("admin:index")).status_code == 200
    # next time: password, then a code, then the admin
    client.post(reverse("admin:logout"))
    again = Client()
    step = password_step(again, "boss", url="admin:login", next="/admin/")  # the admin's form carries it
    assert step["Location"].startswith(reverse("login_verify"))
    assert again.get(reverse("admin:index")).status_code == 302
    verified = again.post(step["Location"], {"code": code_for(secret, steps_ahead=1)})
    assert verified["Location"] == "/admin/"
    assert again.get(reverse("admin:index")).status_code == 200


def test_staff_cannot_turn_two_factor_off(staff):
    client = Client()
    client.force_login(staff)
    secret, _codes = enrol(client)
    client.post(reverse("security_disable"), {"disable-password": PASSWORD,
                                              "disable-code": code_for(secret, steps_ahead=1)})
    assert TOTPDevice.objects.filter(user=staff, confirmed=True).exists()


def test_reset_2fa_removes_the_devices_and_writes_an_audit_row(staff):
    client = Client()
    client.force_login(staff)
    enrol(client)
    out = io.StringIO()
    call_command("reset_2fa", "boss", "--reason", "ticket 42", stdout=out)
    assert "Removed" in out.getvalue()
    assert not TOTPDevice.objects.filter(user=staff).exists()
    assert AuditEntry.objects.get(action="user.two_factor_reset").reason == "ticket 42"
    # the old session no longer counts as verified, and the next sign-in sets up a new device
    assert client.get(reverse("admin:index")).status_code == 302
    assert password_step(Client(), "boss", url="admin:login")["Location"].startswith(reverse("security_setup"))


def test_reset_2fa_of_an_unknown_user_fails():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("reset_2fa", "nobody", stdout=io.StringIO())


# --- in a browser --------------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_customer_turns_on_two_factor_signs_out_and_signs_in_with_a_code(page):  # noqa: F811
    # given: a signed-in customer
    customer = CustomerFactory()
    log_in(page, customer.username)
    # when: they turn two-factor sign-in on from the Account page, scanning (here: reading) the secret
    page.goto("/account/")
    page.click("[data-testid=security-link]")
    page.click("text=Turn on two-factor sign-in")
    assert page.locator("[data-testid=totp-qr] svg").count() == 1
    secret = page.inner_text("[data-testid=totp-secret]")
    shot(page, "two_factor_setup")
    page.fill("#id_code", code_for(secret))
    page.click("button:has-text('Turn on')")
    # then: backup codes, once
    page.wait_for_selector("[data-testid=backup-codes]")
    assert len(page.inner_text("#backup-codes").split()) == 10
    shot(page, "two_factor_backup_codes")
    assert "On" in page.inner_text("[data-testid=two-factor-status]")

    # when: they sign out and back in
    page.click("button:has-text('Log out')")
    page.wait_for_url("**/login/")
    page.fill("#id_username", customer.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]:has-text('Log in')")
    page.wait_for_url("**/login/verify/**")
    shot(page, "two_factor_verify")
    page.fill("#id_code", code_for(secret, steps_ahead=1))
    page.click("button:has-text('Verify')")
    # then: the dashboard (waited for by its content: the verify page's own URL also ends in "/")
    page.wait_for_selector("[data-testid=balance]")
    assert urlparse(page.url).path == "/"
