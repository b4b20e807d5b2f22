"""Announcements: the window they show in, dismissal per user, the dashboard, and posting them in the admin."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEntry
from news.models import Announcement, AnnouncementDismissal
from news.selectors import announcements_for_user
from news.services import AnnouncementNotFound, announcement_dismiss
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def _announce(title: str, *, starts: timedelta = timedelta(days=-1), ends: timedelta | None = None,
              **fields) -> Announcement:
    return Announcement.objects.create(title=title, body=fields.pop("body", f"About {title}"),
                                       starts_at=NOW + starts, ends_at=None if ends is None else NOW + ends, **fields)


def test_only_announcements_whose_window_holds_now_are_shown():
    # given
    user = CustomerFactory().user
    _announce("open-ended")
    _announce("ends later", ends=timedelta(hours=1))
    _announce("ended", starts=timedelta(days=-3), ends=timedelta(seconds=-1))
    _announce("ends now", starts=timedelta(days=-3), ends=timedelta(0))
    _announce("starts later", starts=timedelta(minutes=5))
    _announce("starts now", starts=timedelta(0))

    # when
    shown = announcements_for_user(user=user, now=NOW)

    # then: newest start first, then newest posted
    assert [a.title for a in shown] == ["starts now", "ends later", "open-ended"]


def test_a_dismissal_hides_an_announcement_from_that_user_only():
    # given
    alice, bob = CustomerFactory().user, CustomerFactory().user
    news = _announce("maintenance")
    other = _announce("new payment method")

    # when alice dismisses one, twice
    announcement_dismiss(user=alice, announcement_id=news.pk, now=NOW)
    announcement_dismiss(user=alice, announcement_id=news.pk, now=NOW)

    # then
    assert [a.title for a in announcements_for_user(user=alice, now=NOW)] == [other.title]
    assert {a.title for a in announcements_for_user(user=bob, now=NOW)} == {news.title, other.title}
    assert AnnouncementDismissal.objects.filter(user=alice).count() == 1


def test_the_live_undismissed_announcements_are_one_query():
    user = CustomerFactory().user
    for n in range(4):
        announcement_dismiss(user=user, announcement_id=_announce(f"read {n}").pk, now=NOW)
        _announce(f"unread {n}")

    with CaptureQueriesContext(connection) as queries:
        shown = announcements_for_user(user=user, now=NOW)

    assert len(queries) == 1
    assert sorted(a.title for a in shown) == [f"unread {n}" for n in range(4)]


def test_an_announcement_not_started_or_missing_cannot_be_dismissed():
    user = CustomerFactory().user
    future = _announce("later", starts=timedelta(days=1))

    for announcement_id in (future.pk, future.pk + 100):
        with pytest.raises(AnnouncementNotFound):
            announcement_dismiss(user=user, announcement_id=announcement_id, now=NOW)
    assert not AnnouncementDismissal.objects.exists()


def test_the_dashboard_shows_the_body_escaped_with_its_line_breaks_and_dismisses_by_post(client):
    # given
    customer = CustomerFactory()
    client.force_login(customer.user)
    now = timezone.now()
    shown = Announcement.objects.create(title="Scheduled <b>maintenance</b>", level=Announcement.Level.WARNING,
                                        body="Sunday 02:00 UTC.\nOrders wait <script>x()</script>.",
                                        starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=1))

    # when
    page = client.get(reverse("dashboard")).content.decode()
    refused = client.get(reverse("announcement_dismiss", args=[shown.pk]))
    dismissed = client.post(reverse("announcement_dismiss", args=[shown.pk]))
    missing = client.post(reverse("announcement_dismiss", args=[shown.pk + 1]))
    after = client.get(reverse("dashboard")).content.decode()

    # then
    assert "Scheduled &lt;b&gt;maintenance&lt;/b&gt;" in page
    assert "Sunday 02:00 UTC.<br>Orders wait &lt;script&gt;x()&lt;/script&gt;." in page
    assert 'class="alert alert-warning announcement"' in page and "<script>x()" not in page
    assert refused.status_code == 405
    assert dismissed.status_code == 302 and dismissed["Location"] == reverse("dashboard")
    assert missing.status_code == 404
    assert f'data-announcement="{shown.pk}"' not in after
    assert AnnouncementDismissal.objects.filter(user=customer.user, announcement=shown).exists()


def test_dismissing_needs_a_signed_in_customer(client):
    announcement = _announce("for customers")

    response = client.post(reverse("announcement_dismiss", args=[announcement.pk]))

    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert not AnnouncementDismissal.objects.exists()


def test_staff_post_an_announcement_in_the_admin_with_an_audit_row(admin_client, admin_user):
    # when
    add = admin_client.post(reverse("admin:news_announcement_add"), {
        "title": "New services", "body": "TikTok views are here.", "level": "success",
        "starts_at_0": "2026-03-01", "starts_at_1": "00:00:00", "ends_at_0": "", "ends_at_1": "",
    })
    backwards = admin_client.post(reverse("admin:news_announcement_add"), {
        "title": "Backwards", "body": "x", "level": "info",
        "starts_at_0": "2026-03-02", "starts_at_1": "00:00:00", "ends_at_0": "2026-03-01", "ends_at_1": "00:00:00",
    })

    # then
    assert add.status_code == 302
    posted = Announcement.objects.get()
    assert (posted.title, posted.level, posted.created_by, posted.ends_at) == (
        "New services", "success", admin_user, None)
    entry = AuditEntry.objects.get(subject_type="announcement")
    assert (entry.action, entry.subject_id, entry.actor) == ("announcement.post", posted.pk, admin_user)
    assert backwards.status_code == 200 and "The end must come after the start." in backwards.content.decode()
    assert Announcement.objects.count() == 1
    listing = admin_client.get(reverse("admin:news_announcement_changelist"))
    assert listing.status_code == 200 and "New services" in listing.content.decode()
