"""Support tickets: a customer's questions, staff answers and internal notes, and the orders they are about.

Every change of a ticket's state and of its read markers is made by support.services.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import pgettext_lazy


class Ticket(models.Model):
    class Subject(models.TextChoices):
        ORDER = "order", pgettext_lazy("ticket subject", "Order")
        PAYMENT = "payment", pgettext_lazy("ticket subject", "Payment")
        REFILL = "refill", pgettext_lazy("ticket subject", "Refill")
        CANCEL = "cancel", pgettext_lazy("ticket subject", "Cancel")
        API = "api", pgettext_lazy("ticket subject", "API")
        OTHER = "other", pgettext_lazy("ticket subject", "Other")

    class State(models.TextChoices):
        OPEN = "open", pgettext_lazy("ticket state", "Open")
        ANSWERED = "answered", pgettext_lazy("ticket state", "Answered")
        CLOSED = "closed", pgettext_lazy("ticket state", "Closed")

    class ClosedBy(models.TextChoices):
        CUSTOMER = "customer", "Customer"
        STAFF = "staff", "Staff"
        AUTO = "auto", "Auto-close"

    customer = models.ForeignKey("accounts.Customer", on_delete=models.PROTECT, related_name="tickets")
    subject = models.CharField(max_length=16, choices=Subject.choices)
    # The first line of the opening message, for lists (the subject alone says little).
    summary = models.CharField(max_length=120, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    orders = models.ManyToManyField("orders.Order", related_name="tickets", blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # The latest staff answer: a ticket left answered this long closes by itself.
    answered_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.CharField(max_length=10, choices=ClosedBy.choices, blank=True)
    # Internal notes move none of these: the customer's list must not reorder on them.
    last_message_at = models.DateTimeField(default=timezone.now)
    last_customer_message_at = models.DateTimeField(default=timezone.now)
    last_staff_reply_at = models.DateTimeField(null=True, blank=True)
    # Read markers: messages after them are unread, counted in the list's own query.
    customer_read_at = models.DateTimeField(default=timezone.now)
    staff_read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_message_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "-last_message_at"], name="ticket_customer_recent"),
            models.Index(fields=["state", "answered_at"], name="ticket_state_answered"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(state="closed", closed_at__isnull=False) | (~Q(state="closed") & Q(closed_at__isnull=True)),
                name="ticket_closed_at_iff_closed",
            ),
            models.CheckConstraint(condition=~Q(state="answered") | Q(answered_at__isnull=False),
                                   name="ticket_answered_has_answered_at"),
        ]

    def __str__(self) -> str:
        return f"Ticket #{self.pk}"


class TicketMessage(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    is_staff = models.BooleanField(default=False)
    # Seen by staff only, never by the customer, and it mails no one.
    is_internal = models.BooleanField(default=False)
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["ticket", "created_at"], name="ticket_message_thread")]
        constraints = [
            models.CheckConstraint(condition=Q(is_internal=False) | Q(is_staff=True), name="ticket_note_is_staff"),
        ]

    def __str__(self) -> str:
        return f"Message #{self.pk} on ticket #{self.ticket_id}"


class CannedReply(models.Model):
    """A ready answer staff pick in the reply form and adapt before sending."""

    title = models.CharField(max_length=100, unique=True)
    body = models.TextField()

    class Meta:
        ordering = ["title"]
        verbose_name_plural = "canned replies"

    def __str__(self) -> str:
        return self.title
