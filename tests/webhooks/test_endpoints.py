"""Webhook URLs: public http(s) only, checked when saved and again on every connection; at most 3 each."""

from __future__ import annotations

import socket

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from orders.models import Status
from tests.factories import CustomerFactory
from tests.webhooks.support import history, sent_order
from webhooks.delivery import event_deliver
from webhooks.events import events_collect
from webhooks.models import WebhookEndpoint, WebhookEvent
from webhooks.services import (
    WebhookLimitReached,
    WebhookUrlRefused,
    endpoint_create,
    endpoint_enable,
    endpoint_remove,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def public_only(settings):
    settings.PROVIDER_URLS_ALLOW_PRIVATE = False


@pytest.fixture
def dns(monkeypatch):
    """Names this test decides the answer for; everything else resolves as usual."""
    answers: dict[str, str] = {}
    real_getaddrinfo = socket.getaddrinfo

    def resolve(host, port, *args, **kwargs):
        if host in answers:
            return real_getaddrinfo(answers[host], port, *args, **kwargs)
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    return answers


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8000/hook", "http://localhost/hook", "http://10.0.0.5/hook", "http://169.254.169.254/latest",
    "http://[::1]/hook", "http://192.168.1.10/hook", "http://[::ffff:127.0.0.1]/hook",
])
def test_a_private_or_loopback_url_is_refused_when_saved(public_only, reseller, url):
    with pytest.raises(WebhookUrlRefused, match="not a public address|loopback"):
        endpoint_create(customer=reseller, url=url)
    assert not WebhookEndpoint.objects.exists()


def test_a_name_that_resolves_to_loopback_is_refused_when_saved(public_only, reseller, dns):
    dns["hooks.reseller.example"] = "127.0.0.1"
    with pytest.raises(WebhookUrlRefused, match="hooks.reseller.example resolves to 127.0.0.1"):
        endpoint_create(customer=reseller, url="https://hooks.reseller.example/panel")
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("url", ["ftp://hooks.example.com/x", "hooks.example.com/x", "javascript:alert(1)", "",
                                 "https://" + "a" * 500 + ".example.com/"])
def test_only_http_urls_are_taken_even_with_private_addresses_allowed(reseller, url):
    with pytest.raises(WebhookUrlRefused):
        endpoint_create(customer=reseller, url=url)


def test_a_name_rebound_to_loopback_after_saving_gets_nothing(public_only, reseller, receiver, dns):
    # given: a name that was public when the URL was saved, and points at loopback when we deliver
    dns["hooks.reseller.example"] = "93.184.215.14"
    endpoint = endpoint_create(customer=reseller, url=f"http://hooks.reseller.example:{receiver.port}/panel")
    receiver.secret = endpoint.secret
    dns["hooks.reseller.example"] = "127.0.0.1"
    history(sent_order(reseller), Status.COMPLETED, remains=0)
    events_collect()
    event = WebhookEvent.objects.get()

    # when
    outcome = event_deliver(event_id=event.pk, now=timezone.now())

    # then: refused before connecting; the receiver on loopback saw nothing
    event.refresh_from_db()
    assert outcome == "failed" and event.response_code is None
    assert event.last_error.startswith("address refused: hooks.reseller.example resolves to 127.0.0.1")
    assert receiver.requests == []


def test_a_stored_loopback_url_is_refused_at_delivery(public_only, reseller, receiver):
    # a URL saved while private addresses were allowed, then the switch turned off
    endpoint = WebhookEndpoint.objects.create(customer=reseller, slot=1, url=receiver.url, secret="whsec_AAAA",
                                              created_at=timezone.now())
    history(sent_order(reseller), Status.COMPLETED, remains=0)
    events_collect()

    assert event_deliver(event_id=WebhookEvent.objects.get(endpoint=endpoint).pk) == "failed"
    assert "loopback" in WebhookEvent.objects.get().last_error
    assert receiver.requests == []


def test_at_most_three_urls_per_customer(reseller):
    for n in range(3):
        endpoint_create(customer=reseller, url=f"https://hooks.example.com/{n}")
    with pytest.raises(WebhookLimitReached):
        endpoint_create(customer=reseller, url="https://hooks.example.com/4")
    assert WebhookEndpoint.objects.filter(customer=reseller).count() == 3
    # another customer has their own three
    endpoint_create(customer=CustomerFactory(), url="https://hooks.example.com/other")

    # a removed URL frees its place
    first = WebhookEndpoint.objects.filter(customer=reseller).order_by("slot").first()
    assert endpoint_remove(customer=reseller, endpoint_id=first.pk)
    assert endpoint_create(customer=reseller, url="https://hooks.example.com/again").slot == first.slot


def test_the_database_refuses_a_fourth_url_too(reseller):
    for slot in (1, 2, 3):
        WebhookEndpoint.objects.create(customer=reseller, slot=slot, url="https://h.example.com/", secret="s",
                                       created_at=timezone.now())
    for slot in (2, 4, 0):
        with pytest.raises(IntegrityError), transaction.atomic():
            WebhookEndpoint.objects.create(customer=reseller, slot=slot, url="https://h.example.com/", secret="s",
                                           created_at=timezone.now())


def test_each_url_has_its_own_secret_in_the_standard_format(reseller):
    import base64

    one = endpoint_create(customer=reseller, url="https://hooks.example.com/1")
    two = endpoint_create(customer=reseller, url="https://hooks.example.com/2")
    assert one.secret != two.secret
    assert one.secret.startswith("whsec_") and len(base64.b64decode(one.secret.removeprefix("whsec_"))) == 32


def test_a_customer_cannot_touch_another_customer_s_url(reseller):
    theirs = endpoint_create(customer=CustomerFactory(), url="https://hooks.example.com/theirs")
    WebhookEndpoint.objects.filter(pk=theirs.pk).update(is_active=False)
    assert not endpoint_remove(customer=reseller, endpoint_id=theirs.pk)
    assert not endpoint_enable(customer=reseller, endpoint_id=theirs.pk)
    assert WebhookEndpoint.objects.filter(pk=theirs.pk, is_active=False).exists()
