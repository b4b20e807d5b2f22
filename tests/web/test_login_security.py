"""Sign-in protection: counted before the password is hashed, per username and per client address, never a
way to lock the owner out; and limits on reset mails, signups and payment requests."""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
import requests
from django.conf import settings
from django.contrib.auth.hashers import MD5PasswordHasher
from django.core import mail
from django.test import Client
from django.urls import reverse
from freezegun import freeze_time

from accounts.models import Customer, Deposit, PaymentRequest
from panel.web import throttle
from tests.factories import CustomerFactory, UserFactory
from tests.payments.conftest import gateway_simulator, make_gateway  # noqa: F401
from tests.web.conftest import PASSWORD

pytestmark = pytest.mark.django_db


class CountingHasher(MD5PasswordHasher):
    """The tests' fast hasher, counting each password it checks; as slow as a real one while it checks."""

    checks = 0
    lock = threading.Lock()
    seconds = 0.0

    def verify(self, password, encoded):
        with CountingHasher.lock:
            CountingHasher.checks += 1
        time.sleep(CountingHasher.seconds)
        return super().verify(password, encoded)


@pytest.fixture
def counted(settings):
    settings.PASSWORD_HASHERS = [f"{__name__}.CountingHasher"]
    CountingHasher.checks = 0
    CountingHasher.seconds = 0.0
    return CountingHasher


def _login(client, username, password, *, ip="10.0.0.1", forwarded=None, url="login"):
    extra = {"REMOTE_ADDR": ip}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return client.post(reverse(url), {"username": username, "password": password}, **extra)


def _signed_in(client) -> bool:
    return "_auth_user_id" in client.session


# --- the admin's login ---------------------------------------------------------------------------


def test_admin_login_stops_checking_passwords_at_the_limit(client, counted):
    # given: a superuser
    UserFactory(username="admin", is_staff=True, is_superuser=True)
    # when: 12 wrong passwords at /admin/login/, then the right one
    answers = [_login(client, "admin", f"guess-{i}", url="admin:login") for i in range(12)]
    right = _login(client, "admin", PASSWORD, url="admin:login")
    # then: only the first LOGIN_FAILURE_LIMIT were checked, and the lock holds for the right one too
    assert counted.checks == settings.LOGIN_FAILURE_LIMIT
    assert "Too many failed sign-in attempts" in answers[-1].content.decode()
    assert "Too many failed sign-in attempts" in right.content.decode() and not _signed_in(client)


def test_admin_and_customer_logins_share_the_counters(client, counted):
    UserFactory(username="boss", is_staff=True)
    for _ in range(3):
        _login(client, "boss", "wrong", url="admin:login")
    for _ in range(3):
        _login(client, "boss", "wrong")
    assert counted.checks == settings.LOGIN_FAILURE_LIMIT


# --- concurrency ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_50_concurrent_wrong_passwords_are_checked_no_more_than_the_limit(live_server, counted):
    # given: a customer, and a hasher as slow as a real one, so that the guesses overlap
    customer = CustomerFactory()
    counted.seconds = 0.05
    session = requests.Session()
    page = session.get(f"{live_server.url}/login/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    csrf_cookie = session.cookies["csrftoken"]  # marked Secure outside DEBUG: sent by hand over http
    start = threading.Barrier(50)

    def guess(i: int) -> str:
        start.wait()
        for _ in range(20):  # the test server's listen queue is short: a connection it resets is tried again
            try:
                answer = requests.post(f"{live_server.url}/login/", cookies={"csrftoken": csrf_cookie}, timeout=30,
                                       data={"csrfmiddlewaretoken": token, "username": customer.username,
                                             "password": f"wrong-{i}"}, allow_redirects=False)
            except requests.ConnectionError:
                time.sleep(0.05)
                continue
            return answer.text
        raise AssertionError("the test server never answered")

    # when: 50 wrong passwords at once
    with ThreadPoolExecutor(max_workers=50) as pool:
        pages = list(pool.map(guess, range(50)))

    # then: no more were checked than the limit; the rest were refused unchecked
    assert counted.checks <= settings.LOGIN_FAILURE_LIMIT
    refused = sum("Too many failed sign-in attempts" in text for text in pages)
    assert refused >= 50 - settings.LOGIN_FAILURE_LIMIT


# --- who is locked -------------------------------------------------------------------------------


def test_behind_a_proxy_each_client_is_counted_on_its_own_address(settings, customer):
    # given: the panel behind one TLS proxy, which every request comes from
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = "172.18.0.2"
    attacker = Client()
    # when: an attacker spends the limit from 203.0.113.9, forging an address of the owner's on the left
    for _ in range(settings.LOGIN_FAILURE_LIMIT + 3):
        _login(attacker, customer.username, "wrong", ip=proxy, forwarded="198.51.100.7, 203.0.113.9")
    locked = _login(attacker, customer.username, PASSWORD, ip=proxy, forwarded="203.0.113.9")
    # then: the attacker is locked, and the owner at 198.51.100.7 signs in through the same proxy
    assert "Too many failed" in locked.content.decode()
    owner = Client()
    assert _login(owner, customer.username, PASSWORD, ip=proxy, forwarded="198.51.100.7").status_code == 302
    assert _signed_in(owner)


@pytest.mark.parametrize("forwarded, expected", [
    (None, "172.18.0.2"),
    ("198.51.100.7", "198.51.100.7"),
    ("1.2.3.4, 198.51.100.7", "198.51.100.7"),
    ("not-an-address", "172.18.0.2"),
])
def test_client_ip_takes_the_entry_the_trusted_proxy_wrote(rf, settings, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = 1
    extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}
    assert throttle.client_ip(rf.get("/", REMOTE_ADDR="172.18.0.2", **extra)) == expected


def test_without_trusted_proxies_x_forwarded_for_is_ignored(rf, settings):
    settings.TRUSTED_PROXY_COUNT = 0
    request = rf.get("/", REMOTE_ADDR="10.1.1.1", HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert throttle.client_ip(request) == "10.1.1.1"


def test_spraying_usernames_from_one_address_is_stopped(client, counted):
    # given: three customers
    users = [CustomerFactory().username for _ in range(3)]
    # when: 12 passwords, four per username (under the per-username limit), from one address
    answers = [_login(client, users[i % 3], f"spring-{i}") for i in range(12)]
    # then: the address is stopped at its own limit
    assert counted.checks == settings.LOGIN_IP_FAILURE_LIMIT
    assert sum("Too many failed" in a.content.decode() for a in answers) == 12 - settings.LOGIN_IP_FAILURE_LIMIT


def test_wrong_passwords_from_another_address_do_not_stop_the_owner(customer):
    attacker = Client()
    for _ in range(settings.LOGIN_FAILURE_LIMIT * 3):
        _login(attacker, customer.username, "wrong", ip="203.0.113.9")
    owner = Client()
    assert _login(owner, customer.username, PASSWORD, ip="198.51.100.7").status_code == 302


def test_many_addresses_lock_the_username_but_not_a_browser_that_signed_in_before(settings, customer):
    # given: the owner signed in once from this browser
    owner = Client()
    assert _login(owner, customer.username, PASSWORD, ip="198.51.100.7").status_code == 302
    owner.post(reverse("logout"))
    # when: guesses from many addresses reach the per-username limit
    attacker = Client()
    for i in range(settings.LOGIN_USERNAME_FAILURE_LIMIT + 5):
        _login(attacker, customer.username, "wrong", ip=f"203.0.113.{i // settings.LOGIN_FAILURE_LIMIT + 1}")
    # then: a new browser is held off, even from the owner's address...
    stranger = _login(Client(), customer.username, PASSWORD, ip="198.51.100.7")
    assert "Too many failed" in stranger.content.decode()
    # ...but the owner's browser signs in, even sharing an address with the guesser
    assert _login(owner, customer.username, PASSWORD, ip="203.0.113.1").status_code == 302
    assert _signed_in(owner)


def test_a_known_browser_is_counted_on_its_own(customer, counted):
    owner = Client()
    _login(owner, customer.username, PASSWORD)
    owner.post(reverse("logout"))
    for _ in range(settings.LOGIN_FAILURE_LIMIT + 2):
        _login(owner, customer.username, "typo")
    assert counted.checks == 1 + settings.LOGIN_FAILURE_LIMIT
    assert "Too many failed" in _login(owner, customer.username, PASSWORD).content.decode()


def test_a_forged_known_device_cookie_counts_for_nothing(customer, counted):
    client = Client()
    client.cookies[throttle.KNOWN_DEVICE_COOKIE] = "forged"
    for _ in range(settings.LOGIN_FAILURE_LIMIT + 2):
        _login(client, customer.username, "wrong")
    assert counted.checks == settings.LOGIN_FAILURE_LIMIT


@pytest.fixture
def process_cache(settings):
    """An in-process cache: the frozen clock moves its expiry times, which a Redis server's TTLs ignore."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "frozen-clock"}}


def test_the_lock_ends_after_the_cool_off(client, customer, process_cache):
    with freeze_time() as clock:
        for _ in range(settings.LOGIN_FAILURE_LIMIT):
            _login(client, customer.username, "wrong")
        assert "Too many failed" in _login(client, customer.username, PASSWORD).content.decode()
        clock.tick(settings.LOGIN_LOCKOUT_SECONDS + 1)
        assert _login(client, customer.username, PASSWORD).status_code == 302


# --- reset mails, signups, payment requests ------------------------------------------------------


def test_reset_mails_are_limited_per_email_without_saying_so(client, customer):
    answers = [client.post(reverse("password_reset"), {"email": customer.user.email}, REMOTE_ADDR=f"10.0.1.{i}")
               for i in range(20)]
    assert len(mail.outbox) == settings.PASSWORD_RESETS_PER_EMAIL_PER_HOUR
    assert {a.status_code for a in answers} == {302}  # the same "sent" page for each


def test_reset_requests_are_limited_per_address(client):
    answers = [client.post(reverse("password_reset"), {"email": f"someone{i}@example.com"}) for i in range(12)]
    statuses = [a.status_code for a in answers]
    assert statuses.count(302) == settings.PASSWORD_RESETS_PER_IP_PER_HOUR
    assert statuses[-1] == 429 and "Too many reset requests" in answers[-1].content.decode()


def _signup(client, username, *, ip="127.0.0.1", **fields):
    return client.post(reverse("signup"), {"username": username, "email": f"{username}@example.com",
                                           "password1": "Very-secret-42", "password2": "Very-secret-42",
                                           **fields}, REMOTE_ADDR=ip)


def test_signups_are_limited_per_address():
    answers = [_signup(Client(), f"newcomer{i}") for i in range(settings.SIGNUPS_PER_IP_PER_HOUR + 2)]
    assert Customer.objects.count() == settings.SIGNUPS_PER_IP_PER_HOUR
    assert answers[-1].status_code == 429
    assert _signup(Client(), "elsewhere", ip="10.9.9.9").status_code == 302


def test_signup_answers_the_same_for_a_taken_and_a_reserved_name(client, django_user_model):
    django_user_model.objects.create_user("existing", password=PASSWORD)
    taken = _signup(client, "Existing").context["form"].errors
    reserved = _signup(client, "support").context["form"].errors
    assert taken == reserved and list(taken) == ["username"]


def test_signup_checks_the_name_only_once_everything_else_is_right(client, django_user_model):
    django_user_model.objects.create_user("existing", password=PASSWORD)
    taken_bad_password = _signup(client, "existing", password2="other").context["form"].errors
    free_bad_password = _signup(client, "nobody-has-it", password2="other").context["form"].errors
    assert taken_bad_password == free_bad_password and "username" not in taken_bad_password


def test_payment_requests_are_limited_per_customer_per_hour(customer_client, customer):
    answers = [customer_client.post(reverse("funds"), {"amount": "1000000", "method": "bank_transfer"})
               for _ in range(30)]
    assert PaymentRequest.objects.filter(customer=customer).count() == settings.PAYMENT_REQUESTS_PER_HOUR
    assert answers[-1].status_code == 429 and "too many payments" in answers[-1].content.decode()


def test_deposits_count_against_the_same_limit(customer_client, customer, gateway_simulator, settings):  # noqa: F811
    settings.PAYMENT_REQUESTS_PER_HOUR = 3
    make_gateway(gateway_simulator, "stripe", name="card", min_amount=Decimal("5"), max_amount=Decimal("500"))
    customer_client.post(reverse("funds"), {"amount": "10", "method": "bank_transfer"})
    answers = [customer_client.post(reverse("funds"), {"gateway": "card", "amount": "20"}) for _ in range(4)]
    assert [a.status_code for a in answers] == [302, 302, 429, 429]
    assert Deposit.objects.filter(customer=customer).count() == 2


def test_the_hour_window_ends(customer_client, customer, settings, process_cache):
    settings.PAYMENT_REQUESTS_PER_HOUR = 1
    with freeze_time() as clock:
        customer_client.post(reverse("funds"), {"amount": "5", "method": "bank_transfer"})
        assert customer_client.post(reverse("funds"), {"amount": "5", "method": "bank_transfer"}).status_code == 429
        clock.tick(throttle.HOUR + 1)
        assert customer_client.post(reverse("funds"), {"amount": "5", "method": "bank_transfer"}).status_code == 302
