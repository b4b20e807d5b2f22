"""Queueing mail: one SentMail row per event, sent by notify.tasks after the transaction commits.

Callable inside any transaction (a deposit's credit, a refund): the row is written with the caller's
change, and the task that sends it is enqueued only once that commits, so a slow SMTP server never holds
a page or a money transaction, and a rolled-back change mails nobody. The unique `event_key` makes the
same event mail at most once however often the code path runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Customer
from notify.kinds import check_staff_kind, customer_kind, wants
from notify.models import SentMail
from notify.preferences import mail_language

# Ids per send task: one SMTP connection serves a batch, and a failing batch retries as one.
SEND_BATCH_SIZE = 50
KEY_MAX_LENGTH = SentMail._meta.get_field("event_key").max_length


def _enqueue(ids: list[int]) -> None:
    from notify.tasks import send_mail_task

    for start in range(0, len(ids), SEND_BATCH_SIZE):
        batch = ids[start:start + SEND_BATCH_SIZE]
        transaction.on_commit(lambda batch=batch: send_mail_task.delay(batch))


def _queue(rows: list[SentMail]) -> int:
    """Insert the rows (an event already recorded is left as it is) and enqueue the queued ones."""
    SentMail.objects.bulk_create(rows, ignore_conflicts=True)
    keys = [row.event_key for row in rows if row.state == SentMail.State.QUEUED]
    if not keys:
        return 0
    ids = list(SentMail.objects.filter(event_key__in=keys, state=SentMail.State.QUEUED, attempts=0)
               .order_by("id").values_list("id", flat=True))
    _enqueue(ids)
    return len(ids)


def _check_key(event_key: str) -> None:
    if not event_key or len(event_key) > KEY_MAX_LENGTH:
        raise ValueError(f"An event key is 1 to {KEY_MAX_LENGTH} characters, got {event_key!r}")


def notify_customer(*, kind: str, event_key: str, customer_id: int, context: dict) -> None:
    """Mail one customer about one event, at most once per `event_key`."""
    notify_customers(kind=kind, items=[(event_key, customer_id, context)])


def notify_customers(*, kind: str, items: Iterable[tuple[str, int, dict]], now: datetime | None = None) -> int:
    """Mail many customers, one event each `(event_key, customer_id, context)`. Returns the mails queued.

    Four queries whatever the number of items. A customer who turned the kind off, is inactive or has no
    address gets a "skipped" row (the event is recorded, nothing is sent).
    """
    mail_kind = customer_kind(kind)
    by_key: dict[str, tuple[int, dict]] = {}
    for event_key, customer_id, context in items:
        _check_key(event_key)
        by_key.setdefault(event_key, (customer_id, context))
    if not by_key:
        return 0
    known = set(SentMail.objects.filter(event_key__in=list(by_key)).values_list("event_key", flat=True))
    fresh = {key: value for key, value in by_key.items() if key not in known}
    if not fresh:
        return 0
    customers = {
        row[0]: row[1:] for row in Customer.objects.filter(pk__in={cid for cid, _ in fresh.values()}).values_list(
            "pk", "is_active", "user__is_active", "user__email", "mail_preference__flags",
            "mail_preference__language")
    }
    now = now or timezone.now()
    rows = []
    for event_key, (customer_id, context) in fresh.items():
        active, user_active, email, flags, language = customers.get(customer_id, (False, False, "", None, None))
        skipped = ("the customer turned this mail off" if not wants(flags, mail_kind)
                   else "no email address" if not email
                   else "the account is inactive" if not (active and user_active) else "")
        rows.append(SentMail(event_key=event_key, kind=mail_kind.name, to_address=email or "",
                             customer_id=customer_id if customer_id in customers else None,
                             language=mail_language(language), context=context, created_at=now,
                             state=SentMail.State.SKIPPED if skipped else SentMail.State.QUEUED, last_error=skipped))
    return _queue(rows)


def notify_staff(*, kind: str, event_key: str, context: dict, now: datetime | None = None) -> None:
    """Mail settings.SUPPORT_EMAIL about one event, at most once per `event_key`; nothing when it is empty."""
    check_staff_kind(kind)
    _check_key(event_key)
    if not settings.SUPPORT_EMAIL or SentMail.objects.filter(event_key=event_key).exists():
        return
    _queue([SentMail(event_key=event_key, kind=kind, to_address=settings.SUPPORT_EMAIL, customer=None,
                     language=mail_language(settings.LANGUAGE_CODE), context=context,
                     created_at=now or timezone.now())])
