"""Sending queued mail: claim the rows, render them in their language, send through Django's email.

A row is claimed for a lease in a short transaction (row locks skipped by other workers on PostgreSQL)
and sent outside it, so a slow SMTP server holds no database lock (on SQLite, the whole file's). A row
is marked sent right after the SMTP server accepted it; one that another worker holds, or that is
already sent, is left alone, so running the task twice for a row sends one mail.
"""

from __future__ import annotations

import contextlib
import logging
import smtplib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import formataddr

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.template.loader import render_to_string
from django.utils import timezone, translation

from notify.models import SentMail
from providers.bulk import bulk_update_rows

logger = logging.getLogger(__name__)

ERROR_MAX_LENGTH = SentMail._meta.get_field("last_error").max_length


@dataclass
class BatchResult:
    sent: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    retry: list[int] = field(default_factory=list)
    # Seconds until the rows in `retry` are tried again.
    countdown: int = 0


def claim_lease() -> timedelta:
    """How long a claim holds: past the task's hard time limit, after which its worker is gone."""
    return timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)


def retry_delay(attempts: int) -> int:
    """Seconds before the next try after `attempts` failed ones: doubling from the base, up to the cap."""
    return min(settings.MAIL_RETRY_SECONDS * 2 ** max(attempts - 1, 0), settings.MAIL_RETRY_MAX_SECONDS)


def mails_claim(*, sent_mail_ids: list[int], now: datetime) -> list[SentMail]:
    """The queued rows among the ids that no live worker holds, leased to this one."""
    with transaction.atomic():
        rows = SentMail.objects.filter(pk__in=sent_mail_ids, state=SentMail.State.QUEUED).filter(
            Q(locked_until__isnull=True) | Q(locked_until__lte=now))
        if settings.USES_POSTGRES:
            rows = rows.select_for_update(skip_locked=True)
        claimed = list(rows.order_by("id"))
        if claimed:
            SentMail.objects.filter(pk__in=[row.pk for row in claimed]).update(locked_until=now + claim_lease())
    return claimed


def render_mail(row: SentMail) -> tuple[str, str, str]:
    """(subject, plain text, HTML) of a row, in its language, with the panel's name and address."""
    context = {**row.context, "panel_name": settings.PANEL_NAME, "panel_url": settings.PANEL_URL}
    with translation.override(row.language):
        subject = render_to_string(f"email/{row.kind}.subject.txt", context)
        text = render_to_string(f"email/{row.kind}.txt", context)
        html = render_to_string(f"email/{row.kind}.html", context)
    # A header is one line: a template's line breaks (or a customer's, in a ticket subject) are spaces.
    return " ".join(subject.split()), text, html


def sender() -> str:
    """DEFAULT_FROM_EMAIL, shown with the panel's name unless it names itself ("Name <address>")."""
    address = settings.DEFAULT_FROM_EMAIL
    return address if "<" in address else formataddr((settings.PANEL_NAME, address))


def build_message(row: SentMail, *, connection) -> EmailMultiAlternatives:
    subject, text, html = render_mail(row)
    message = EmailMultiAlternatives(
        subject=subject, body=text, to=[address.strip() for address in row.to_address.split(",") if address.strip()],
        from_email=sender(), connection=connection,
        # RFC 3834: automatic mail, so auto-responders do not answer it.
        headers={"Auto-Submitted": "auto-generated"},
    )
    message.attach_alternative(html, "text/html")
    return message


def is_permanent(error: Exception) -> bool:
    """An SMTP 5xx answer about this message or its recipients: trying again gets the same answer."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return bool(error.recipients) and all(code >= 500 for code, _msg in error.recipients.values())
    if isinstance(error, smtplib.SMTPSenderRefused | smtplib.SMTPDataError):
        return error.smtp_code >= 500
    return False


def _close(connection) -> None:
    # The connection is gone either way; the next message opens a new one.
    with contextlib.suppress(smtplib.SMTPException, OSError):
        connection.close()


def _send_one(row: SentMail, *, connection, now: datetime) -> tuple[str, bool] | None:
    """Send one claimed row and mark it sent; None when sent, else (error, permanent)."""
    try:
        message = build_message(row, connection=connection)
    except Exception as error:
        # A mail that cannot be rendered (a template or context mistake) would fail every try alike.
        logger.exception("mail %s (%s) could not be rendered", row.pk, row.kind)
        return f"Not rendered: {error!r}", True
    try:
        message.send()
    except (smtplib.SMTPException, OSError) as error:
        logger.warning("mail %s (%s) not sent: %r", row.pk, row.kind, error)
        _close(connection)
        return repr(error), is_permanent(error)
    # Marked at once, not with the batch: a worker killed mid-batch sends at most this one mail again.
    SentMail.objects.filter(pk=row.pk).update(state=SentMail.State.SENT, sent_at=now, last_error="",
                                              attempts=F("attempts") + 1, locked_until=None)
    return None


def mails_send(*, sent_mail_ids: list[int], now: datetime | None = None) -> BatchResult:
    """Send the queued rows among the ids over one connection. Queries: two to claim, one per mail sent
    (its mark), one for all the failures. Rows whose send failed for a passing reason stay queued and
    come back in `retry` until MAIL_MAX_ATTEMPTS tries, then they fail."""
    now = now or timezone.now()
    rows = mails_claim(sent_mail_ids=sent_mail_ids, now=now)
    result = BatchResult()
    if not rows:
        return result
    errors: dict[int, tuple[str, bool]] = {}
    connection = get_connection(fail_silently=False, timeout=settings.EMAIL_TIMEOUT)
    try:
        connection.open()  # one connection for the batch (a failed message closes it; the next opens anew)
    except (smtplib.SMTPException, OSError) as error:
        logger.warning("mail server not reached: %r", error)
        errors = {row.pk: (repr(error), False) for row in rows}
    try:
        for row in rows:
            if row.pk in errors:
                continue
            outcome = _send_one(row, connection=connection, now=now)
            if outcome is None:
                result.sent.append(row.pk)
            else:
                errors[row.pk] = outcome
    except SoftTimeLimitExceeded:
        # Out of time: the rows not tried yet are released and come back with the retry, no try counted.
        untried = [row.pk for row in rows if row.pk not in errors and row.pk not in result.sent]
        SentMail.objects.filter(pk__in=untried).update(locked_until=None)
        result.retry.extend(untried)
    finally:
        _close(connection)
    _record_failures([row for row in rows if row.pk in errors], errors, now=now, result=result)
    return result


def _record_failures(rows: list[SentMail], errors: dict[int, tuple[str, bool]], *, now: datetime,
                     result: BatchResult) -> None:
    if not rows:
        return
    retrying = [row for row in rows if not errors[row.pk][1] and row.attempts + 1 < settings.MAIL_MAX_ATTEMPTS]
    # One delay for the batch, from its most-tried row: no row is tried before its own backoff ends.
    result.countdown = retry_delay(max((row.attempts + 1 for row in retrying), default=1))
    for row in rows:
        row.attempts += 1
        row.last_error = errors[row.pk][0][:ERROR_MAX_LENGTH]
        row.locked_until = None
        if row in retrying:
            row.next_attempt_at = now + timedelta(seconds=result.countdown)
            result.retry.append(row.pk)
        else:
            row.state = SentMail.State.FAILED
            result.failed.append(row.pk)
            logger.error("mail %s (%s) failed after %s tries: %s", row.pk, row.kind, row.attempts, row.last_error)
    bulk_update_rows(rows, ["attempts", "last_error", "locked_until", "next_attempt_at", "state"])


def mails_stale(*, now: datetime | None = None, limit: int = 1000) -> list[int]:
    """Queued rows that no worker holds and whose send (or retry) is overdue by MAIL_STALE_MINUTES: their
    task was lost (a worker died, a broker lost the message). Sending them again is safe (see mails_claim)."""
    now = now or timezone.now()
    due = now - timedelta(minutes=settings.MAIL_STALE_MINUTES)
    return list(SentMail.objects.filter(state=SentMail.State.QUEUED)
                .filter(Q(locked_until__isnull=True) | Q(locked_until__lte=now))
                .annotate(due_at=Coalesce("next_attempt_at", "created_at")).filter(due_at__lte=due)
                .order_by("id").values_list("id", flat=True)[:limit])
