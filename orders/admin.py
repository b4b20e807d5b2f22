from django.contrib import admin

from orders.models import CancelRequest, Order, OrderStatusChange, Refill


class HistoryInline(admin.TabularInline):
    model = OrderStatusChange
    extra = 0
    can_delete = False
    max_num = 0
    readonly_fields = ("at", "status", "upstream_status", "start_count", "remains", "note")


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ("id", "created_at", "customer", "service", "provider", "quantity", "charge", "refunded",
                    "status", "stage", "upstream_id", "attention")
    list_filter = ("stage", "status", "provider", "source")
    search_fields = ("id", "upstream_id", "link", "customer__user__username")
    list_select_related = ("customer__user", "service", "provider")
    readonly_fields = ("customer", "service", "provider", "rate", "charge", "refunded", "upstream_charge",
                       "created_at", "updated_at", "sending_started_at", "sent_at", "last_checked_at",
                       "finished_at")
    inlines = [HistoryInline]


@admin.register(Refill)
class RefillAdmin(admin.ModelAdmin):
    list_display = ("id", "order", "upstream_id", "status", "stage", "created_at")
    list_filter = ("status", "stage")


@admin.register(CancelRequest)
class CancelRequestAdmin(admin.ModelAdmin):
    list_display = ("id", "order", "upstream_id", "status", "stage", "created_at")
    list_filter = ("status", "stage")
