"""Payment gateways, deposits and bonus tiers in the admin. Deposits are read-only: a person acts on one
only through the actions below (check with the gateway; decide a deposit held for review)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from accounts import deposits
from accounts.gateways import module_class
from accounts.models import BonusTier, Deposit, Gateway
from audit.admin import audit_history, reason_page


class GatewayAdminForm(forms.ModelForm):
    """Secrets are typed in, never shown back: an empty field keeps the stored value."""

    api_base = forms.URLField(max_length=300, required=False, assume_scheme="https",
                              help_text="Empty: the gateway's live API. A sandbox or a local simulator otherwise.")
    credential_fields = ("secret_key", "webhook_secret", "client_id", "client_secret", "webhook_id", "merchant",
                         "payment_key")

    class Meta:
        model = Gateway
        fields = ("name", "kind", "title", "api_base", "currency", "min_amount", "max_amount", "fee_percent",
                  "is_enabled", "sort_order")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        stored = (self.instance.credentials or {}) if self.instance.pk else {}
        for name in self.credential_fields:
            hint = "set; leave empty to keep it" if stored.get(name) else "not set"
            self.fields[name] = forms.CharField(
                required=False, strip=True, help_text=hint,
                widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}))

    def clean(self):
        cleaned = super().clean()
        kind = cleaned.get("kind")
        if not kind:
            return cleaned
        required = module_class(kind).credential_names
        stored = (self.instance.credentials or {}) if self.instance.pk and self.instance.kind == kind else {}
        merged = {name: cleaned.get(name) or stored.get(name, "") for name in required}
        for name in required:
            if not merged[name]:
                self.add_error(name, f"A {kind} gateway needs its {name}.")
        for name in self.credential_fields:
            if name not in required and cleaned.get(name):
                self.add_error(name, f"A {kind} gateway does not use {name}.")
        self.instance.credentials = merged
        return cleaned


@admin.register(Gateway)
class GatewayAdmin(admin.ModelAdmin):
    form = GatewayAdminForm
    list_display = ("name", "kind", "title", "currency", "min_amount", "max_amount", "fee_percent", "is_enabled",
                    "webhook_url")
    list_filter = ("kind", "is_enabled")
    readonly_fields = ("webhook_url",)

    def get_fieldsets(self, request, obj=None):
        return [
            (None, {"fields": ("name", "kind", "title", "is_enabled", "sort_order", "webhook_url")}),
            ("Money", {"fields": ("currency", "min_amount", "max_amount", "fee_percent")}),
            ("Connection", {"fields": ("api_base", *GatewayAdminForm.credential_fields),
                            "description": "Only the credentials of the gateway's kind are used."}),
        ]

    @admin.display(description="Webhook URL (paste into the gateway's dashboard)")
    def webhook_url(self, gateway: Gateway):
        if not gateway.pk:
            return "—"
        return self.request_url(reverse("payment_webhook", args=[gateway.name]))

    def request_url(self, path: str) -> str:
        request = getattr(self, "_request", None)
        return request.build_absolute_uri(path) if request is not None else path

    def get_form(self, request, obj=None, **kwargs):
        self._request = request
        return super().get_form(request, obj, **kwargs)

    def changelist_view(self, request, extra_context=None):
        self._request = request
        return super().changelist_view(request, extra_context)


@admin.register(BonusTier)
class BonusTierAdmin(admin.ModelAdmin):
    list_display = ("min_amount", "percent")


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
                             help_text="Why: kept in the audit log with your name.")


@admin.register(Deposit)
class DepositAdmin(admin.ModelAdmin):
    list_display = ("id", "created_at", "customer", "gateway", "amount", "currency", "pay_amount", "credit_amount",
                    "bonus", "status", "received_amount", "received_currency", "reference")
    list_filter = ("status", "gateway")
    search_fields = ("=id", "reference", "customer__user__username")
    list_select_related = ("customer__user", "gateway")
    date_hierarchy = "created_at"
    actions = ["check_with_gateway", "credit_received", "mark_failed"]

    def get_readonly_fields(self, request, obj=None):
        return [*(f.name for f in self.model._meta.fields), "audit_log"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        pass  # every field belongs to accounts.deposits

    @admin.display(description="Audit log")
    def audit_log(self, deposit: Deposit):
        return audit_history("deposit", deposit.pk)

    @admin.action(description="Check with gateway", permissions=["change"])
    def check_with_gateway(self, request, queryset):
        for deposit_id in queryset.values_list("id", flat=True):
            deposit = deposits.deposit_refresh(deposit_id=deposit_id)
            self.message_user(request, format_html("Deposit #{}: {}", deposit.pk, deposit.get_status_display()),
                              messages.INFO)

    def _review(self, request, queryset, *, action: str, title: str, explanation: str, decide):
        form = ReasonForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            lines = [f"{d} — {d.note}" for d in queryset[:50]]
            return reason_page(self, request, form=form, action=action, title=title, explanation=explanation,
                               lines=lines, count=queryset.count())
        ids = list(queryset.values_list("id", flat=True))
        done = sum(decide(deposit_id=pk, actor=request.user, reason=form.cleaned_data["reason"]) for pk in ids)
        self.message_user(request, f"{done} of {len(ids)} deposit(s) decided; only deposits held for review "
                                   "qualify.", messages.SUCCESS if done else messages.WARNING)
        return None

    @admin.action(description="Review: credit the amount received…", permissions=["change"])
    def credit_received(self, request, queryset):
        return self._review(request, queryset, action="credit_received", title="Credit the amount received",
                            explanation="The amount the gateway received (less the fee, converted at the "
                                        "deposit's rate) is credited to the customer, once.",
                            decide=deposits.deposit_review_credit)

    @admin.action(description="Review: mark failed (refunded outside the panel)…", permissions=["change"])
    def mark_failed(self, request, queryset):
        return self._review(request, queryset, action="mark_failed", title="Mark failed",
                            explanation="Nothing is credited: refund the payer at the gateway yourself.",
                            decide=deposits.deposit_review_fail)
