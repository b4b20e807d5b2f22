"""The providers an order was moved away from (orders.failover), on the order's admin page: read-only."""

from __future__ import annotations

from django.contrib import admin

from orders.models import OrderAttempt


class AttemptInline(admin.TabularInline):
    model = OrderAttempt
    fk_name = "order"
    extra = 0
    can_delete = False
    max_num = 0
    fields = ("at", "provider", "upstream_service", "reason", "moved_to", "skipped")
    readonly_fields = fields
    verbose_name = "provider tried"
    verbose_name_plural = "Providers tried (the order moved on to the next alternate; the last is its provider now)"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("provider", "moved_to")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
