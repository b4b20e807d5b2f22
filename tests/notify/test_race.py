"""Two workers on the same mails, on PostgreSQL: each mail reaches the SMTP server once."""

from __future__ import annotations

import asyncio
import threading

import pytest
from django.db import connection

from notify.models import SentMail
from notify.sending import mails_send
from notify.services import notify_customers
from tests.factories import CustomerFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _in_thread(target, results: list, barrier: threading.Barrier) -> threading.Thread:
    def run():
        try:
            barrier.wait()
            results.append(target())
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_two_workers_sending_the_same_batch_send_each_mail_once(smtp_server):
    # given: five queued mails, and an SMTP server slow enough for the two workers to overlap
    customers = [CustomerFactory() for _ in range(5)]
    notify_customers(kind="refill_rejected", items=[
        (f"refill_rejected:{c.pk}", c.pk, {"order_id": 1, "refill_id": c.pk, "reason": ""}) for c in customers])
    ids = list(SentMail.objects.values_list("id", flat=True))
    accept = smtp_server.handle_DATA

    async def slow(server, session, envelope):
        await asyncio.sleep(0.2)
        return await accept(server, session, envelope)

    smtp_server.handle_DATA = slow

    # when: two workers get the same ids at the same moment (a duplicate message, the sweep)
    results: list = []
    barrier = threading.Barrier(2)
    threads = [_in_thread(lambda: mails_send(sent_mail_ids=ids), results, barrier) for _ in range(2)]
    for thread in threads:
        thread.join(timeout=30)

    # then: every mail went out once, sent by one worker or the other
    assert sorted(pk for result in results for pk in result.sent) == sorted(ids)
    assert len(smtp_server.envelopes) == 5
    assert set(SentMail.objects.values_list("state", flat=True)) == {SentMail.State.SENT}


def test_two_transactions_reporting_one_event_make_one_row():
    customer = CustomerFactory()
    item = [("refill_rejected:77", customer.pk, {"order_id": 1, "refill_id": 77, "reason": ""})]
    results: list = []
    barrier = threading.Barrier(2)
    threads = [_in_thread(lambda: notify_customers(kind="refill_rejected", items=item), results, barrier)
               for _ in range(2)]
    for thread in threads:
        thread.join(timeout=30)
    assert SentMail.objects.filter(event_key="refill_rejected:77").count() == 1
