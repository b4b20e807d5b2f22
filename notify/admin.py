"""Mail in the admin: what was sent to whom, and why a mail failed or was skipped. Read-only: rows are
written by notify.services and notify.sending only."""

from __future__ import annotations

from django.contrib import admin

from notify.models import SentMail


@admin.register(SentMail)
class SentMailAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "to_address", "customer", "language", "state", "attempts", "created_at", "sent_at")
    list_filter = ("state", "kind", "language")
    search_fields = ("event_key", "to_address")
    list_select_related = ("customer__user",)
    raw_id_fields = ("customer",)
    readonly_fields = [field.name for field in SentMail._meta.fields]
    date_hierarchy = "created_at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
