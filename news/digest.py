"""The weekly mail of service updates: each opted-in customer hears of last week's changes to the services
they have ordered. One mail per customer per ISO week, whatever the number of runs."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from django.utils import timezone

from news.changes import changes_public, public_change
from notify.preferences import customer_ids_opted_in
from notify.services import notify_customers
from orders.models import Order

KIND = "service_updates"
# A mail past this many changes is a catalogue, not news: the updates page has the rest.
MAX_CHANGES_PER_MAIL = 100


def digest_window(*, now: datetime) -> tuple[datetime, datetime]:
    """The seven whole days before the day of `now` (in the panel's time zone): a rerun the same day sees
    exactly the same changes."""
    until = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    return until - timedelta(days=7), until


def service_updates_digest_send(*, now: datetime) -> int:
    """Queue the week's digests in a constant number of queries. Returns how many customers get one."""
    since, until = digest_window(now=now)
    opted_in = customer_ids_opted_in(KIND)
    if not opted_in:
        return 0
    changes = [public_change(row) for row in changes_public(since=since, until=until)]
    if not changes:
        return 0
    by_service = defaultdict(list)
    for change in reversed(changes):  # oldest first, as a mail reads
        by_service[change.service_id].append(change)
    ordered = (
        Order.objects.filter(customer_id__in=opted_in, service_id__in=by_service.keys())
        .values_list("customer_id", "service_id").distinct().order_by()
    )
    per_customer = defaultdict(list)
    for customer_id, service_id in ordered:
        per_customer[customer_id].extend(by_service[service_id])
    year, week, _ = until.isocalendar()
    items = []
    for customer_id, customer_changes in sorted(per_customer.items()):
        customer_changes.sort(key=lambda change: (change.at, change.id))
        items.append((f"{KIND}:{customer_id}:{year}-W{week:02d}", customer_id, {
            "changes": [change.as_context() for change in customer_changes[:MAX_CHANGES_PER_MAIL]],
            "since": since.date().isoformat(),
            "until": (until - timedelta(days=1)).date().isoformat(),
        }))
    if items:
        notify_customers(kind=KIND, items=items)
    return len(items)
