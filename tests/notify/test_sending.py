"""Sending: once per row however often the task runs, rendered in the row's language, with the panel's name."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone, translation

from notify.models import SentMail
from notify.preferences import preferences_save
from notify.sending import mails_send, mails_stale, render_mail
from notify.services import notify_customer
from notify.tasks import mails_sweep_task, send_mail_task
from panel.templatetags.web_format import money
from tests.factories import CustomerFactory
from tests.notify.conftest import PANEL

pytestmark = pytest.mark.django_db

REFUND = {"order_id": 41, "status": "Partial", "service_name": "Instagram Likes", "refund": "1.25000",
          "currency": "USD"}


def _queued(customer=None, *, key: str = "order_refunded:41:partial", context=None) -> SentMail:
    customer = customer or CustomerFactory()
    notify_customer(kind="order_refunded", event_key=key, customer_id=customer.pk, context=context or REFUND)
    return SentMail.objects.get(event_key=key)


def test_the_task_run_twice_sends_one_mail():
    # given
    row = _queued()

    # when: the task runs twice for the row (a retry, a duplicate message)
    first = send_mail_task(sent_mail_ids=[row.pk])
    second = send_mail_task(sent_mail_ids=[row.pk])

    # then
    assert (first, second) == ({"sent": 1, "failed": 0}, {"sent": 0, "failed": 0})
    assert len(mail.outbox) == 1
    row.refresh_from_db()
    assert row.state == SentMail.State.SENT and row.sent_at is not None and row.attempts == 1


def test_the_mail_has_both_parts_the_panel_name_and_a_link():
    row = _queued()
    mails_send(sent_mail_ids=[row.pk])

    (message,) = mail.outbox
    assert message.to == [row.to_address] and message.from_email == f"{PANEL} <panel@panel.test>"
    with translation.override("en"):
        refund = money("1.25")
    assert message.subject == f"{PANEL}: order #41 partly delivered, {refund} USD refunded"
    assert "Instagram Likes" in message.body and PANEL in message.body
    assert "https://panel.test/orders/41/" in message.body
    ((html, mimetype),) = message.alternatives
    assert mimetype == "text/html" and PANEL in html and 'href="https://panel.test/orders/41/"' in html
    assert message.extra_headers["Auto-Submitted"] == "auto-generated"


def test_a_customer_who_chose_indonesian_gets_indonesian():
    customer = CustomerFactory()
    preferences_save(customer_id=customer.pk, wanted={"order_refunded"}, language="id")
    row = _queued(customer, context={**REFUND, "status": "Canceled"})
    assert row.language == "id"

    mails_send(sent_mail_ids=[row.pk])

    (message,) = mail.outbox
    with translation.override("id"):
        refund = money("1.25")
    assert message.subject == f"{PANEL}: pesanan #41 dibatalkan, {refund} USD dikembalikan"
    assert "dikembalikan ke saldo Anda" in message.body
    assert 'lang="id"' in message.alternatives[0][0]


def test_customer_text_is_escaped_in_html_and_plain_in_text():
    row = _queued(context={**REFUND, "service_name": "<b>Likes</b> & more"})
    text, html = render_mail(row)[1:]
    assert "<b>Likes</b> & more" in text
    assert "&lt;b&gt;Likes&lt;/b&gt; &amp; more" in html and "<b>Likes</b>" not in html


def test_a_row_another_worker_holds_is_left_alone():
    row = _queued()
    SentMail.objects.filter(pk=row.pk).update(locked_until=timezone.now() + timedelta(minutes=5))
    assert mails_send(sent_mail_ids=[row.pk]).sent == []
    assert mail.outbox == []


def test_a_batch_costs_two_queries_to_claim_and_one_per_mail(django_assert_num_queries):
    rows = [_queued(key=f"order_refunded:{n}:partial") for n in range(5)]
    # The claim: select and lease in a transaction (a savepoint and its release here); then one mark per mail.
    with django_assert_num_queries(4 + 5):
        result = mails_send(sent_mail_ids=[r.pk for r in rows])
    assert len(result.sent) == 5 and len(mail.outbox) == 5


def test_a_template_mistake_fails_the_row_without_retrying(settings):
    row = _queued()
    SentMail.objects.filter(pk=row.pk).update(kind="no_such_kind")
    result = mails_send(sent_mail_ids=[row.pk])
    row.refresh_from_db()
    assert result.failed == [row.pk] and result.retry == []
    assert row.state == SentMail.State.FAILED and "Not rendered" in row.last_error


def test_the_sweep_requeues_only_mail_whose_task_was_lost(settings, enqueued):
    # given: a fresh row, a row queued long ago, one held by a live worker, one waiting out its backoff
    now = timezone.now()
    long_ago = now - timedelta(minutes=settings.MAIL_STALE_MINUTES + 1)
    fresh, lost, held, backing_off = (_queued(key=f"order_refunded:{n}:partial") for n in range(4))
    SentMail.objects.filter(pk__in=[lost.pk, held.pk, backing_off.pk]).update(created_at=long_ago)
    SentMail.objects.filter(pk=held.pk).update(locked_until=now + timedelta(minutes=1))
    SentMail.objects.filter(pk=backing_off.pk).update(next_attempt_at=now + timedelta(minutes=10), attempts=2)

    # when / then
    assert mails_stale(now=now) == [lost.pk]
    assert mails_sweep_task() == 1 and enqueued == [[lost.pk]]
    # Idempotent: sending it and sweeping again finds nothing.
    mails_send(sent_mail_ids=[lost.pk])
    assert mails_stale(now=now) == []
