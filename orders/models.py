"""Orders, refills and cancel requests, with the stage each has reached with its provider."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q

from accounts.money import MoneyField


class Status(models.TextChoices):
    """Customer-visible status, in the protocol's words."""

    PENDING = "Pending", "Pending"
    IN_PROGRESS = "In progress", "In progress"
    PROCESSING = "Processing", "Processing"
    COMPLETED = "Completed", "Completed"
    PARTIAL = "Partial", "Partial"
    CANCELED = "Canceled", "Canceled"
    # Subscriptions.
    ACTIVE = "Active", "Active"
    PAUSED = "Paused", "Paused"
    EXPIRED = "Expired", "Expired"


FINAL_STATUSES = (Status.COMPLETED, Status.PARTIAL, Status.CANCELED, Status.EXPIRED)


class Stage(models.TextChoices):
    """How far the order is with its provider (architecture: "An order's life")."""

    PAID = "paid", "Paid, waiting for a worker"
    SENDING = "sending", "Sending upstream"
    SENT = "sent", "Sent; status polled"
    FINAL = "final", "Final"
    FAILED = "failed", "Failed (definite upstream error)"
    UNKNOWN = "unknown", "Unknown outcome (admin must resolve)"


class Source(models.TextChoices):
    WEB = "web", "Web"
    API = "api", "API"
    MASS = "mass", "Mass order"
    ADMIN = "admin", "Admin"


class Order(models.Model):
    # Indexed by order_customer_recent and order_customer_status, which lead with it: an index of its own
    # would be one more for every insert and update of an order to write.
    customer = models.ForeignKey("accounts.Customer", on_delete=models.PROTECT, related_name="orders", db_index=False)
    service = models.ForeignKey("providers.Service", on_delete=models.PROTECT, related_name="orders")
    # Copied from the service at creation so workers can batch by provider on one index; changed only by a
    # failover to one of the service's alternates (orders.lifecycle.move_to_alternates).
    provider = models.ForeignKey("providers.Provider", on_delete=models.PROTECT, related_name="orders")
    # The provider's service id once the order moved to an alternate; empty: the service's own.
    upstream_service = models.CharField(max_length=64, blank=True)
    # Since when the order has been with `provider` (set by a failover; else since it was created).
    provider_since = models.DateTimeField(null=True, blank=True)
    # Set once an `add` of the order went unanswered: it may exist at its provider, so it never fails over.
    may_exist_upstream = models.BooleanField(default=False)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.API)
    # A string: some panels answer with non-numeric ids.
    # Indexed in Meta: looked up by equality only (no second, LIKE-pattern index).
    upstream_id = models.CharField(max_length=64, blank=True)

    # What was ordered: the fields of api-v2.md, by type.
    link = models.CharField(max_length=2000, blank=True)
    quantity = models.PositiveIntegerField(default=0)
    comments = models.TextField(blank=True)
    usernames = models.TextField(blank=True)
    hashtags = models.TextField(blank=True)
    groups = models.TextField(blank=True)
    hashtag = models.CharField(max_length=300, blank=True)
    username = models.CharField(max_length=300, blank=True)
    media = models.CharField(max_length=2000, blank=True)
    answer_number = models.CharField(max_length=30, blank=True)
    runs = models.PositiveIntegerField(null=True, blank=True)
    interval = models.PositiveIntegerField(null=True, blank=True)
    sub_min = models.PositiveIntegerField(null=True, blank=True)
    sub_max = models.PositiveIntegerField(null=True, blank=True)
    sub_posts = models.PositiveIntegerField(null=True, blank=True)
    sub_old_posts = models.PositiveIntegerField(null=True, blank=True)
    sub_delay = models.PositiveIntegerField(null=True, blank=True)
    sub_expiry = models.DateField(null=True, blank=True)

    # Money, as paid: `rate` per 1000 after the customer's discount; `charge` what was taken in all;
    # `refunded` what went back. Both move only with a ledger row (accounts.services).
    rate = MoneyField()
    charge = MoneyField(default=0)
    refunded = MoneyField(default=0)
    upstream_charge = MoneyField(null=True, blank=True)

    # As the upstream reports it.
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    upstream_status = models.CharField(max_length=60, blank=True, help_text="The upstream's own word.")
    start_count = models.BigIntegerField(null=True, blank=True)
    remains = models.BigIntegerField(null=True, blank=True)
    runs_done = models.PositiveIntegerField(null=True, blank=True)
    posts_done = models.PositiveIntegerField(null=True, blank=True)
    posts_charged = models.PositiveIntegerField(default=0)
    # Drip-feed: the upstream's ids of the runs' own orders, comma-separated, where it lists them.
    child_orders = models.TextField(blank=True)

    stage = models.CharField(max_length=8, choices=Stage.choices, default=Stage.PAID)
    send_attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    # Something the admin must look at (an id the upstream keeps calling incorrect, an unknown status word).
    attention = models.CharField(max_length=300, blank=True)
    incorrect_id_count = models.PositiveIntegerField(default=0)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    sending_started_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Set once the refunds a final order is owed are done (or none was owed); a final order without it
    # is picked up again by the pipeline, so a worker dying between the status and the refund loses nothing.
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(charge__gte=0), name="order_charge_not_negative"),
            models.CheckConstraint(
                condition=Q(refunded__gte=0, refunded__lte=F("charge")), name="order_refund_within_charge"
            ),
        ]
        indexes = [
            # Workers: active orders of one provider at one stage, oldest-checked first.
            models.Index(fields=["provider", "stage", "last_checked_at"], name="order_provider_stage_checked"),
            models.Index(fields=["stage", "next_attempt_at"], name="order_stage_next_attempt"),
            models.Index(fields=["customer", "-id"], name="order_customer_recent"),
            models.Index(fields=["customer", "status", "-id"], name="order_customer_status"),
            models.Index(fields=["upstream_id"], name="order_upstream_id"),
            models.Index(fields=["stage"], condition=Q(settled_at__isnull=True, stage__in=["final", "failed"]),
                          name="order_ended_unsettled"),
        ]

    def __str__(self) -> str:
        return f"Order #{self.pk}"

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


class OrderAttempt(models.Model):
    """A provider an order left for one of its service's alternates, and why (orders.failover)."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="attempts")
    provider = models.ForeignKey("providers.Provider", on_delete=models.PROTECT, related_name="+")
    upstream_service = models.CharField(max_length=64)
    reason = models.CharField(max_length=500)
    # The alternates passed over on the way to the next one, each with why ("B: margin 3% under 5%").
    skipped = models.TextField(blank=True)
    moved_to = models.ForeignKey("providers.Provider", on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.provider_id} → {self.moved_to_id}"


class AddRequest(models.Model):
    """A customer's `request_id` on `add` and the order it made: the same id again within
    ADD_REQUEST_ID_DAYS gets the same order (orders.services.order_create), whatever the race."""

    customer = models.ForeignKey("accounts.Customer", on_delete=models.CASCADE, related_name="+")
    request_id = models.CharField(max_length=64)
    # A digest of the request's parameters: the same id with other parameters is refused.
    fingerprint = models.CharField(max_length=64)
    order = models.OneToOneField(Order, on_delete=models.CASCADE, related_name="add_request")
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "request_id"], name="add_request_unique_per_customer"),
        ]
        indexes = [models.Index(fields=["created_at"], name="add_request_created")]

    def __str__(self) -> str:
        return f"{self.customer_id}:{self.request_id}"


class OrderStatusChange(models.Model):
    """The order's history: each status/progress change with its time."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="history")
    status = models.CharField(max_length=16, choices=Status.choices)
    upstream_status = models.CharField(max_length=60, blank=True)
    start_count = models.BigIntegerField(null=True, blank=True)
    remains = models.BigIntegerField(null=True, blank=True)
    note = models.CharField(max_length=300, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.status}"


class RequestStage(models.TextChoices):
    REQUESTED = "requested", "Requested, waiting for a worker"
    SENT = "sent", "Sent; status polled"
    FINAL = "final", "Final"
    FAILED = "failed", "Refused upstream"


class RequestStatus(models.TextChoices):
    """A refill's or cancel's status, in the protocol's words."""

    PENDING = "Pending", "Pending"
    IN_PROGRESS = "In progress", "In progress"
    COMPLETED = "Completed", "Completed"
    REJECTED = "Rejected", "Rejected"


class UpstreamRequest(models.Model):
    """Something asked of the provider about one order (a refill, a cancel): sent in batches, then polled."""

    Status = RequestStatus

    upstream_id = models.CharField(max_length=64, blank=True, help_text="The provider's id for this request.")
    status = models.CharField(max_length=16, choices=RequestStatus.choices, default=RequestStatus.PENDING)
    stage = models.CharField(max_length=10, choices=RequestStage.choices, default=RequestStage.REQUESTED)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-id"]


class Refill(UpstreamRequest):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refills")

    class Meta(UpstreamRequest.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["order"], condition=Q(stage__in=["requested", "sent"]), name="refill_one_open_per_order"
            ),
        ]
        indexes = [models.Index(fields=["stage", "last_checked_at"], name="refill_stage_checked")]

    def __str__(self) -> str:
        return f"Refill #{self.pk}"


class CancelRequest(UpstreamRequest):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="cancel_requests")

    class Meta(UpstreamRequest.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["order"], condition=Q(stage__in=["requested", "sent"]), name="cancel_one_open_per_order"
            ),
        ]
        indexes = [models.Index(fields=["stage", "last_checked_at"], name="cancel_stage_checked")]

    def __str__(self) -> str:
        return f"Cancel #{self.pk}"
