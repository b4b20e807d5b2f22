from django.contrib import admin, messages
from django.utils.html import format_html

from accounts import services
from accounts.models import Customer, LedgerEntry, PaymentRequest


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


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("id", "username", "balance", "discount_percent", "api_key_prefix", "is_active", "created_at")
    list_filter = ("is_active",)
    search_fields = ("user__username", "user__email", "api_key_prefix")
    readonly_fields = ("user", "balance", "api_key_prefix", "api_key_created_at", "created_at")
    fields = ("user", "balance", "discount_percent", "is_active", "timezone", "api_key_prefix",
              "api_key_created_at", "created_at")
    inlines = [LedgerInline]
    list_select_related = ("user",)

    def has_add_permission(self, request):
        return False  # customers are created by sign-up or `create_customer`, which also issue a key


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
