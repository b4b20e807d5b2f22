"""What the panel tells customers about itself: announcements, and how fast each service delivers."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Announcement(models.Model):
    """News posted by staff, shown on customers' dashboards between `starts_at` and `ends_at`."""

    class Level(models.TextChoices):
        INFO = "info", _("Information")
        SUCCESS = "success", _("Good news")
        WARNING = "warning", _("Warning")

    title = models.CharField(max_length=200)
    # Plain text: shown escaped, line breaks kept.
    body = models.TextField()
    level = models.CharField(max_length=8, choices=Level.choices, default=Level.INFO)
    starts_at = models.DateTimeField(default=timezone.now, help_text="Shown from this moment.")
    ends_at = models.DateTimeField(null=True, blank=True, help_text="Shown until this moment; empty: until removed.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, editable=False,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-starts_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__isnull=True) | Q(ends_at__gt=models.F("starts_at")),
                                   name="announcement_ends_after_start",
                                   violation_error_message="The end must come after the start."),
        ]
        indexes = [models.Index(fields=["starts_at", "ends_at"], name="announcement_window")]

    def __str__(self) -> str:
        return self.title


class AnnouncementDismissal(models.Model):
    """A user closed an announcement: it is not shown to them again."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    announcement = models.ForeignKey(Announcement, on_delete=models.CASCADE, related_name="dismissals")
    dismissed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "announcement"], name="announcement_dismissed_once"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} dismissed {self.announcement_id}"


class ServiceSpeed(models.Model):
    """A service's median time from placement to completion, per 1000 units, from its recent completed orders.

    Written by `news.speed.service_speeds_compute` (a periodic task); pages only read it. For services sold
    per package (quantity 1) the figure is the time per package, as their price is the price per package.
    """

    service = models.OneToOneField("providers.Service", on_delete=models.CASCADE, primary_key=True,
                                   related_name="speed")
    # Empty when there were too few samples to say.
    seconds_per_1000 = models.PositiveBigIntegerField(null=True, blank=True)
    samples = models.PositiveSmallIntegerField(default=0)
    computed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.service_id}: {self.seconds_per_1000}s per 1000 ({self.samples} orders)"
