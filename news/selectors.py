"""Reads for announcements."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Exists, OuterRef, Q, QuerySet

from news.models import Announcement, AnnouncementDismissal

# A dashboard is not a news archive: more than this at once is too many to read.
DASHBOARD_ANNOUNCEMENTS = 5


def announcements_live(*, now: datetime) -> QuerySet[Announcement]:
    """Announcements whose window holds `now`, newest first."""
    return Announcement.objects.filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now), starts_at__lte=now)


def announcements_for_user(*, user, now: datetime, limit: int = DASHBOARD_ANNOUNCEMENTS) -> list[Announcement]:
    """The live announcements `user` has not dismissed, in one query."""
    dismissed = AnnouncementDismissal.objects.filter(announcement=OuterRef("pk"), user=user)
    return list(announcements_live(now=now).exclude(Exists(dismissed)).order_by("-starts_at", "-id")[:limit])
