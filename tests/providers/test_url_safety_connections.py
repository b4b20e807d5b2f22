"""Provider URLs, continued: stored URLs checked again on every connection, and a changed URL clears the key."""

from __future__ import annotations

import runpy
import socket
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from providers.client import ProviderClient, Unavailable, close_sessions
from providers.services import ProviderError, provider_check, provider_create, provider_save, services_sync
from tests.factories import ProviderFactory
from tests.providers.test_url_safety import (  # noqa: F401 - helpers and fixtures
    BALANCE_ANSWER,
    PRIVATE_URLS,
    SECRET,
    Listener,
    _provider_form,
    listener,
    public_only,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("request_format", ["form", "json", "get"])
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_stored_loopback_url_gets_nothing_not_even_a_connection(public_only, listener, host, request_format):
    # given a URL written straight to the database: saved before the rule, or a name whose DNS changed since
    provider = ProviderFactory(api_url=f"http://{host}:{listener.port}/api/v2", api_key=SECRET,
                               request_format=request_format)

    # when
    with pytest.raises(Unavailable, match="address refused") as refused:
        ProviderClient(provider).balance()

    # then
    assert "loopback" in refused.value.reason and SECRET not in refused.value.reason
    assert listener.connections == 0 and listener.received == b""


def test_an_ipv6_loopback_url_gets_nothing(public_only):
    try:
        server = Listener("::1")
    except OSError:
        pytest.skip("no IPv6 loopback here")
    try:
        provider = ProviderFactory(api_url=f"http://[::1]:{server.port}/api/v2", api_key=SECRET)
        with pytest.raises(Unavailable, match="address refused"):
            ProviderClient(provider).balance()
    finally:
        server.stop()
    assert server.connections == 0 and server.received == b""


@pytest.mark.parametrize("url", ["http://10.0.0.5/api/v2", "http://169.254.169.254/latest/meta-data/",
                                 "http://[fd00::1]/api/v2", "http://100.64.0.1/api/v2"])
def test_a_stored_private_url_is_refused_before_connecting(public_only, url):
    provider = ProviderFactory(api_url=url, api_key=SECRET, timeout_seconds=Decimal("30"))

    with pytest.raises(Unavailable, match="address refused: .* is not a public address"):
        ProviderClient(provider).balance()


def test_a_name_rebound_to_loopback_after_saving_gets_nothing(public_only, listener, monkeypatch):
    # given a name that resolved to a public address when saved, and to loopback when the client connects
    answers = {"rebind.example": "93.184.215.14"}
    real_getaddrinfo = socket.getaddrinfo

    def rebinding_dns(host, port, *args, **kwargs):
        if host in answers:
            return real_getaddrinfo(answers[host], port, *args, **kwargs)
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding_dns)
    provider = provider_create(name="Rebind", api_url=f"http://rebind.example:{listener.port}/api/v2",
                               api_key=SECRET)
    answers["rebind.example"] = "127.0.0.1"

    # when
    with pytest.raises(Unavailable, match="rebind.example resolves to 127.0.0.1"):
        ProviderClient(provider).balance()

    # then
    assert listener.connections == 0 and listener.received == b""


def test_add_is_unavailable_not_unknown_when_the_address_is_refused(public_only, listener):
    # Nothing left the panel, so the order may be sent again later: not an "unknown outcome".
    provider = ProviderFactory(api_url=f"http://127.0.0.1:{listener.port}/api/v2", api_key=SECRET)

    with pytest.raises(Unavailable, match="address refused"):
        ProviderClient(provider).add(service_id="1", fields={"link": "https://x.example/p", "quantity": 100})

    assert listener.received == b""


def test_test_connection_and_sync_go_through_the_same_check(public_only, admin_client, listener):
    # given
    provider = ProviderFactory(name="Internal", api_url=f"http://localhost:{listener.port}/api/v2", api_key=SECRET)

    # when
    page = admin_client.post(reverse("admin:providers_provider_changelist"),
                             {"action": "test_connection", ACTION_CHECKBOX_NAME: [provider.pk], "index": "0"},
                             follow=True)
    with pytest.raises(ProviderError, match="address refused"):
        provider_check(provider=provider)
    with pytest.raises(Exception, match="address refused"):
        services_sync(provider=provider)

    # then
    body = page.content.decode()
    assert "Internal: the upstream is unavailable: address refused" in body and SECRET not in body
    assert listener.connections == 0 and listener.received == b""
    provider.refresh_from_db()
    assert provider.upstream_balance is None and "address refused" in provider.last_error


# --- With PROVIDER_URLS_ALLOW_PRIVATE on -----------------------------------------------------------


def test_with_the_setting_on_loopback_providers_work_and_the_admin_says_so(admin_client, listener, settings):
    # given (tests run with the setting on, as the demo does)
    assert settings.PROVIDER_URLS_ALLOW_PRIVATE
    provider = provider_create(name="Local", api_url=f"http://127.0.0.1:{listener.port}/api/v2", api_key=SECRET)

    # when
    balance = ProviderClient(provider).balance()
    listing_on = admin_client.get(reverse("admin:providers_provider_changelist")).content.decode()
    change_on = admin_client.get(reverse("admin:providers_provider_change", args=[provider.pk])).content.decode()
    settings.PROVIDER_URLS_ALLOW_PRIVATE = False
    listing_off = admin_client.get(reverse("admin:providers_provider_changelist")).content.decode()

    # then
    assert balance.amount == Decimal("100.00") and SECRET.encode() in listener.received
    assert "PROVIDER_URLS_ALLOW_PRIVATE is on" in listing_on and "PROVIDER_URLS_ALLOW_PRIVATE is on" in change_on
    assert "PROVIDER_URLS_ALLOW_PRIVATE is on" not in listing_off
    close_sessions()


def test_the_simulator_keeps_working_with_the_setting_on(simulator_provider):
    assert ProviderClient(simulator_provider).balance().amount == Decimal("1000")


@pytest.fixture
def load_settings(monkeypatch, tmp_path):
    def load(**env: str) -> dict:
        monkeypatch.setenv("PANEL_DATA_DIR", str(tmp_path))
        monkeypatch.setenv("SECRET_KEY", "settings-test")
        monkeypatch.delenv("STATIC_ROOT", raising=False)
        for name in ("DEBUG", "PROVIDER_URLS_ALLOW_PRIVATE"):
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return runpy.run_path(str(django_settings.BASE_DIR / "panel" / "settings.py"))

    return load


def test_the_setting_is_off_by_default_and_on_in_debug(load_settings):
    assert load_settings()["PROVIDER_URLS_ALLOW_PRIVATE"] is False
    assert load_settings(DEBUG="1")["PROVIDER_URLS_ALLOW_PRIVATE"] is True
    assert load_settings(PROVIDER_URLS_ALLOW_PRIVATE="1")["PROVIDER_URLS_ALLOW_PRIVATE"] is True
    assert load_settings(DEBUG="1", PROVIDER_URLS_ALLOW_PRIVATE="0")["PROVIDER_URLS_ALLOW_PRIVATE"] is False


# --- A changed URL clears the key ------------------------------------------------------------------


def test_the_admin_asks_for_the_key_again_when_the_url_changes(admin_client):
    # given
    provider = ProviderFactory(api_url="https://one.example/api/v2", api_key=SECRET)
    url = reverse("admin:providers_provider_change", args=[provider.pk])

    # when
    kept = admin_client.post(url, _provider_form(provider, api_url="https://two.example/api/v2"))
    provider.refresh_from_db()
    url_before = provider.api_url
    rekeyed = admin_client.post(url, _provider_form(provider, api_url="https://two.example/api/v2",
                                                    api_key="key-for-two"))

    # then
    assert kept.status_code == 200 and "The URL changed: enter the API key again." in kept.content.decode()
    assert url_before == "https://one.example/api/v2"
    assert rekeyed.status_code == 302
    provider.refresh_from_db()
    assert (provider.api_url, provider.api_key) == ("https://two.example/api/v2", "key-for-two")


def test_the_service_clears_the_key_when_the_url_changes_without_a_new_one(listener):
    # given
    provider = ProviderFactory(api_url="https://one.example/api/v2", api_key=SECRET)

    # when the URL changes and the key is left as it was
    provider.api_url = f"http://127.0.0.1:{listener.port}/api/v2"
    provider_save(provider=provider)
    provider.refresh_from_db()

    # then the old key is gone, and nothing is sent to the new address until a key is entered
    assert provider.api_key == ""
    with pytest.raises(Unavailable, match="no API key"):
        ProviderClient(provider).balance()
    assert listener.connections == 0

    # when a new key comes with the next change, it is kept
    provider.api_url, provider.api_key = "https://two.example/api/v2", "key-for-two"
    provider_save(provider=provider)
    provider.refresh_from_db()
    assert (provider.api_url, provider.api_key) == ("https://two.example/api/v2", "key-for-two")


def test_the_service_keeps_the_key_when_only_other_fields_change():
    provider = ProviderFactory(api_url="https://one.example/api/v2", api_key=SECRET)

    provider.markup_percent = Decimal("12")
    provider_save(provider=provider)

    provider.refresh_from_db()
    assert provider.api_key == SECRET


def test_the_service_refuses_a_changed_url_that_is_not_public(public_only):
    provider = ProviderFactory(api_url="https://93.184.215.14/api/v2", api_key=SECRET)

    provider.api_url = "http://169.254.169.254/latest/meta-data/"
    with pytest.raises(ProviderError, match="Provider URL refused"):
        provider_save(provider=provider)

    provider.refresh_from_db()
    assert (provider.api_url, provider.api_key) == ("https://93.184.215.14/api/v2", SECRET)
