"""A provider's URL receives our API key: it must be http(s) and, unless PROVIDER_URLS_ALLOW_PRIVATE is on,
reach only public addresses — refused when saved, and checked again on every connection (DNS rebinding).
A changed URL clears the stored key."""

from __future__ import annotations

import socket
import threading

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from providers.client import close_sessions
from providers.client_addresses import address_refusal
from providers.models import Provider
from providers.services import ProviderError, provider_create
from tests.factories import ProviderFactory

pytestmark = pytest.mark.django_db

SECRET = "upstream-secret-key-0123456789"
BALANCE_ANSWER = b'{"balance": "100.00", "currency": "USD"}'


class Listener:
    """A real HTTP server on a loopback address that records every connection and byte it gets, and answers
    any request with a good balance (so a request that does get through succeeds)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, 0))
        self._sock.listen(8)
        self._sock.settimeout(0.05)
        self.port = self._sock.getsockname()[1]
        self.connections = 0
        self.received = b""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            self.connections += 1
            with conn:
                conn.settimeout(2)
                data = b""
                try:
                    while b"\r\n\r\n" not in data:
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                    head, _, body = data.partition(b"\r\n\r\n")
                    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                                   if line.lower().startswith(b"content-length:")), 0)
                    while len(body) < length:
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        body += chunk
                        data += chunk
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                                 b"Content-Length: %d\r\n\r\n%s" % (len(BALANCE_ANSWER), BALANCE_ANSWER))
                except OSError:
                    pass
                self.received += data

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()


@pytest.fixture
def listener():
    server = Listener()
    yield server
    server.stop()


@pytest.fixture
def public_only(settings):
    """PROVIDER_URLS_ALLOW_PRIVATE off, as in production; no connection pooled from an earlier test."""
    close_sessions()
    settings.PROVIDER_URLS_ALLOW_PRIVATE = False
    yield
    close_sessions()


PRIVATE_URLS = [
    "http://127.0.0.1:8000/api/v2",
    "http://127.1.2.3/api/v2",
    "http://10.0.0.5/api/v2",
    "http://172.16.0.1/api/v2",
    "http://192.168.1.1/api/v2",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.64.0.1/api/v2",
    "http://0.0.0.0:8000/api/v2",
    "http://224.0.0.1/api/v2",
    "http://[::1]:8000/api/v2",
    "http://[fd00::1]/api/v2",
    "http://[fe80::1]/api/v2",
    "http://[::ffff:127.0.0.1]/api/v2",
    "http://[::ffff:a9fe:a9fe]/api/v2",
    "http://localhost:8000/api/v2",
    "http://api.localhost/api/v2",
]


# --- The address rules -----------------------------------------------------------------------------


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.1.2.3", "172.31.255.255", "192.168.0.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
    "224.0.0.251", "239.255.255.250", "240.0.0.1", "255.255.255.255", "192.0.2.1", "198.18.0.1",
    "::", "::1", "fc00::1", "fd12:3456::1", "fe80::1%eth0", "ff02::1", "ff0e::1", "::ffff:127.0.0.1",
    "::ffff:10.0.0.1", "::ffff:8.8.8.8", "::127.0.0.1", "2001:db8::1", "2002:7f00:1::1", "64:ff9b::7f00:1",
    "64:ff9b::a9fe:a9fe", "2001::1",
])
def test_non_public_addresses_are_refused(address):
    assert address_refusal(address) is not None


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "93.184.215.14", "2606:4700:4700::1111",
                                     "2a00:1450:4001:80b::200e", "64:ff9b::808:808"])
def test_public_addresses_pass(address):
    assert address_refusal(address) is None


# --- Refused when saved ----------------------------------------------------------------------------


@pytest.mark.parametrize("url", PRIVATE_URLS)
def test_the_service_refuses_a_non_public_url(public_only, url):
    with pytest.raises(ProviderError, match="Provider URL refused"):
        provider_create(name="Internal", api_url=url, api_key=SECRET)

    assert not Provider.objects.exists()


def test_the_service_refuses_other_schemes_and_takes_public_addresses(public_only):
    with pytest.raises(ProviderError, match="Not an http"):
        provider_create(name="Files", api_url="file:///etc/passwd", api_key=SECRET)

    by_address = provider_create(name="ByAddress", api_url="https://93.184.215.14/api/v2", api_key=SECRET)
    # A name that does not resolve yet may be saved: every connection is checked when it is made.
    by_name = provider_create(name="ByName", api_url="https://panel.example/api/v2", api_key=SECRET)

    assert by_address.pk and by_name.pk


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/api/v2", "http://169.254.169.254/", "http://[::1]/api/v2",
                                 "http://localhost:9/api/v2", "http://10.0.0.1/api/v2"])
def test_add_provider_refuses_a_non_public_url(public_only, url):
    with pytest.raises(CommandError, match="Provider URL refused"):
        call_command("add_provider", "Internal", url, SECRET)

    assert not Provider.objects.exists()


def _provider_form(provider: Provider, **changes) -> dict:
    data = {
        "name": provider.name, "api_url": provider.api_url, "api_key": "", "currency": provider.currency,
        "is_active": "on", "request_format": provider.request_format, "timeout_seconds": "5",
        "markup_percent": "", "import_new_active": "on", "low_balance_threshold": "0",
        "unknown_policy": provider.unknown_policy,
        "unknown_refund_after_hours": str(provider.unknown_refund_after_hours),
    }
    return data | changes


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/api/v2", "http://169.254.169.254/latest",
                                 "http://[::1]:9/api/v2", "http://localhost:9/api/v2", "http://10.0.0.1/api/v2"])
def test_the_admin_refuses_a_non_public_url_on_add_and_on_change(public_only, admin_client, url):
    # given
    existing = ProviderFactory(name="Existing", api_url="https://93.184.215.14/api/v2", api_key=SECRET)
    template = Provider(name="Fresh", api_url=url, currency="USD")

    # when
    added = admin_client.post(reverse("admin:providers_provider_add"), _provider_form(template, api_key="k1"))
    changed = admin_client.post(reverse("admin:providers_provider_change", args=[existing.pk]),
                                _provider_form(existing, api_url=url, api_key="new-key"))

    # then
    assert added.status_code == changed.status_code == 200
    assert "Provider URL refused" in added.content.decode()
    assert "Provider URL refused" in changed.content.decode()
    assert list(Provider.objects.values_list("name", "api_url", "api_key")) == [
        ("Existing", "https://93.184.215.14/api/v2", SECRET)]


# --- Checked again on every connection -------------------------------------------------------------
