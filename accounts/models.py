"""Customers, their API keys, and the append-only money ledger."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.money import MoneyField


class Customer(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="customer")
    # Moved only by accounts.services, under a row lock, together with a LedgerEntry.
    balance = MoneyField(default=0)
    # The raw API key is shown once; only its digest is kept, found through a short visible prefix.
    api_key_prefix = models.CharField(max_length=12, blank=True, db_index=True)
    api_key_digest = models.CharField(max_length=64, blank=True)
    api_key_created_at = models.DateTimeField(null=True, blank=True)
    discount_percent = models.DecimalField(max_digits=5, decimal_places=2, default=0)
    is_active = models.BooleanField(default=True)
    timezone = models.CharField(max_length=64, default="UTC")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(balance__gte=0), name="customer_balance_not_negative"),
            models.CheckConstraint(
                condition=Q(discount_percent__gte=0, discount_percent__lte=100), name="customer_discount_0_100"
            ),
            models.UniqueConstraint(
                fields=["api_key_digest"], condition=~Q(api_key_digest=""), name="customer_api_key_digest_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.user.get_username()

    @property
    def username(self) -> str:
        return self.user.get_username()


class LedgerEntry(models.Model):
    """One change of one balance. Never updated or deleted: corrections are new rows."""

    class Kind(models.TextChoices):
        DEPOSIT = "deposit", "Deposit"
        CHARGE = "charge", "Charge"
        REFUND = "refund", "Refund"
        ADJUSTMENT = "adjustment", "Adjustment"

    class Cause(models.TextChoices):
        # A charge's cause: the order itself, or (subscriptions without `posts`) one post of it.
        ORDER = "order", "Order"
        # Refund causes: at most one refund per (order, cause).
        PARTIAL = "partial", "Partial"
        CANCELED = "canceled", "Canceled"
        FAILED_SEND = "failed_send", "Failed send"
        SUBSCRIPTION_END = "subscription_end", "Subscription ended"
        # An order whose `add` outcome stayed unknown, refunded by its provider's policy (the panel takes the risk).
        UNKNOWN_OUTCOME = "unknown_outcome", "Not confirmed by the provider"
        # Deposits and adjustments.
        MANUAL = "manual", "Manual"
        PAYMENT = "payment", "Payment request"
        GATEWAY = "gateway", "Payment"
        BONUS = "bonus", "Deposit bonus"

    # Indexed by ledger_customer_recent, which leads with it.
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="ledger", db_index=False)
    amount = MoneyField(help_text="Signed: positive credits the balance, negative debits it.")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    cause = models.CharField(max_length=40, default=Cause.MANUAL)
    order = models.ForeignKey(
        "orders.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_entries"
    )
    deposit = models.ForeignKey(
        "accounts.Deposit", null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_entries"
    )
    balance_after = MoneyField()
    note = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name_plural = "ledger entries"
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(balance_after__gte=0), name="ledger_balance_after_not_negative"),
            models.CheckConstraint(condition=~Q(amount=0), name="ledger_amount_not_zero"),
            models.CheckConstraint(
                condition=(Q(kind="charge", amount__lt=0) | Q(kind__in=["deposit", "refund"], amount__gt=0)
                           | Q(kind="adjustment")),
                name="ledger_sign_matches_kind",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["deposit", "adjustment"]) | Q(order__isnull=False),
                name="ledger_charge_refund_have_order",
            ),
            # The database, not only the code path, guarantees one charge per order (per post for
            # subscriptions) and one refund per (order, cause), whatever the retries or racing workers.
            models.UniqueConstraint(
                fields=["order", "kind", "cause"],
                condition=Q(order__isnull=False, kind__in=["charge", "refund"]),
                name="ledger_one_per_order_kind_cause",
            ),
            # A deposit is credited once (and its bonus once), whatever the webhooks, return pages and checks.
            models.UniqueConstraint(
                fields=["deposit", "cause"], condition=Q(deposit__isnull=False), name="ledger_one_per_deposit_cause",
            ),
        ]
        indexes = [models.Index(fields=["customer", "-id"], name="ledger_customer_recent")]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} ({self.customer_id})"

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ValueError("Ledger entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Ledger entries are append-only")


class PaymentRequest(models.Model):
    """A customer's request to add funds; an admin's approval credits the balance once."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="payment_requests")
    amount = MoneyField()
    method = models.CharField(max_length=60)
    reference = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    admin_note = models.CharField(max_length=500, blank=True)
    ledger_entry = models.OneToOneField(
        LedgerEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="payment_request"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(
                condition=Q(status="approved", ledger_entry__isnull=False) | ~Q(status="approved"),
                name="payment_approved_has_ledger_entry",
            ),
        ]

    def __str__(self) -> str:
        return f"Payment request #{self.pk}"


class Gateway(models.Model):
    """A way to pay: one account at a payment gateway (Stripe, PayPal, Cryptomus), set up by an admin."""

    class Kind(models.TextChoices):
        STRIPE = "stripe", "Stripe"
        PAYPAL = "paypal", "PayPal"
        CRYPTOMUS = "cryptomus", "Cryptomus"

    name = models.SlugField(max_length=40, unique=True, help_text="In the webhook URL: /payments/<name>/webhook/")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    title = models.CharField(max_length=100, blank=True, help_text="What customers see; the kind when empty.")
    api_base = models.URLField(max_length=300, blank=True, help_text="Empty: the gateway's live API.")
    currency = models.CharField(max_length=3, default="USD")
    min_amount = MoneyField(default=1)
    max_amount = MoneyField(default=10000)
    fee_percent = models.DecimalField(max_digits=5, decimal_places=2, default=0)
    # Secrets: never shown back in the admin, logs or errors.
    credentials = models.JSONField(default=dict, blank=True)
    is_enabled = models.BooleanField(default=True)
    sort_order = models.IntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["sort_order", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(min_amount__gt=0, max_amount__gte=models.F("min_amount")),
                                   name="gateway_limits_make_sense"),
            models.CheckConstraint(condition=Q(fee_percent__gte=0, fee_percent__lt=100), name="gateway_fee_0_100"),
        ]

    def __str__(self) -> str:
        return self.title or self.get_kind_display()


class BonusTier(models.Model):
    """A deposit of at least `min_amount` (panel currency) earns `percent` more, as its own ledger row."""

    min_amount = MoneyField(unique=True)
    percent = models.DecimalField(max_digits=5, decimal_places=2)

    class Meta:
        ordering = ["min_amount"]
        constraints = [
            models.CheckConstraint(condition=Q(min_amount__gt=0, percent__gt=0, percent__lte=100),
                                   name="bonus_tier_sensible"),
        ]

    def __str__(self) -> str:
        return f"+{self.percent}% from {self.min_amount}"


class Deposit(models.Model):
    """Money a customer pays through a gateway, credited to the balance once the gateway confirms it."""

    class Status(models.TextChoices):
        CREATED = "created", "Created"
        PENDING = "pending", "Waiting for payment"
        PAID = "paid", "Paid"
        FAILED = "failed", "Failed"
        EXPIRED = "expired", "Expired"
        REVIEW = "review", "Held for review"

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="deposits")
    gateway = models.ForeignKey(Gateway, on_delete=models.PROTECT, related_name="deposits")
    # What the customer asked to add, and what the gateway is asked to collect (in `currency`).
    amount = MoneyField(help_text="Asked to add, in the gateway's currency.")
    pay_amount = MoneyField(help_text="Asked of the gateway: the amount, plus the fee when the customer pays it.")
    currency = models.CharField(max_length=3)
    fee = MoneyField(default=0)
    exchange_rate = models.DecimalField(max_digits=20, decimal_places=8, default=1,
                                        help_text="Panel-currency units per unit of the deposit's currency.")
    credit_amount = MoneyField(help_text="To credit, in the panel currency, once paid in full.")
    bonus = MoneyField(default=0)
    # The gateway's id for this payment: Stripe session, PayPal order, Cryptomus invoice.
    reference = models.CharField(max_length=200, blank=True)
    checkout_url = models.URLField(max_length=1000, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CREATED)
    received_amount = MoneyField(null=True, blank=True)
    received_currency = models.CharField(max_length=10, blank=True)
    ledger_entry = models.OneToOneField(
        LedgerEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="credited_deposit"
    )
    note = models.CharField(max_length=500, blank=True, help_text="Why it failed or waits for review.")
    last_event = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["gateway", "reference"], condition=~Q(reference=""),
                                    name="deposit_one_per_gateway_reference"),
            models.CheckConstraint(condition=Q(amount__gt=0, pay_amount__gt=0, credit_amount__gt=0),
                                   name="deposit_amounts_positive"),
            models.CheckConstraint(condition=~Q(status="paid") | Q(ledger_entry__isnull=False),
                                   name="deposit_paid_has_ledger_entry"),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="deposit_status_created")]

    def __str__(self) -> str:
        return f"Deposit #{self.pk} {self.amount} {self.currency} ({self.status})"
