"""/api/v2 under hostile input: JSON to anything, strict numbers, key guessing limited per address, no key
in any log line.

The transport tests go through a real server (live_server, or gunicorn for the logs) with raw bytes, as an
attacker would send them: the Django test client re-encodes bodies and re-raises exceptions itself.
"""

from __future__ import annotations

import http.client
import json
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
import requests

from accounts.models import LedgerEntry
from orders.models import Order
from tests.api.conftest import answer_of, api_call
from tests.factories import CustomerFactory, ServiceFactory

ROOT = Path(__file__).resolve().parent.parent.parent
INCORRECT_REQUEST = {"error": "Incorrect request"}
INVALID_KEY = {"error": "Invalid API key"}


def _json_answer(response: requests.Response, status: int = 200) -> object:
    assert response.status_code == status, response.content[:300]
    assert response.headers["Content-Type"] == "application/json", response.content[:300]
    return response.json()


def _post(live_server, body: bytes, content_type: str | None, **headers) -> requests.Response:
    if content_type is not None:
        headers["Content-Type"] = content_type
    return requests.post(f"{live_server.url}/api/v2", data=body, headers=headers, timeout=30)


def _nothing_charged(customer, balance: str) -> None:
    customer.refresh_from_db()
    assert customer.balance == Decimal(balance)
    assert not Order.objects.filter(customer=customer).exists()
    assert not LedgerEntry.objects.filter(customer=customer, kind=LedgerEntry.Kind.CHARGE).exists()


# --- JSON to anything ----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"[" * 100_000, "application/json"),
        (b"[" * 100_000, None),  # sniffed as JSON by its first byte
        (b'{"key":' * 100_000, "application/json"),
    ],
    ids=["array-json", "array-sniffed", "object-json"],
)
def test_deeply_nested_json_is_an_incorrect_request(live_server, body, content_type):
    # when
    response = _post(live_server, body, content_type)

    # then
    assert _json_answer(response) == INCORRECT_REQUEST


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("where", ["prefix", "tail"])
def test_a_nul_byte_in_the_key_is_an_invalid_key(live_server, where):
    # given: a NUL inside the 8-character prefix reaches the database's lookup, after it does not
    customer = CustomerFactory(funds="5")
    key = customer.raw_api_key
    bad = key[:3] + "\x00" + key[3:] if where == "prefix" else key + "\x00"

    # when
    answers = [
        _json_answer(_post(live_server, urlencode({"key": bad, "action": "balance"}).encode(),
                           "application/x-www-form-urlencoded")),
        _json_answer(_post(live_server, json.dumps({"key": bad, "action": "balance"}).encode(), "application/json")),
        _json_answer(requests.get(f"{live_server.url}/api/v2", params={"key": bad, "action": "balance"}, timeout=10)),
    ]

    # then
    assert answers == [INVALID_KEY] * 3


@pytest.mark.django_db(transaction=True)
def test_an_unpaired_surrogate_is_refused_as_json(live_server):
    # given
    customer = CustomerFactory(funds="5")
    service = ServiceFactory(min=1, max=1000)

    # when: \ud800 is a valid JSON escape but no valid text, for the database or for hashing
    key_answer = _post(live_server, b'{"key": "\\ud800abcdefgh", "action": "balance"}', "application/json")
    link_answer = _post(live_server, (
        f'{{"key": "{customer.raw_api_key}", "action": "add", "service": {service.pk}, "quantity": 10, '
        '"link": "https://x.com/\\ud800"}').encode(), "application/json")

    # then
    assert _json_answer(key_answer) == INCORRECT_REQUEST
    assert _json_answer(link_answer) == INCORRECT_REQUEST
    _nothing_charged(customer, "5")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "content_type",
    [
        "application/x-www-form-urlencoded; charset=ISO-8859-1",  # what some HTTP libraries send for every form
        "application/x-www-form-urlencoded; charset=utf8",
        "application/x-www-form-urlencoded; charset=rot13",
        "application/x-www-form-urlencoded; charset=undefined",
        "application/x-www-form-urlencoded; charset=no-such-charset",
        "text/plain; charset=undefined",
        "application/json; charset=latin-1",
    ],
)
def test_a_body_in_an_odd_charset_is_read_or_refused_as_json(live_server, content_type):
    # given
    customer = CustomerFactory(funds="5")
    params = {"key": customer.raw_api_key, "action": "balance"}
    body = json.dumps(params) if content_type.startswith("application/json") else urlencode(params)

    # when
    response = _post(live_server, body.encode(), content_type)

    # then: plain ASCII reads the same in any of them
    assert _json_answer(response) == {"balance": "5.00", "currency": "USD"}


@pytest.mark.django_db(transaction=True)
def test_a_multipart_body_in_an_odd_charset_is_answered_as_json(live_server):
    # given
    customer = CustomerFactory(funds="5")
    body = (f'--b\r\nContent-Disposition: form-data; name="key"\r\n\r\n{customer.raw_api_key}\r\n'
            '--b\r\nContent-Disposition: form-data; name="action"\r\n\r\nbalance\r\n--b--\r\n').encode()

    # when
    answers = [_json_answer(_post(live_server, body, f"multipart/form-data; boundary=b; charset={charset}"))
               for charset in ("undefined", "rot13", "latin-1")]

    # then
    assert answers == [{"balance": "5.00", "currency": "USD"}] * 3


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"garbage", "multipart/form-data"),
        (b"garbage", "multipart/form-data; boundary="),
        (b"&".join(b"f%d=1" % i for i in range(1200)), "application/x-www-form-urlencoded"),
    ],
    ids=["no-boundary", "empty-boundary", "too-many-fields"],
)
def test_a_malformed_body_is_an_incorrect_request(live_server, body, content_type):
    # when
    response = _post(live_server, body, content_type)

    # then
    assert _json_answer(response) == INCORRECT_REQUEST


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "application/json", "text/plain"])
def test_an_oversized_body_is_refused_unread_with_413(live_server, content_type):
    # given a body over DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB)
    body = b"key=" + b"a" * (3 * 1024 * 1024)

    # when
    response = _post(live_server, body, content_type)

    # then
    assert _json_answer(response, status=413) == {"error": "Request too large"}


@pytest.mark.django_db(transaction=True)
def test_a_10_mb_upload_without_a_key_is_refused_unread(live_server):
    # when
    response = requests.post(f"{live_server.url}/api/v2", data={"action": "balance"},
                             files={"upload": ("big.bin", b"\0" * (10 * 1024 * 1024))}, timeout=30)

    # then
    assert _json_answer(response, status=413) == {"error": "Request too large"}


@pytest.mark.django_db(transaction=True)
def test_a_file_part_is_refused_before_it_is_stored(live_server, settings, tmp_path):
    # given: any file would be written to tmp_path from its first byte on
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    customer = CustomerFactory(funds="5")
    head = (f'--b\r\nContent-Disposition: form-data; name="key"\r\n\r\n{customer.raw_api_key}\r\n'
            '--b\r\nContent-Disposition: form-data; name="upload"; filename="a.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n").encode()
    chunks = [b"\0" * 50_000] * 20
    tail = b'\r\n--b\r\nContent-Disposition: form-data; name="action"\r\n\r\nbalance\r\n--b--\r\n'
    seen: list[str] = []

    # when the upload arrives slowly, its directory watched all along
    server = urlsplit(live_server.url)
    connection = http.client.HTTPConnection(server.hostname, server.port, timeout=30)
    connection.putrequest("POST", "/api/v2")
    connection.putheader("Content-Type", "multipart/form-data; boundary=b")
    connection.putheader("Content-Length", str(len(head) + sum(map(len, chunks)) + len(tail)))
    connection.endheaders(head)
    for chunk in chunks:
        connection.send(chunk)
        time.sleep(0.01)
        seen.extend(path.name for path in tmp_path.iterdir())
    connection.send(tail)
    response = connection.getresponse()
    body = response.read()
    connection.close()

    # then
    assert (response.status, response.getheader("Content-Type")) == (200, "application/json")
    assert json.loads(body) == INCORRECT_REQUEST
    assert seen == []


@pytest.mark.django_db
def test_a_host_header_not_allowed_is_answered_as_json(client):
    # when
    response = client.post("/api/v2", {"action": "balance"}, HTTP_HOST="evil.example")

    # then
    assert answer_of(response, status=400) == INCORRECT_REQUEST


@pytest.mark.django_db
def test_a_fault_inside_the_view_is_a_json_500(client, monkeypatch):
    # given: the key lookup itself fails (the database is down, say)
    def broken(raw_key):
        raise RuntimeError("database unavailable")

    monkeypatch.setattr("panel.api.views.customer_by_api_key", broken)

    # when
    response = api_call(client, "form", {"key": "0123456789abcdef", "action": "balance"})

    # then
    assert answer_of(response, status=500) == {"error": "Internal error; try again later"}


# --- ids and quantities --------------------------------------------------------------------------

_FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
_ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


@pytest.mark.django_db
@pytest.mark.parametrize("spelling", ["fullwidth", "arabic-indic", "underscore", "plus", "decimal", "superscript"])
def test_a_service_id_is_ascii_digits_only(client, encoding, spelling):
    # given
    customer = CustomerFactory(funds="10")
    service = ServiceFactory(min=1, max=1000)
    digits = str(service.pk)
    service_id = {
        "fullwidth": digits.translate(_FULLWIDTH),
        "arabic-indic": digits.translate(_ARABIC_INDIC),
        "underscore": "_".join(digits) if len(digits) > 1 else f"0_{digits}",
        "plus": f"+{digits}",
        "decimal": f"{digits}.0",
        "superscript": "²" if digits == "2" else digits + "²",
    }[spelling]

    # when
    response = api_call(client, encoding, {"key": customer.raw_api_key, "action": "add", "service": service_id,
                                           "link": "https://x.com/a", "quantity": "100"})

    # then
    assert answer_of(response) == {"error": "Incorrect service ID"}
    _nothing_charged(customer, "10")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "override",
    [
        {"service": "[SERVICE]"},
        {"quantity": [100]},
        {"quantity": {"value": 100}},
        {"quantity": True},
        {"service": True},
        {"link": ["https://x.com/a"]},
        {"link": {"href": "https://x.com/a"}},
    ],
    ids=["service-array", "quantity-array", "quantity-object", "quantity-true", "service-true", "link-array",
         "link-object"],
)
def test_an_array_or_object_or_boolean_where_a_scalar_belongs_is_refused(client, override):
    # given: a service whose limits would take a quantity of 1 or 100
    customer = CustomerFactory(funds="10")
    service = ServiceFactory(min=1, max=1000, type="Default")
    body = {"key": customer.raw_api_key, "action": "add", "service": service.pk, "link": "https://x.com/a",
            "quantity": 100}
    body.update({name: ([service.pk] if value == "[SERVICE]" else value) for name, value in override.items()})

    # when
    response = client.post("/api/v2", json.dumps(body), content_type="application/json")

    # then
    assert answer_of(response) == INCORRECT_REQUEST
    _nothing_charged(customer, "10")
