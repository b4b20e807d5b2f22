"""What a customer does with their webhook URLs: add one (its secret shown once), remove, turn back on, test."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Customer
from providers.client_addresses import url_refusal
from webhooks import payloads, signing
from webhooks.delivery import enqueue
from webhooks.models import MAX_ENDPOINTS, WebhookEndpoint, WebhookEvent

URL_MAX_LENGTH = 500


class WebhookLimitReached(Exception):
    """The customer already has MAX_ENDPOINTS URLs."""


class WebhookUrlRefused(Exception):
    """Not a URL webhooks may go to; `reason` says why, in English."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _check_url(url: str) -> None:
    if len(url) > URL_MAX_LENGTH:
        raise WebhookUrlRefused(f"at most {URL_MAX_LENGTH} characters")
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        raise WebhookUrlRefused("not a valid http:// or https:// URL") from None
    # The same rule as providers' URLs, and checked again on every connection (webhooks.sender).
    refusal = url_refusal(url)
    if refusal:
        raise WebhookUrlRefused(refusal)


def endpoint_create(*, customer: Customer, url: str, now: datetime | None = None) -> WebhookEndpoint:
    """Register `url` for the customer with a new secret (on the returned endpoint: show it once).

    Raises WebhookUrlRefused or WebhookLimitReached; then nothing is stored.
    """
    url = (url or "").strip()
    _check_url(url)
    now = now or timezone.now()
    taken = set(WebhookEndpoint.objects.filter(customer=customer).values_list("slot", flat=True))
    for slot in range(1, MAX_ENDPOINTS + 1):
        if slot in taken:
            continue
        try:
            with transaction.atomic():
                return WebhookEndpoint.objects.create(customer=customer, slot=slot, url=url,
                                                      secret=signing.secret_generate(), created_at=now)
        except IntegrityError:
            continue  # another request took this slot at the same moment: try the next
    raise WebhookLimitReached


def endpoint_remove(*, customer: Customer, endpoint_id: int) -> bool:
    """Remove one of the customer's URLs with its events. False when it is not theirs (or gone)."""
    deleted, _ = WebhookEndpoint.objects.filter(customer=customer, pk=endpoint_id).delete()
    return deleted > 0


def endpoint_enable(*, customer: Customer, endpoint_id: int) -> bool:
    """Turn a disabled URL back on, its failure count cleared; its pending events resume."""
    return WebhookEndpoint.objects.filter(customer=customer, pk=endpoint_id, is_active=False).update(
        is_active=True, failure_run=0, retry_at=None, disabled_at=None) == 1


def endpoint_send_test(*, customer: Customer, endpoint_id: int, now: datetime | None = None) -> WebhookEvent | None:
    """Queue a test event to one of the customer's active URLs, delivered at once (one attempt)."""
    now = now or timezone.now()
    endpoint = WebhookEndpoint.objects.filter(customer=customer, pk=endpoint_id, is_active=True).first()
    if endpoint is None:
        return None
    event_id = signing.event_id_generate()
    kind = WebhookEvent.Kind.TEST
    with transaction.atomic():
        event = WebhookEvent.objects.create(
            event_id=event_id, endpoint=endpoint, kind=kind, created_at=now, next_attempt_at=now,
            body=payloads.sample_event_body(event_id=event_id, kind=kind, at=now),
        )
        enqueue([event.pk])
    return event
