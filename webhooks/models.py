"""Resellers' status webhooks: the URLs a customer registered, and each event with its delivery record."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

# A customer registers at most this many URLs: each takes one numbered slot, so the database refuses a
# fourth even when two requests add one at the same moment.
MAX_ENDPOINTS = 3


class WebhookEndpoint(models.Model):
    customer = models.ForeignKey("accounts.Customer", on_delete=models.CASCADE, related_name="webhook_endpoints")
    slot = models.PositiveSmallIntegerField()
    url = models.URLField(max_length=500)
    # Kept as given to the customer (`whsec_<base64>`): signing needs the key itself, so no digest will do.
    # Never shown again after creation; pages show `secret_hint`.
    secret = models.CharField(max_length=100)
    is_active = models.BooleanField(default=True)
    # Failed attempts in a row, whatever the event; a success resets it. At WEBHOOK_DISABLE_AFTER_FAILURES
    # the endpoint is disabled and its owner mailed.
    failure_run = models.PositiveIntegerField(default=0)
    # While failing, the endpoint as a whole waits until then (one probe per wait, not every event at once).
    retry_at = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["customer", "slot"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "slot"], name="webhook_endpoint_slot_unique"),
            models.CheckConstraint(condition=Q(slot__gte=1, slot__lte=MAX_ENDPOINTS),
                                   name="webhook_endpoint_at_most_3"),
        ]
        indexes = [models.Index(fields=["is_active", "customer"], name="webhook_endpoint_active")]

    def __str__(self) -> str:
        return self.url

    @property
    def secret_hint(self) -> str:
        return f"{self.secret[:10]}…"


class WebhookEvent(models.Model):
    """One event for one endpoint, and how its delivery went. Retried with backoff until delivered or expired."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    class Kind(models.TextChoices):
        ORDER_UPDATED = "order.updated", "Order updated"
        TEST = "webhook.test", "Test event"

    # Sent as `webhook-id` and in the body: the receiver's key for de-duplication, the same on every retry.
    event_id = models.CharField(max_length=40, unique=True)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    # The orders.OrderStatusChange row the event reports (none for a test event): one event per endpoint each.
    history_id = models.BigIntegerField(null=True, blank=True)
    # The exact JSON text that is signed and sent, the same bytes on every attempt.
    body = models.TextField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "history_id"], condition=Q(history_id__isnull=False),
                                    name="webhook_event_once_per_change"),
        ]
        indexes = [
            # The dispatcher: pending events that are due.
            models.Index(fields=["next_attempt_at"], condition=Q(state="pending"), name="webhook_event_due"),
            # An order's earlier pending event holds back its later ones (per endpoint).
            models.Index(fields=["endpoint", "order", "history_id"], condition=Q(state="pending"),
                         name="webhook_event_pending_order"),
            models.Index(fields=["endpoint", "-id"], name="webhook_event_endpoint_recent"),
        ]

    def __str__(self) -> str:
        return self.event_id


class WebhookCursor(models.Model):
    """How far the order history has been read for events (one row)."""

    last_history_id = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"history read up to {self.last_history_id}"
