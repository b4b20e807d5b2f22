"""The API page's webhook section: add (secret shown once), refuse bad URLs with a form error, remove, turn
back on, send a test event, and the delivery log with response codes; the API docs describe the scheme."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import CustomerFactory
from webhooks import tasks
from webhooks.models import WebhookEndpoint, WebhookEvent
from webhooks.services import endpoint_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(client, reseller):
    client.force_login(reseller.user)
    return client


def test_adding_a_url_shows_its_secret_once(signed_in, reseller):
    response = signed_in.post(reverse("webhook_add"), {"url": "https://hooks.example.com/panel"})
    assert response.status_code == 302

    endpoint = WebhookEndpoint.objects.get(customer=reseller)
    first = signed_in.get(reverse("api_access")).content.decode()
    again = signed_in.get(reverse("api_access")).content.decode()

    assert 'data-testid="new-webhook-secret"' in first and endpoint.secret in first
    assert endpoint.secret not in again and endpoint.secret_hint in again
    assert "https://hooks.example.com/panel" in again


@pytest.mark.parametrize(("url", "error"), [
    ("ftp://hooks.example.com/", "This URL cannot receive webhooks"),
    ("http://127.0.0.1:9000/hook", "not a public address (loopback)"),
])
def test_a_refused_url_is_a_form_error_and_nothing_is_stored(signed_in, reseller, settings, url, error):
    settings.PROVIDER_URLS_ALLOW_PRIVATE = False
    response = signed_in.post(reverse("webhook_add"), {"url": url})
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_the_fourth_url_is_refused_and_the_form_goes(signed_in, reseller):
    for n in range(3):
        endpoint_create(customer=reseller, url=f"https://hooks.example.com/{n}")

    page = signed_in.get(reverse("api_access")).content.decode()
    assert 'data-testid="webhook-add"' not in page and "the most there can be" in page

    response = signed_in.post(reverse("webhook_add"), {"url": "https://hooks.example.com/4"})
    assert response.status_code == 400 and "at most 3 webhook URLs" in response.content.decode()
    assert WebhookEndpoint.objects.count() == 3


def test_remove_enable_and_test_buttons(signed_in, reseller, monkeypatch, django_capture_on_commit_callbacks):
    queued: list[int] = []
    monkeypatch.setattr(tasks.webhook_deliver_task, "delay", queued.append)
    endpoint = endpoint_create(customer=reseller, url="https://hooks.example.com/a")
    other = endpoint_create(customer=reseller, url="https://hooks.example.com/b")
    WebhookEndpoint.objects.filter(pk=other.pk).update(is_active=False, failure_run=20, disabled_at=timezone.now())

    with django_capture_on_commit_callbacks(execute=True):
        signed_in.post(reverse("webhook_test", args=[endpoint.pk]))
    test_event = WebhookEvent.objects.get(kind="webhook.test")
    assert queued == [test_event.pk]

    signed_in.post(reverse("webhook_enable", args=[other.pk]))
    assert WebhookEndpoint.objects.filter(pk=other.pk, is_active=True, failure_run=0).exists()

    signed_in.post(reverse("webhook_remove", args=[endpoint.pk]))
    assert list(WebhookEndpoint.objects.values_list("pk", flat=True)) == [other.pk]


def test_another_customer_s_url_cannot_be_removed_or_tested(signed_in):
    theirs = endpoint_create(customer=CustomerFactory(), url="https://hooks.example.com/theirs")
    signed_in.post(reverse("webhook_remove", args=[theirs.pk]))
    signed_in.post(reverse("webhook_test", args=[theirs.pk]))
    assert WebhookEndpoint.objects.filter(pk=theirs.pk).exists() and not WebhookEvent.objects.exists()


def test_the_log_shows_response_codes_in_a_fixed_number_of_queries(signed_in, reseller,
                                                                    django_assert_max_num_queries):
    endpoint = endpoint_create(customer=reseller, url="https://hooks.example.com/a")
    now = timezone.now()

    def add_events(count: int, start: int) -> None:
        WebhookEvent.objects.bulk_create([
            WebhookEvent(event_id=f"evt_{start + n}", endpoint=endpoint, kind="webhook.test", body="{}",
                         created_at=now, state="failed" if n % 2 else "delivered", attempts=1,
                         response_code=500 if n % 2 else 200, last_error="HTTP 500" if n % 2 else "")
            for n in range(count)])

    add_events(2, 0)
    with django_assert_max_num_queries(20) as few:
        page = signed_in.get(reverse("api_access")).content.decode()
    add_events(20, 100)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = signed_in.get(reverse("api_access")).content.decode()

    assert 'data-testid="webhook-log"' in page
    assert '<td class="num" data-response>500</td>' in page and '<td class="num" data-response>200</td>' in page


def test_the_api_docs_describe_the_scheme(client):
    page = client.get(reverse("api_docs")).content.decode()
    assert 'id="webhooks"' in page
    for words in ("webhook-signature", "webhook-timestamp", "whsec_", "standardwebhooks", "hash_hmac",
                  "Refill available in 5 h"):
        assert words in page
