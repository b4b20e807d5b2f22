"""Writes for announcements: staff post them, customers dismiss them."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from audit.services import audit_record
from news.models import Announcement, AnnouncementDismissal

_AUDITED = ("title", "body", "level", "starts_at", "ends_at")


def announcement_save(*, announcement: Announcement, actor) -> Announcement:
    """Post a new announcement or change one, with an audit row of what changed."""
    with transaction.atomic():
        before = None
        if announcement.pk is not None:
            before = Announcement.objects.select_for_update().filter(pk=announcement.pk).first()
        if before is None and getattr(actor, "is_authenticated", False):
            announcement.created_by = actor
        announcement.save()
        changes = {
            name: (getattr(before, name) if before else None, getattr(announcement, name))
            for name in _AUDITED
            if before is None or getattr(before, name) != getattr(announcement, name)
        }
        audit_record(action="announcement.post" if before is None else "announcement.edit",
                     subject_type="announcement", subject_id=announcement.pk, actor=actor, changes=changes)
    return announcement


class AnnouncementNotFound(Exception):
    """No announcement with that id has started: nothing to dismiss."""


def announcement_dismiss(*, user, announcement_id: int, now: datetime) -> None:
    """Hide an announcement from `user` for good. Dismissing twice is harmless. Raises AnnouncementNotFound."""
    # One that has not started yet is no one's to dismiss (its id says nothing of it either).
    if not Announcement.objects.filter(pk=announcement_id, starts_at__lte=now).exists():
        raise AnnouncementNotFound(announcement_id)
    AnnouncementDismissal.objects.bulk_create([AnnouncementDismissal(user=user, announcement_id=announcement_id)],
                                              ignore_conflicts=True)
