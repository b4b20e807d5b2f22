"""The weekly service-updates mail: opted-in customers, services they ordered, once per week however often it runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from news.digest import digest_window, service_updates_digest_send
from news.tasks import service_updates_digest_task
from notify.models import SentMail
from notify.preferences import preferences_save
from notify.tasks import send_mail_task
from providers.models import ServiceChange
from tests.factories import CategoryFactory, CustomerFactory, OrderFactory, ServiceFactory

pytestmark = pytest.mark.django_db

# A Monday morning: the mail covers Monday 9 to Sunday 15 March 2026, ISO week 12 by its end.
NOW = datetime(2026, 3, 16, 6, 0, tzinfo=UTC)


def _change(service, field: str, old: str, new: str, *, at: datetime) -> ServiceChange:
    row = ServiceChange.objects.create(service=service, field=field, old_value=old, new_value=new)
    ServiceChange.objects.filter(pk=row.pk).update(changed_at=at)  # the log stamps its own time
    return row


def _customer(name: str, *, opted_in: bool, ordered=()):
    customer = CustomerFactory(user__username=name)
    if opted_in:
        preferences_save(customer_id=customer.pk, wanted={"service_updates"}, language="en")
    for service in ordered:
        OrderFactory(customer=customer, service=service)
    return customer


def _deliver() -> None:
    """Run the send task on every mail still queued, as a worker would."""
    ids = list(SentMail.objects.filter(state=SentMail.State.QUEUED).values_list("pk", flat=True))
    if ids:
        send_mail_task(ids)


def test_the_window_is_the_seven_whole_days_before_the_run():
    assert digest_window(now=NOW) == (datetime(2026, 3, 9, tzinfo=UTC), datetime(2026, 3, 16, tzinfo=UTC))
    assert digest_window(now=NOW + timedelta(hours=17)) == digest_window(now=NOW)


def test_opted_in_customers_get_last_weeks_changes_to_their_services_once(django_capture_on_commit_callbacks):
    # given
    category = CategoryFactory(name="Instagram")
    likes = ServiceFactory(name="IG Likes", category=category)
    views = ServiceFactory(name="IG Views", category=category)
    other = ServiceFactory(name="IG Saves", category=category)
    _change(likes, "rate", "1.2", "1.5", at=datetime(2026, 3, 10, 9, tzinfo=UTC))
    _change(views, "is_active", "True", "False", at=datetime(2026, 3, 12, 9, tzinfo=UTC))
    _change(other, "rate", "2", "1.8", at=datetime(2026, 3, 11, tzinfo=UTC))
    _change(likes, "upstream_rate", "0.9", "1.1537", at=datetime(2026, 3, 10, 9, tzinfo=UTC))  # a cost: never
    _change(likes, "rate", "1", "1.2", at=datetime(2026, 3, 8, 23, 59, tzinfo=UTC))  # the week before
    _change(likes, "rate", "1.5", "1.6", at=datetime(2026, 3, 16, 0, 1, tzinfo=UTC))  # next week's
    alice = _customer("alice", opted_in=True, ordered=[likes, views, likes])
    bob = _customer("bob", opted_in=True, ordered=[likes])
    _customer("carol", opted_in=False, ordered=[likes, other])
    _customer("dave", opted_in=True)  # ordered none of the changed services

    # when it runs, runs again the same week, and the worker delivers
    with django_capture_on_commit_callbacks(execute=False) as enqueued:
        first = service_updates_digest_send(now=NOW)
    second = service_updates_digest_send(now=NOW + timedelta(hours=2))
    _deliver()
    third = service_updates_digest_send(now=NOW + timedelta(days=1))
    _deliver()

    # then
    assert (first, second, third) == (2, 2, 2)  # the same two customers, queued once
    assert len(enqueued) == 1
    rows = {row.customer_id: row for row in SentMail.objects.filter(kind="service_updates")}
    assert set(rows) == {alice.pk, bob.pk}
    assert rows[alice.pk].event_key == f"service_updates:{alice.pk}:2026-W12"
    assert rows[alice.pk].context == {
        "since": "2026-03-09", "until": "2026-03-15",
        "changes": [
            {"service_id": likes.pk, "service_name": "IG Likes", "category": "Instagram", "kind": "price_up",
             "old_rate": "1.2", "new_rate": "1.5"},
            {"service_id": views.pk, "service_name": "IG Views", "category": "Instagram", "kind": "disabled",
             "old_rate": "", "new_rate": ""},
        ],
    }
    assert [c["service_id"] for c in rows[bob.pk].context["changes"]] == [likes.pk]
    assert sorted(m.to[0] for m in mail.outbox) == [alice.user.email, bob.user.email]
    alice_mail = next(m for m in mail.outbox if m.to == [alice.user.email])
    assert "IG Likes" in alice_mail.body and "IG Views" in alice_mail.body and "IG Saves" not in alice_mail.body
    assert "1.1537" not in alice_mail.body


def test_next_week_is_a_new_mail(django_capture_on_commit_callbacks):
    service = ServiceFactory()
    customer = _customer("erin", opted_in=True, ordered=[service])
    _change(service, "rate", "1", "2", at=NOW - timedelta(days=2))
    _change(service, "rate", "2", "3", at=NOW + timedelta(days=2))

    with django_capture_on_commit_callbacks(execute=False):
        service_updates_digest_send(now=NOW)
        service_updates_digest_send(now=NOW + timedelta(days=7))

    keys = sorted(SentMail.objects.filter(customer=customer).values_list("event_key", flat=True))
    assert keys == [f"service_updates:{customer.pk}:2026-W12", f"service_updates:{customer.pk}:2026-W13"]


def test_nobody_opted_in_costs_one_query_and_mails_nobody():
    service = ServiceFactory()
    _customer("frank", opted_in=False, ordered=[service])
    _change(service, "rate", "1", "2", at=NOW - timedelta(days=2))

    with CaptureQueriesContext(connection) as queries:
        assert service_updates_digest_send(now=NOW) == 0

    assert len(queries) == 1 and not SentMail.objects.exists()
    assert service_updates_digest_task() == 0  # the periodic task, on today's clock


def _digest_queries(count: int, django_capture_on_commit_callbacks) -> tuple[int, int]:
    SentMail.objects.all().delete()
    services = [ServiceFactory() for _ in range(count)]
    for n, service in enumerate(services):
        _change(service, "rate", "1", "2", at=NOW - timedelta(days=1, minutes=n))
        _customer(f"buyer-{count}-{n}", opted_in=True, ordered=[service, services[n - 1]])
    with django_capture_on_commit_callbacks(execute=False), CaptureQueriesContext(connection) as queries:
        mailed = service_updates_digest_send(now=NOW)
    return len(queries), mailed


def test_the_digest_costs_the_same_queries_for_3_and_30_customers(django_capture_on_commit_callbacks):
    few, few_mailed = _digest_queries(3, django_capture_on_commit_callbacks)
    many, many_mailed = _digest_queries(30, django_capture_on_commit_callbacks)

    assert (few_mailed, many_mailed) == (3, 3 + 30)
    assert few == many <= 10
