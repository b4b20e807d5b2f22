"""Admin for providers, services and prices. Thin: every action calls providers.services."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import OuterRef, Subquery
from django.template.response import TemplateResponse

from providers.admin_alternates import ServiceAlternateInline, alternates_save_formset, find_alternates
from providers.admin_filters import HealthFilter
from providers.models import Category, ExchangeRate, Provider, Service, ServiceAlternate, ServiceChange
from providers.pricing import PricingError, ProviderAmount, margin_percent, to_panel_currency
from providers.services import (
    ProviderError,
    SyncError,
    category_save,
    exchange_rate_set,
    markup_clean,
    provider_check,
    provider_save,
    provider_url_clean,
    service_move_to_category,
    service_reprice,
    service_set_active,
    service_set_markup,
    services_sync,
)


def _scrub(message: str, provider: Provider) -> str:
    # The client never puts the key in its errors; this guards the admin page should that ever slip.
    return message.replace(provider.api_key, "********") if provider.api_key else message


class _MarkupFormMixin:
    def clean_markup_percent(self):
        try:
            return markup_clean(self.cleaned_data.get("markup_percent"))
        except ProviderError as exc:
            raise forms.ValidationError(str(exc)) from None


# --- Provider --------------------------------------------------------------------------------------


PRIVATE_URLS_NOTICE = ("PROVIDER_URLS_ALLOW_PRIVATE is on: provider URLs may point at private, loopback and "
                       "link-local addresses, and the API key is sent there.")


class ProviderAdminForm(_MarkupFormMixin, forms.ModelForm):
    api_url = forms.URLField(
        max_length=500, assume_scheme="https",
        help_text="The upstream's API v2 endpoint: http(s), at a public address unless PROVIDER_URLS_ALLOW_PRIVATE "
                  "is on. Changing it needs the API key entered again.",
    )
    api_key = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Our API key at the upstream. Never shown again; leave empty to keep the current key "
                  "(unless the URL changes).",
    )

    class Meta:
        model = Provider
        fields = ("name", "api_url", "api_key", "currency", "is_active", "request_format", "timeout_seconds",
                  "markup_percent", "import_new_active", "hold_on_low_upstream_balance", "low_balance_threshold",
                  "idempotent_add",
                  "unknown_policy", "unknown_refund_after_hours")

    def _url_changed(self, url: str | None) -> bool:
        return not self.instance.pk or url != self.instance.api_url

    def clean_api_url(self):
        url = self.cleaned_data.get("api_url")
        if url and self._url_changed(url):
            try:
                return provider_url_clean(url)
            except ProviderError as exc:
                raise forms.ValidationError(str(exc)) from None
        return url

    def clean_api_key(self):
        key = self.cleaned_data.get("api_key", "")
        if key:
            return key
        if self.instance.pk:
            return self.instance.api_key
        raise forms.ValidationError("A new provider needs an API key.")

    def clean(self):
        cleaned = super().clean()
        url = cleaned.get("api_url")
        if url and self.instance.pk and self._url_changed(url) and not self.data.get("api_key", "").strip():
            # The stored key belongs to the old address; it is never sent to a new one.
            self.add_error("api_key", "The URL changed: enter the API key again.")
        return cleaned

    def clean_currency(self):
        currency = (self.cleaned_data.get("currency") or "").strip().upper()
        if len(currency) != 3 or not currency.isalpha():
            raise forms.ValidationError("A three-letter currency code, such as USD.")
        return currency


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    form = ProviderAdminForm
    list_display = ("name", "api_url", "currency", "markup_percent", "is_active", "upstream_balance",
                    "consecutive_failures", "circuit_open_until", "last_synced_at")
    list_filter = ("is_active", HealthFilter, "currency")
    search_fields = ("name", "api_url")
    readonly_fields = ("upstream_balance", "upstream_balance_checked_at", "consecutive_failures",
                       "circuit_open_until", "retry_after_until", "last_error", "last_synced_at", "created_at")
    actions = ("test_connection", "sync_now")

    def _private_urls_notice(self, request) -> None:
        if settings.PROVIDER_URLS_ALLOW_PRIVATE and request.method == "GET":
            self.message_user(request, PRIVATE_URLS_NOTICE, messages.WARNING)

    def changelist_view(self, request, extra_context=None):
        self._private_urls_notice(request)
        return super().changelist_view(request, extra_context)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        self._private_urls_notice(request)
        return super().changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        # A changed markup or currency reprices the provider's services. The form has checked a changed URL
        # (and asked for the key again); the service checks it once more and clears a key left from before.
        provider_save(provider=obj)

    @admin.action(description="Test connection (upstream balance)")
    def test_connection(self, request, queryset):
        for provider in queryset:
            try:
                balance = provider_check(provider=provider)
            except ProviderError as exc:
                self.message_user(request, _scrub(str(exc), provider), messages.ERROR)
            else:
                currency = balance.currency or provider.currency
                self.message_user(request, f"{provider.name}: connected, balance {balance.amount} {currency}",
                                  messages.SUCCESS)

    @admin.action(description="Sync services now")
    def sync_now(self, request, queryset):
        for provider in queryset:
            try:
                result = services_sync(provider=provider)
            except SyncError as exc:
                self.message_user(request, _scrub(str(exc), provider), messages.ERROR)
            else:
                self.message_user(request, f"{provider.name}: {result.summary()}", messages.SUCCESS)


# --- Exchange rates, categories ------------------------------------------------------------------


class ExchangeRateForm(forms.ModelForm):
    class Meta:
        model = ExchangeRate
        fields = ("currency", "rate")
        help_texts = {"rate": "How many units of the panel currency one unit of this currency buys."}

    def clean_rate(self):
        rate = self.cleaned_data["rate"]
        if rate is None or rate <= 0:
            raise forms.ValidationError("The rate must be positive.")
        return rate

    def clean_currency(self):
        currency = (self.cleaned_data.get("currency") or "").strip().upper()
        if len(currency) != 3 or not currency.isalpha():
            raise forms.ValidationError("A three-letter currency code, such as EUR.")
        return currency


@admin.register(ExchangeRate)
class ExchangeRateAdmin(admin.ModelAdmin):
    form = ExchangeRateForm
    list_display = ("currency", "rate", "updated_at")

    def get_readonly_fields(self, request, obj=None):
        return ("currency",) if obj else ()  # a rate belongs to its currency; add another one instead

    def save_model(self, request, obj, form, change):
        saved, repriced = exchange_rate_set(currency=obj.currency, rate=obj.rate)
        obj.pk = saved.pk
        self.message_user(request, f"1 {saved.currency} = {saved.rate} {settings.PANEL_CURRENCY}; "
                                   f"{repriced} service price(s) changed.")


class CategoryForm(_MarkupFormMixin, forms.ModelForm):
    class Meta:
        model = Category
        fields = ("name", "sort_order", "markup_percent")


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    form = CategoryForm
    list_display = ("name", "sort_order", "markup_percent")
    list_editable = ("sort_order", "markup_percent")
    search_fields = ("name",)

    def save_model(self, request, obj, form, change):
        category_save(category=obj)


# --- Services --------------------------------------------------------------------------------------


class ServiceForm(_MarkupFormMixin, forms.ModelForm):
    class Meta:
        model = Service
        fields = ("category", "markup_percent", "fixed_rate", "is_active", "refill_days", "refill_max",
                  "refill_cooldown_hours")

    def clean_refill_cooldown_hours(self):
        return self.cleaned_data.get("refill_cooldown_hours") or 0  # empty: no cooldown

    def clean_fixed_rate(self):
        fixed = self.cleaned_data.get("fixed_rate")
        if fixed is not None and fixed < 0:
            raise forms.ValidationError("A price cannot be negative.")
        return fixed


class MarkupActionForm(forms.Form):
    markup_percent = forms.DecimalField(
        required=False, min_value=0, max_digits=7, decimal_places=2,
        help_text="Percent over the upstream cost; empty removes the services' own markup "
                  "(the category's, provider's or panel default applies).",
    )


class CategoryActionForm(forms.Form):
    category = forms.ModelChoiceField(queryset=Category.objects.all())


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    form = ServiceForm
    list_display = ("id", "name", "provider", "category", "type", "upstream_rate", "rate", "margin", "is_active",
                    "available_upstream")
    list_filter = ("provider", "category", "type", "is_active", "available_upstream")
    search_fields = ("name", "upstream_service_id", "category__name")
    list_select_related = ("provider", "category")
    list_per_page = 100
    readonly_fields = ("provider", "upstream_service_id", "name", "type", "upstream_rate", "rate", "margin",
                       "min", "max", "refill", "cancel", "dripfeed", "description", "available_upstream",
                       "created_at", "updated_at")
    fields = ("provider", "upstream_service_id", "name", "type", "category", "upstream_rate", "markup_percent",
              "fixed_rate", "rate", "margin", "min", "max", "refill", "refill_days", "refill_max",
              "refill_cooldown_hours", "cancel", "dripfeed", "description", "is_active", "available_upstream",
              "created_at", "updated_at")
    actions = ("set_markup", "activate", "deactivate", "move_to_category", find_alternates)
    inlines = (ServiceAlternateInline,)

    def has_add_permission(self, request):
        return False  # services come from a provider's catalogue

    def get_queryset(self, request):
        exchange = ExchangeRate.objects.filter(currency=OuterRef("provider__currency")).values("rate")[:1]
        return super().get_queryset(request).annotate(exchange_rate=Subquery(exchange))

    @admin.display(description="margin %")
    def margin(self, obj: Service) -> str:
        exchange = getattr(obj, "exchange_rate", None)
        if obj.provider.currency.upper() == settings.PANEL_CURRENCY:
            exchange = Decimal(1)
        if exchange is None:
            return "no exchange rate"
        margin = margin_percent(rate=obj.rate, cost=to_panel_currency(ProviderAmount(obj.upstream_rate),
                                                                       exchange_rate=exchange))
        return "—" if margin is None else f"{margin}"

    def save_model(self, request, obj, form, change):
        if "is_active" in form.changed_data:
            obj.deactivated_by_sync = False  # the admin's choice stands; the next sync keeps it
        obj.save()
        try:
            service_reprice(service_ids=[obj.pk])
        except PricingError as exc:
            self.message_user(request, f"Saved, but the price was not recomputed: {exc}", messages.WARNING)

    def save_formset(self, request, form, formset, change):
        if formset.model is ServiceAlternate:
            alternates_save_formset(request, formset)
        else:
            super().save_formset(request, form, formset, change)

    def _action_page(self, request, queryset, *, form, action: str, title: str):
        return TemplateResponse(request, "admin/providers/service/action_form.html", {
            **self.admin_site.each_context(request),
            "title": title,
            "form": form,
            "action": action,
            "services": queryset,
            "count": queryset.count(),
            "selected": request.POST.getlist(ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
            "opts": self.model._meta,
            "media": self.media + form.media,
        })

    @admin.action(description="Set markup percent…")
    def set_markup(self, request, queryset):
        form = MarkupActionForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            ids = list(queryset.values_list("pk", flat=True))
            try:
                count = service_set_markup(service_ids=ids, markup_percent=form.cleaned_data["markup_percent"])
            except (ProviderError, PricingError) as exc:
                self.message_user(request, str(exc), messages.ERROR)
                return None
            self.message_user(request, f"Markup set on {count} service(s); prices recomputed.", messages.SUCCESS)
            return None
        return self._action_page(request, queryset, form=form, action="set_markup", title="Set markup percent")

    @admin.action(description="Move to category…")
    def move_to_category(self, request, queryset):
        form = CategoryActionForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            ids = list(queryset.values_list("pk", flat=True))
            category = form.cleaned_data["category"]
            try:
                count = service_move_to_category(service_ids=ids, category=category)
            except PricingError as exc:
                self.message_user(request, str(exc), messages.ERROR)
                return None
            self.message_user(request, f"{count} service(s) moved to {category}.", messages.SUCCESS)
            return None
        return self._action_page(request, queryset, form=form, action="move_to_category", title="Move to category")

    @admin.action(description="Activate")
    def activate(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True))
        count = service_set_active(service_ids=ids, active=True)
        skipped = len(ids) - count
        note = f" ({skipped} gone upstream left inactive)" if skipped else ""
        self.message_user(request, f"{count} service(s) activated{note}.", messages.SUCCESS)

    @admin.action(description="Deactivate")
    def deactivate(self, request, queryset):
        count = service_set_active(service_ids=list(queryset.values_list("pk", flat=True)), active=False)
        self.message_user(request, f"{count} service(s) deactivated.", messages.SUCCESS)


@admin.register(ServiceChange)
class ServiceChangeAdmin(admin.ModelAdmin):
    list_display = ("changed_at", "service", "provider", "field", "old_value", "new_value")
    list_filter = ("field", "service__provider", "changed_at")
    search_fields = ("service__name", "service__upstream_service_id")
    list_select_related = ("service", "service__provider")
    date_hierarchy = "changed_at"

    @admin.display(description="provider")
    def provider(self, obj: ServiceChange) -> str:
        return obj.service.provider.name

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
