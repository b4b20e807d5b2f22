"""Through a real SMTP server on a loopback port: the SMTP settings work end to end, failures back off."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from notify.models import SentMail
from notify.sending import mails_send, retry_delay
from notify.services import notify_customer, notify_staff
from notify.tasks import send_mail_task
from tests.factories import CustomerFactory
from tests.notify.conftest import PANEL, STAFF, free_port

pytestmark = pytest.mark.django_db

ANSWER = {"ticket_id": 12, "subject": "Refill", "message": "We asked the provider again.\nIt is <b>on its way</b>."}


def _answered(customer=None, key: str = "ticket_answered:1") -> SentMail:
    customer = customer or CustomerFactory()
    notify_customer(kind="ticket_answered", event_key=key, customer_id=customer.pk, context=ANSWER)
    return SentMail.objects.get(event_key=key)


def test_a_mail_reaches_a_real_smtp_server_with_both_parts(smtp_server):
    # given
    row = _answered()

    # when: the task runs (twice: the second finds the row sent)
    send_mail_task(sent_mail_ids=[row.pk])
    send_mail_task(sent_mail_ids=[row.pk])

    # then: the server got one message, to the customer, with the subject, both parts and the panel's name
    (envelope,) = smtp_server.envelopes
    (message,) = smtp_server.messages()
    assert envelope.rcpt_tos == [row.to_address] and envelope.mail_from == "panel@panel.test"
    assert message["Subject"] == f"{PANEL}: new answer on your ticket #12 (Refill)"
    text = message.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "We asked the provider again.\nIt is <b>on its way</b>." in text and PANEL in text
    assert "It is &lt;b&gt;on its way&lt;/b&gt;." in html and PANEL in html
    assert "https://panel.test/tickets/12/" in text and 'href="https://panel.test/tickets/12/"' in html
    row.refresh_from_db()
    assert row.state == SentMail.State.SENT


def test_staff_mail_reaches_the_support_address(smtp_server):
    notify_staff(kind="provider_balance_low", event_key="provider_balance_low:1:x", context={
        "provider_id": 1, "provider": "Upstream A", "balance": "3.5", "threshold": "50", "currency": "USD"})
    mails_send(sent_mail_ids=list(SentMail.objects.values_list("id", flat=True)))

    (envelope,) = smtp_server.envelopes
    assert envelope.rcpt_tos == [STAFF]
    assert smtp_server.messages()[0]["Subject"].startswith(f"[{PANEL}] Low balance at Upstream A:")


def test_a_passing_smtp_failure_is_retried_with_doubling_delays_then_fails(smtp_server, settings):
    # given: a server that answers every message "try again later"
    smtp_server.fail_with = "451 4.3.0 Try again later"
    row = _answered()
    now = timezone.now()

    # when / then: each try waits twice as long as the one before
    for attempt, delay in ((1, 60), (2, 120), (3, 240)):
        result = mails_send(sent_mail_ids=[row.pk], now=now)
        row.refresh_from_db()
        assert (result.retry, result.countdown) == ([row.pk], delay)
        assert (row.state, row.attempts) == (SentMail.State.QUEUED, attempt)
        assert row.next_attempt_at == now + timedelta(seconds=delay) and "451" in row.last_error
        now += timedelta(seconds=delay)

    # the last allowed try (MAIL_MAX_ATTEMPTS = 4) fails the row for good
    result = mails_send(sent_mail_ids=[row.pk], now=now)
    row.refresh_from_db()
    assert result.failed == [row.pk] and result.retry == []
    assert (row.state, row.attempts) == (SentMail.State.FAILED, 4)
    assert smtp_server.attempts == 4 and smtp_server.envelopes == []


def test_the_backoff_has_a_cap(settings):
    settings.MAIL_RETRY_SECONDS, settings.MAIL_RETRY_MAX_SECONDS = 60, 300
    assert [retry_delay(n) for n in range(1, 6)] == [60, 120, 240, 300, 300]


def test_the_task_retries_until_the_server_takes_the_mail(smtp_server):
    # given: a server that refuses twice, then takes the message
    answers = iter(["451 4.3.0 Try again later", "421 4.7.0 Busy"])

    async def flaky(server, session, envelope):
        smtp_server.attempts += 1
        answer = next(answers, None)
        if answer:
            return answer
        smtp_server.envelopes.append(envelope)
        return "250 OK"

    smtp_server.handle_DATA = flaky
    row = _answered()

    # when: the task runs as a worker would (`apply`: its retries run too, here without waiting)
    send_mail_task.apply(kwargs={"sent_mail_ids": [row.pk]})

    # then
    row.refresh_from_db()
    assert smtp_server.attempts == 3 and len(smtp_server.envelopes) == 1
    assert (row.state, row.attempts) == (SentMail.State.SENT, 3)


def test_a_refused_recipient_fails_at_once(smtp_server):
    smtp_server.fail_with = "550 5.1.1 No such user"
    row = _answered()
    result = mails_send(sent_mail_ids=[row.pk])
    row.refresh_from_db()
    assert result.failed == [row.pk] and (row.state, row.attempts) == (SentMail.State.FAILED, 1)


def test_a_server_that_does_not_answer_is_retried(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    rows = [_answered(key=f"ticket_answered:{n}") for n in range(3)]

    result = mails_send(sent_mail_ids=[r.pk for r in rows])

    assert sorted(result.retry) == sorted(r.pk for r in rows) and result.countdown == 60
    assert set(SentMail.objects.values_list("state", "attempts")) == {(SentMail.State.QUEUED, 1)}
