"""Reads for the API page: a customer's webhook URLs and their recent deliveries."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import Customer
from webhooks.models import WebhookEndpoint, WebhookEvent

RECENT_DELIVERIES = 25


def endpoints_for_customer(*, customer: Customer) -> list[WebhookEndpoint]:
    return list(WebhookEndpoint.objects.filter(customer=customer).order_by("slot"))


def deliveries_for_customer(*, customer: Customer, limit: int = RECENT_DELIVERIES) -> QuerySet[WebhookEvent]:
    """The latest events of all the customer's URLs, newest first, in one query."""
    return (WebhookEvent.objects.filter(endpoint__customer=customer).select_related("endpoint")
            .defer("body").order_by("-id")[:limit])
