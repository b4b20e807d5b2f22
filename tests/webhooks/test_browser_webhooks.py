"""Status webhooks in a real browser: a reseller adds a URL, copies the secret shown once into their receiver,
sends a test event and sees it in the delivery log with the receiver's answer; a loopback URL is refused."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from tests.factories import CustomerFactory  # noqa: E402
from tests.web.test_browser import browser, log_in, page, shot  # noqa: E402,F401
from webhooks.delivery import event_deliver  # noqa: E402
from webhooks.models import WebhookEndpoint, WebhookEvent  # noqa: E402

pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):
    """The test delivers the event itself, as a worker would; nothing goes to a broker."""
    from webhooks import tasks

    monkeypatch.setattr(tasks.webhook_deliver_task, "delay", lambda event_id: None)


def test_add_a_url_send_a_test_event_and_read_the_log(page, receiver, settings):  # noqa: F811
    customer = CustomerFactory(funds="5")
    log_in(page, customer.username)

    # a loopback URL is refused with the reason next to the field
    settings.PROVIDER_URLS_ALLOW_PRIVATE = False
    page.goto("/api-access/")
    page.fill("#id_url", "http://127.0.0.1:9/hook")
    page.click("button:has-text('Add webhook URL')")
    page.wait_for_selector("text=This URL cannot receive webhooks")
    assert not WebhookEndpoint.objects.exists()

    # the receiver's own URL (on this machine, so private addresses are allowed for the rest)
    settings.PROVIDER_URLS_ALLOW_PRIVATE = True
    page.fill("#id_url", receiver.url)
    page.click("button:has-text('Add webhook URL')")
    secret = page.inner_text("#new-webhook-secret")
    assert secret.startswith("whsec_")
    receiver.secret = secret  # pasted into the receiver's settings
    shot(page, "api_webhooks_new")

    # send a test event; a worker delivers it
    page.click("[data-action=webhook-test]")
    page.wait_for_selector("text=Test event queued")
    assert secret not in page.content()  # shown once only
    event = WebhookEvent.objects.get()
    assert event_deliver(event_id=event.pk) == "delivered"
    assert receiver.all_verified and receiver.bodies()[0]["event"] == "webhook.test"

    page.goto("/api-access/")
    log = page.locator(f"[data-testid=webhook-log] tr[data-event='{event.event_id}']")
    assert log.locator("[data-response]").inner_text() == "200"
    assert "Delivered" in log.inner_text()
    shot(page, "api_webhooks_log")

    # remove it
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("[data-action=webhook-remove]")
    page.wait_for_selector("text=Webhook URL removed")
    assert not WebhookEndpoint.objects.exists()
