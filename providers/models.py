"""Upstream panels, the services imported from them, and what sets their sale prices."""

from __future__ import annotations

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from accounts.money import MoneyField
from providers.ordertypes import TYPE_CHOICES


class Provider(models.Model):
    class RequestFormat(models.TextChoices):
        FORM = "form", "POST form-encoded"
        JSON = "json", "POST JSON body"
        GET = "get", "GET query string"

    name = models.CharField(max_length=100, unique=True)
    api_url = models.URLField(max_length=500)
    # Never shown in admin lists, logs or error messages.
    api_key = models.CharField(max_length=255)
    currency = models.CharField(max_length=3, default="USD")
    is_active = models.BooleanField(default=True)
    request_format = models.CharField(max_length=4, choices=RequestFormat.choices, default=RequestFormat.FORM)
    timeout_seconds = models.DecimalField(max_digits=6, decimal_places=2, default=30)
    markup_percent = models.DecimalField(
        max_digits=7, decimal_places=2, null=True, blank=True,
        help_text="Default markup for this provider's services; empty uses the panel default.",
    )
    import_new_active = models.BooleanField(
        default=True, help_text="Services that appear upstream are imported active (else inactive, for review)."
    )
    hold_on_low_upstream_balance = models.BooleanField(
        default=False,
        help_text="When the upstream refuses an order for its own low balance, hold it for a retry "
        "instead of refunding it.",
    )
    low_balance_threshold = MoneyField(default=0)
    idempotent_add = models.BooleanField(
        default=False,
        help_text="Its `add` honours our `request_id` (another copy of this panel, or a panel that documents it): "
        "an `add` whose answer was lost is sent again with the same request_id until the answer is definite.",
    )
    # Capacity: what the provider takes at once, shared by every worker (providers.client_capacity).
    send_concurrency = models.PositiveSmallIntegerField(
        default=8, validators=[MinValueValidator(1)],
        help_text="At most this many `add` calls in flight at once, across all workers.",
    )
    send_per_second = models.DecimalField(
        max_digits=7, decimal_places=2, default=0, validators=[MinValueValidator(0)],
        help_text="At most this many `add` calls per second, across all workers; 0: no limit but the one above.",
    )
    poll_concurrency = models.PositiveSmallIntegerField(
        default=4, validators=[MinValueValidator(1)],
        help_text="At most this many status requests (100 orders each) in flight at once.",
    )
    # Orders whose `add` outcome is unknown (orders.pipeline.unknown_policy).
    unknown_policy = models.CharField(
        max_length=8, choices=[("hold", "Hold for the admin"), ("refund", "Refund the customer after a while")],
        default="hold",
        help_text="Orders sent to this provider with no answer to `add`: hold them until an admin resolves them, "
        "or refund the customer once they are older than the hours below. A refunded order stays for the admin "
        "to check (it may exist upstream after all: the panel then carries its cost).",
    )
    unknown_refund_after_hours = models.PositiveIntegerField(
        default=24, validators=[MinValueValidator(1)],
        help_text="With the refund policy: hours after the order was sent before its customer is refunded.",
    )
    # Health, written by the pipeline.
    upstream_balance = MoneyField(null=True, blank=True)
    upstream_balance_checked_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    circuit_open_until = models.DateTimeField(null=True, blank=True)
    retry_after_until = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ProviderLease(models.Model):
    """One slot of a per-provider limit (calls in flight, a pace), shared by every worker through the
    database when no Redis is configured (providers.client_capacity)."""

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=20)
    slot = models.PositiveSmallIntegerField()
    holder = models.CharField(max_length=32, blank=True)
    # Seconds since the epoch: when the lease ends (free once past), or, for a pace, the next free instant.
    free_at = models.FloatField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["provider", "name", "slot"], name="provider_lease_slot")]

    def __str__(self) -> str:
        return f"{self.provider_id}:{self.name}:{self.slot}"


class ExchangeRate(models.Model):
    """How many units of the panel currency one unit of `currency` buys (admin-edited)."""

    currency = models.CharField(max_length=3, unique=True)
    rate = models.DecimalField(max_digits=20, decimal_places=8)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(rate__gt=0), name="exchange_rate_positive")]

    def __str__(self) -> str:
        return f"1 {self.currency} = {self.rate}"


class Category(models.Model):
    name = models.CharField(max_length=200, unique=True)
    sort_order = models.IntegerField(default=0)
    markup_percent = models.DecimalField(
        max_digits=7, decimal_places=2, null=True, blank=True,
        help_text="Markup for services in this category; overrides the provider's.",
    )

    class Meta:
        ordering = ["sort_order", "name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class Service(models.Model):
    """What customers buy: one upstream service, at our sale price."""

    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="services")
    upstream_service_id = models.CharField(max_length=64)
    name = models.CharField(max_length=500)
    type = models.CharField(max_length=40, choices=TYPE_CHOICES, default="Default")
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="services")
    upstream_rate = MoneyField(help_text="Upstream price per 1000, in the provider's currency.")
    rate = MoneyField(help_text="Sale price per 1000, in the panel currency.")
    fixed_rate = MoneyField(
        null=True, blank=True, help_text="A fixed sale price per 1000; sync never overwrites it."
    )
    markup_percent = models.DecimalField(
        max_digits=7, decimal_places=2, null=True, blank=True,
        help_text="Markup for this service alone; overrides category and provider.",
    )
    min = models.PositiveIntegerField(default=1)
    max = models.PositiveIntegerField(default=1)
    refill = models.BooleanField(default=False)
    # The operator's refill rules (orders.selectors.refill_refusal); a sync never touches them.
    refill_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Refills are accepted this many days after the order is completed; "
        "empty: no limit.",
    )
    refill_max = models.PositiveIntegerField(
        null=True, blank=True, help_text="At most this many refills per order (refused ones do not count); "
        "empty: no limit.",
    )
    refill_cooldown_hours = models.PositiveIntegerField(
        default=0, blank=True, help_text="Hours after one refill request before the same order may ask again; "
        "0 or empty: none.",
    )
    cancel = models.BooleanField(default=False)
    dripfeed = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    # False once the service disappeared from the upstream catalogue; it is deactivated, never deleted.
    available_upstream = models.BooleanField(default=True)
    # Set when a sync deactivated the service because it disappeared upstream: only those come back
    # active when the upstream lists them again (a service the admin switched off stays off).
    deactivated_by_sync = models.BooleanField(default=False)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["category__sort_order", "category__name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "upstream_service_id"], name="service_unique_upstream"),
            models.CheckConstraint(condition=Q(rate__gte=0), name="service_rate_not_negative"),
            models.CheckConstraint(condition=Q(max__gte=models.F("min")), name="service_max_gte_min"),
        ]
        indexes = [models.Index(fields=["is_active", "category"], name="service_active_category")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.name}"


class ServiceAlternate(models.Model):
    """Another provider's service a sellable service may be sent to when its own provider cannot take an
    order (orders.failover), tried by `priority`, lowest first. Its terms (type, limits, cost) are read
    from that provider's catalogue: a Service row for (provider, upstream_service_id), possibly inactive."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="alternates")
    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="+")
    upstream_service_id = models.CharField(max_length=64)
    priority = models.PositiveIntegerField(default=10, help_text="Alternates are tried lowest first.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["service", "priority", "id"]
        constraints = [
            models.UniqueConstraint(fields=["service", "provider"], name="service_alternate_one_per_provider"),
        ]

    def __str__(self) -> str:
        return f"{self.service_id} → {self.provider_id}:{self.upstream_service_id}"


class ServiceChange(models.Model):
    """What a sync changed on a service (old → new, when), for the admin to review."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="changes")
    field = models.CharField(max_length=40)
    old_value = models.CharField(max_length=500, blank=True)
    new_value = models.CharField(max_length=500, blank=True)
    changed_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-changed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.service_id}.{self.field}: {self.old_value} → {self.new_value}"
