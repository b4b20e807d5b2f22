from django import forms
from django.contrib import admin, messages

from accounts import services
from accounts.models import Customer, LedgerEntry
from accounts.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS
from audit.admin import audit_history, reason_page


class AdjustBalanceForm(forms.Form):
    amount = forms.DecimalField(
        max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES,
        help_text="Signed: positive credits the balance, negative debits it.")
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
                             help_text="Why: kept on the ledger row and in the audit log with your name.")


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
    # Latest orders, payments, tickets and ledger rows, with links to the full lists (accounts.admin_customer).
    change_form_template = "admin/accounts/customer/change_form.html"
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


# Gateways, deposits and bonus tiers; payment requests: their own modules, registered with the admin from here.
from accounts import admin_payment_requests, admin_payments  # noqa: E402,F401
