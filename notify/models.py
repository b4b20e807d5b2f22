"""Mail: one row per event that mails someone, each customer's choices, and what staff were told."""

from __future__ import annotations

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone


class SentMail(models.Model):
    """One mail for one event. The unique `event_key` is what makes an event mail at most once."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"

    event_key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=40)
    to_address = models.CharField(max_length=500, blank=True)  # staff: comma-separated
    # Null for staff mails; kept when a customer goes (the row is history).
    customer = models.ForeignKey("accounts.Customer", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    language = models.CharField(max_length=8, default="en")
    context = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    state = models.CharField(max_length=8, choices=State.choices, default=State.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    # A worker that claimed the row holds it until then; past it (the worker died) the sweep may retry.
    locked_until = models.DateTimeField(null=True, blank=True)
    # After a failed try: when the retry is due (the sweep leaves the row alone before).
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["created_at"], condition=Q(state="queued"), name="sentmail_queued_created"),
            models.Index(fields=["customer", "-id"], name="sentmail_customer_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {self.to_address or '-'} ({self.state})"


class MailPreference(models.Model):
    """A customer's mail choices. No row: every kind at its default, in English."""

    customer = models.OneToOneField("accounts.Customer", on_delete=models.CASCADE, related_name="mail_preference")
    language = models.CharField(max_length=8, default="en")
    # kind -> wanted; a kind missing here is at its default (on, or off for opt-in kinds).
    flags = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Mail preferences of {self.customer_id}"


class ProviderBalanceWatch(models.Model):
    """When a provider's balance went under its threshold; empty while it is above. One mail per episode."""

    provider = models.OneToOneField("providers.Provider", on_delete=models.CASCADE, related_name="+")
    low_since = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Balance watch of {self.provider_id}"


class AttentionReported(models.Model):
    """An order (and the note it carried) that a staff digest listed. Cleared once the order no longer
    needs attention, so that needing it again is news for the next digest."""

    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE, related_name="+")
    attention = models.CharField(max_length=300, blank=True)
    reported_at = models.DateTimeField(default=timezone.now)
    cleared_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["order", "attention"], condition=Q(cleared_at__isnull=True),
                                    name="attention_reported_once"),
        ]

    def __str__(self) -> str:
        return f"Order {self.order_id} reported"
