"""/api/v2 under hostile input, continued: strict numbers, key guessing limited per address, no key in any log line."""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
import requests
from django.conf import settings as django_settings

from orders.models import Order
from panel.logging import mask_secrets
from tests.api.conftest import answer_of
from tests.api.test_hardening import (  # noqa: F401 - helpers and fixtures
    _ARABIC_INDIC,
    _FULLWIDTH,
    INCORRECT_REQUEST,
    INVALID_KEY,
    ROOT,
    _json_answer,
    _nothing_charged,
    _post,
)
from tests.factories import CustomerFactory, ServiceFactory


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        {"action": "status", "order": [1]},
        {"action": "status", "orders": [[1], [2]]},
        {"action": "status", "orders": [True]},
        {"action": "refill_status", "refill": {"id": 1}},
    ],
)
def test_ids_in_arrays_or_objects_are_refused(client, body):
    # given
    customer = CustomerFactory()

    # when
    response = client.post("/api/v2", json.dumps({"key": customer.raw_api_key, **body}),
                           content_type="application/json")

    # then
    assert answer_of(response) == INCORRECT_REQUEST


@pytest.mark.django_db
def test_a_list_field_still_takes_a_json_array_of_lines(client):
    # given
    customer = CustomerFactory(funds="100")
    service = ServiceFactory(type="Custom Comments", min=1, max=10, rate=Decimal("100"))
    body = {"key": customer.raw_api_key, "action": "add", "service": service.pk, "link": "https://x.com/a",
            "comments": ["one", 2, "three"]}

    # when
    answer = answer_of(client.post("/api/v2", json.dumps(body), content_type="application/json"))

    # then
    assert Order.objects.get(pk=answer["order"]).comments == "one\n2\nthree"


@pytest.mark.django_db
@pytest.mark.parametrize(("quantity", "error"), [
    ("1" * 5000, "Incorrect quantity: must be at most 2147483647"),
    ("-" + "1" * 5000, "Incorrect quantity: must be at least 1"),
    ("１００", "Incorrect quantity: must be a whole number"),
    ("1_00", "Incorrect quantity: must be a whole number"),
])
def test_a_quantity_is_ascii_digits_of_a_sane_length(api, quantity, error):
    # given
    customer = CustomerFactory(funds="10")
    service = ServiceFactory(min=1, max=1000)

    # when
    answer = api(customer.raw_api_key, "add", service=service.pk, link="https://x.com/a", quantity=quantity)

    # then
    assert answer == {"error": error}
    _nothing_charged(customer, "10")


@pytest.mark.django_db
def test_a_poll_answer_number_in_other_digits_is_refused(api):
    # given
    customer = CustomerFactory(funds="10")
    service = ServiceFactory(type="Poll", min=1, max=1000)

    # when: "²" passes str.isdigit() and fails int()
    answer = api(customer.raw_api_key, "add", service=service.pk, link="https://x.com/a", quantity=10,
                 answer_number="²")

    # then
    assert answer == {"error": "Incorrect answer_number: must be a positive whole number"}
    _nothing_charged(customer, "10")


# --- key lookups limited per client address ------------------------------------------------------


@pytest.fixture
def three_failures(settings):
    settings.API_KEY_FAILURE_LIMIT = 3
    settings.API_KEY_FAILURE_WINDOW_SECONDS = 60
    settings.TRUSTED_PROXY_COUNT = 0


def _balance(client, key: str, **extra):
    return client.post("/api/v2", {"key": key, "action": "balance"}, **extra)


@pytest.mark.django_db
def test_random_keys_from_one_address_are_refused_after_the_limit(client, three_failures):
    # given
    customer = CustomerFactory(funds="5")

    # when: each guess is a new key, so the per-key limit never sees a second request
    guesses = [_balance(client, secrets.token_hex(16), REMOTE_ADDR="203.0.113.5") for _ in range(5)]
    elsewhere = _balance(client, secrets.token_hex(16), REMOTE_ADDR="203.0.113.6")
    owner_elsewhere = _balance(client, customer.raw_api_key, REMOTE_ADDR="198.51.100.1")

    # then
    assert [answer_of(r) for r in guesses[:3]] == [INVALID_KEY] * 3
    for refused in guesses[3:]:
        assert answer_of(refused, status=429) == {"error": "Too many requests"}
        assert 1 <= int(refused["Retry-After"]) <= 60
    assert answer_of(elsewhere) == INVALID_KEY
    assert answer_of(owner_elsewhere)["balance"] == "5.00"


@pytest.mark.django_db
def test_a_valid_key_does_not_use_up_its_addresss_failures(client, three_failures):
    # given
    customer = CustomerFactory(funds="5")

    # when
    valid = [_balance(client, customer.raw_api_key, REMOTE_ADDR="203.0.113.5") for _ in range(10)]
    guesses = [_balance(client, secrets.token_hex(16), REMOTE_ADDR="203.0.113.5") for _ in range(3)]

    # then
    assert all(answer_of(r)["balance"] == "5.00" for r in valid)
    assert [answer_of(r) for r in guesses] == [INVALID_KEY] * 3


@pytest.mark.django_db
def test_a_guesser_does_not_shut_out_a_customer_at_the_same_address(client, three_failures):
    # given a customer whose key has worked, behind the same address as a guesser (a NAT, a proxy)
    regular, newcomer = CustomerFactory(funds="5"), CustomerFactory(funds="7")
    assert answer_of(_balance(client, regular.raw_api_key, REMOTE_ADDR="203.0.113.5"))["balance"] == "5.00"
    for _ in range(4):
        _balance(client, secrets.token_hex(16), REMOTE_ADDR="203.0.113.5")

    # when
    regular_answer = _balance(client, regular.raw_api_key, REMOTE_ADDR="203.0.113.5")
    newcomer_answer = _balance(client, newcomer.raw_api_key, REMOTE_ADDR="203.0.113.5")

    # then: the known key is served; a key not seen yet waits for the window like any guess
    assert answer_of(regular_answer)["balance"] == "5.00"
    assert answer_of(newcomer_answer, status=429) == {"error": "Too many requests"}


@pytest.mark.django_db
def test_a_known_key_that_stops_working_counts_as_a_failure_again(client, three_failures):
    # given a key that worked, then was replaced
    from accounts.services import api_key_generate

    customer = CustomerFactory(funds="5")
    old_key = customer.raw_api_key
    assert answer_of(_balance(client, old_key, REMOTE_ADDR="203.0.113.5"))["balance"] == "5.00"
    api_key_generate(customer=customer)

    # when
    answers = [_balance(client, old_key, REMOTE_ADDR="203.0.113.5") for _ in range(5)]

    # then
    assert [r.status_code for r in answers] == [200, 200, 200, 429, 429]


@pytest.mark.django_db
def test_an_ipv6_client_counts_as_its_slash_64(client, three_failures):
    # when
    answers = [_balance(client, secrets.token_hex(16), REMOTE_ADDR=f"2001:db8:1:2::{i:x}") for i in range(1, 5)]
    other_network = _balance(client, secrets.token_hex(16), REMOTE_ADDR="2001:db8:1:3::1")

    # then
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert answer_of(other_network) == INVALID_KEY


@pytest.mark.django_db
def test_behind_a_trusted_proxy_the_forwarded_address_is_counted(client, three_failures, settings):
    # given one proxy in front: it appends the address it was reached from; what is left of it is the client's
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.2"

    # when: a guesser rewrites its own X-Forwarded-For each time
    guesses = [_balance(client, secrets.token_hex(16), REMOTE_ADDR=proxy,
                        HTTP_X_FORWARDED_FOR=f"192.0.2.{i}, 203.0.113.5") for i in range(4)]
    another_client = _balance(client, secrets.token_hex(16), REMOTE_ADDR=proxy,
                              HTTP_X_FORWARDED_FOR="203.0.113.9")

    # then
    assert [r.status_code for r in guesses] == [200, 200, 200, 429]
    assert answer_of(another_client) == INVALID_KEY


@pytest.mark.django_db
def test_without_trusted_proxies_x_forwarded_for_is_ignored(client, three_failures):
    # when
    guesses = [_balance(client, secrets.token_hex(16), REMOTE_ADDR="203.0.113.5",
                        HTTP_X_FORWARDED_FOR=f"192.0.2.{i}") for i in range(4)]

    # then
    assert [r.status_code for r in guesses] == [200, 200, 200, 429]


GUESSERS = 10  # the test server's listen backlog is 10: more connections at once would be reset


@pytest.mark.django_db(transaction=True)
def test_concurrent_guesses_are_counted_atomically(live_server, settings):
    # given
    settings.API_KEY_FAILURE_LIMIT = 3
    settings.API_KEY_FAILURE_WINDOW_SECONDS = 60
    start = threading.Barrier(GUESSERS)
    statuses: list[int] = []

    def guess() -> None:
        session = requests.Session()
        start.wait()
        response = session.post(f"{live_server.url}/api/v2",
                                data={"key": secrets.token_hex(16), "action": "balance"}, timeout=30)
        statuses.append(response.status_code)

    # when
    threads = [threading.Thread(target=guess) for _ in range(GUESSERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then: no more lookups evaluated than the limit, however many arrived at once
    assert statuses.count(200) == 3
    assert statuses.count(429) == GUESSERS - 3


# --- keys masked in every log line ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "masked"),
    [
        ('"GET /api/v2?key=0123456789abcdef0123456789abcdef&action=balance HTTP/1.1" 200',
         '"GET /api/v2?key=0123****&action=balance HTTP/1.1" 200'),
        ("GET /api/v2?action=balance&KEY=0123456789abcdef0123456789abcdef",
         "GET /api/v2?action=balance&KEY=0123****"),
        ("GET /api/v2?k%65y=0123456789abcdef0123456789abcdef", "GET /api/v2?k%65y=0123****"),
        ("GET /api/v2?api_key=short", "GET /api/v2?api_key=****"),
        ('body {"key": "0123456789abcdef0123456789abcdef", "action": "add"}',
         'body {"key": "0123****", "action": "add"}'),
        ("params {'key': '0123456789abcdef0123456789abcdef'}", "params {'key': '0123****'}"),
        ("GET /api/v2?action=balance&monkeys=1&keyword=x", "GET /api/v2?action=balance&monkeys=1&keyword=x"),
    ],
)
def test_mask_secrets(line, masked):
    assert mask_secrets(line) == masked


def test_djangos_console_handler_masks_keys():
    import logging

    # given the handler that LOGGING configures
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "console")
    key = secrets.token_hex(16)
    record = logging.LogRecord("panel.api", logging.WARNING, __file__, 1, "request %s failed",
                               (f"/api/v2?key={key}&action=add",), None)

    # when
    shown = handler.format(record) if handler.filter(record) else ""

    # then
    assert key not in shown
    assert f"key={key[:4]}****&action=add" in shown


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def gunicorn_logs(tmp_path_factory):
    """gunicorn as docker-compose starts it (its config file, access log on), on a fresh SQLite database."""
    data = tmp_path_factory.mktemp("gunicorn")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "panel.settings", "SECRET_KEY": "logs-only", "DEBUG": "0",
           "ALLOWED_HOSTS": "127.0.0.1", "PANEL_DATA_DIR": str(data), "DATABASE_URL": f"sqlite:///{data}/p.sqlite3",
           "SECURE_SSL_REDIRECT": "0", "STATIC_MANIFEST": "0", "LOG_LEVEL": "INFO",
           "CELERY_BROKER_URL": "memory://"}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=120)
    port = _free_port()
    access, errors = data / "access.log", data / "error.log"
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "panel/gunicorn.conf.py", "panel.wsgi", "--bind",
         f"127.0.0.1:{port}", "--workers", "1", "--access-logfile", str(access), "--error-logfile", str(errors),
         "--log-level", "debug"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(base + "/health", timeout=2)
                break
            except requests.ConnectionError as exc:
                if time.monotonic() > deadline or server.poll() is not None:
                    log = errors.read_text() if errors.exists() else ""
                    raise RuntimeError(f"gunicorn did not start: {log}") from exc
                time.sleep(0.2)
        yield base, access, errors
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_keys_in_query_strings_are_masked_in_gunicorns_logs(gunicorn_logs):
    # given
    base, access, errors = gunicorn_logs
    key = secrets.token_hex(16)

    # when: the key in a GET query string, under its plain and its percent-encoded name, and on a bad request line
    port = urlsplit(base).port
    answers = []
    for path in (f"/api/v2?key={key}&action=balance", f"/api/v2?action=balance&k%65y={key}"):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)  # sends the path as it is
        connection.request("GET", path)
        response = connection.getresponse()
        answers.append((response.status, response.getheader("Content-Type"), json.loads(response.read())))
        connection.close()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"GET /api/v2?key={key}\r\n\r\n".encode())  # no HTTP version: logged as invalid
        sock.recv(4096)
    time.sleep(0.5)  # the access log is written after the answer

    # then
    assert answers == [(200, "application/json", INVALID_KEY)] * 2
    logged = access.read_text() + errors.read_text()
    assert key not in logged
    assert len(re.findall(rf"\?key={key[:4]}\*\*\*\*&", access.read_text())) == 1
    assert len(re.findall(rf"k%65y={key[:4]}\*\*\*\*", access.read_text())) == 1


def test_the_deployment_starts_gunicorn_with_the_masking_config():
    compose = (ROOT / "docker-compose.yml").read_text()
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "-c panel/gunicorn.conf.py" in compose
    assert '"-c", "panel/gunicorn.conf.py"' in dockerfile
    assert django_settings.LOGGING["handlers"]["console"]["filters"] == ["mask_secrets"]
