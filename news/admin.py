"""Announcements in the admin; saved through news.services (an audit row each). Average times are read-only."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count
from django.utils import timezone

from news.models import Announcement, ServiceSpeed
from news.services import announcement_save


@admin.register(Announcement)
class AnnouncementAdmin(admin.ModelAdmin):
    list_display = ("title", "level", "starts_at", "ends_at", "is_live", "created_by", "dismissed")
    list_filter = ("level",)
    search_fields = ("title", "body")
    readonly_fields = ("created_by", "created_at")
    fields = ("title", "body", "level", "starts_at", "ends_at", "created_by", "created_at")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("created_by").annotate(dismissed_count=Count("dismissals"))

    @admin.display(boolean=True, description="shown now")
    def is_live(self, obj: Announcement) -> bool:
        now = timezone.now()
        return obj.starts_at <= now and (obj.ends_at is None or obj.ends_at > now)

    @admin.display(description="dismissed by", ordering="dismissed_count")
    def dismissed(self, obj: Announcement) -> int:
        return obj.dismissed_count

    def save_model(self, request, obj, form, change):
        announcement_save(announcement=obj, actor=request.user)


@admin.register(ServiceSpeed)
class ServiceSpeedAdmin(admin.ModelAdmin):
    list_display = ("service", "seconds_per_1000", "samples", "computed_at")
    list_select_related = ("service",)
    search_fields = ("service__name",)
    readonly_fields = ("service", "seconds_per_1000", "samples", "computed_at")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
