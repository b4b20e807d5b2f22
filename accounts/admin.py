from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html

from accounts import services
from accounts.models import Customer, LedgerEntry, PaymentRequest
from accounts.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS
from audit.admin import audit_history, reason_page


class AdjustBalanceForm(forms.Form):
    amount = forms.DecimalField(
        max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES,
        help_text="Signed: positive credits the balance, negative debits it.")
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
                             help_text="Why: kept on the ledger row and in the audit log with your name.")


class LedgerInline(admin.TabularInline):
    model = LedgerEntry
    fk_name = "customer"
    fields = ("created_at", "kind", "cause", "amount", "balance_after", "order", "note", "created_by")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("-id",)
    show_change_link = True
    max_num = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("order", "created_by")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("id", "username", "balance", "discount_percent", "api_key_prefix", "is_active", "created_at")
    list_filter = ("is_active",)
    search_fields = ("user__username", "user__email", "api_key_prefix")
    # The balance moves only through accounts.services, with a ledger row; the key only through its rotation.
    readonly_fields = ("user", "balance", "api_key_prefix", "api_key_digest", "api_key_created_at", "created_at",
                       "audit_log")
    fields = ("user", "balance", "discount_percent", "is_active", "timezone", "api_key_prefix",
              "api_key_created_at", "created_at", "audit_log")
    inlines = [LedgerInline]
    list_select_related = ("user",)
    actions = ["adjust_balance"]

    @admin.display(description="Audit log")
    def audit_log(self, customer: Customer):
        return audit_history("customer", customer.pk)

    def has_add_permission(self, request):
        return False  # customers are created by sign-up or `create_customer`, which also issue a key

    def has_delete_permission(self, request, obj=None):
        return False  # the ledger points at the customer

    def save_model(self, request, obj, form, change):
        # Only the fields of the form: a plain `save()` would write back the balance as read at the start of
        # the request, over any charge or deposit made since.
        if form.changed_data:
            obj.save(update_fields=form.changed_data)

    @admin.action(description="Adjust balance…", permissions=["change"])
    def adjust_balance(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Choose exactly one customer to adjust its balance.", messages.ERROR)
            return None
        customer = queryset.select_related("user").get()
        form = AdjustBalanceForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            try:
                entry = services.balance_adjust(customer_id=customer.pk, amount=form.cleaned_data["amount"],
                                                note=form.cleaned_data["reason"], created_by=request.user)
            except (services.MoneyError, services.InsufficientFunds) as exc:
                form.add_error("amount", str(exc))
            else:
                self.message_user(request, f"Balance of {customer.username} adjusted by {entry.amount}; "
                                  f"it is now {entry.balance_after}.", messages.SUCCESS)
                return None
        return reason_page(
            self, request, form=form, action="adjust_balance", title="Adjust balance",
            explanation="A signed correction through the ledger; the balance never goes below zero.",
            lines=[f"{customer.username} (#{customer.pk}), balance {customer.balance}"], count=1)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(admin.ModelAdmin):
    list_display = ("id", "created_at", "customer", "kind", "cause", "amount", "balance_after", "order", "note")
    list_filter = ("kind", "cause")
    search_fields = ("customer__user__username", "note", "order__id")
    list_select_related = ("customer__user", "order")
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PaymentRequest)
class PaymentRequestAdmin(admin.ModelAdmin):
    list_display = ("id", "created_at", "customer", "amount", "method", "reference", "status_badge", "decided_at")
    list_filter = ("status", "method")
    search_fields = ("customer__user__username", "reference")
    list_select_related = ("customer__user",)
    readonly_fields = ("customer", "amount", "method", "reference", "status", "ledger_entry", "created_at",
                       "decided_at", "decided_by")
    actions = ["approve", "reject"]

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj):
        colour = {"pending": "#b58900", "approved": "#2e7d32", "rejected": "#c62828"}[obj.status]
        return format_html('<b style="color:{}">{}</b>', colour, obj.get_status_display())

    def has_add_permission(self, request):
        return False

    @admin.action(description="Approve: credit the balance")
    def approve(self, request, queryset):
        done = sum(
            services.payment_request_approve(payment_request_id=pk, decided_by=request.user)
            for pk in queryset.values_list("pk", flat=True)
        )
        self.message_user(request, f"{done} payment request(s) approved and credited.", messages.SUCCESS)

    @admin.action(description="Reject")
    def reject(self, request, queryset):
        done = sum(
            services.payment_request_reject(payment_request_id=pk, decided_by=request.user)
            for pk in queryset.values_list("pk", flat=True)
        )
        self.message_user(request, f"{done} payment request(s) rejected.", messages.WARNING)


# Gateways, deposits and bonus tiers: their own module, registered with the admin from here.
from accounts import admin_payments  # noqa: E402,F401
