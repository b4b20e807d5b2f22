"""Races on PostgreSQL: workers delivering one event at once send it once; customers adding URLs at once get
three at most; two collections at once make each event once."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.utils import timezone

from orders.models import Status
from tests.factories import CustomerFactory
from tests.webhooks.support import history, sent_order
from webhooks.delivery import event_deliver
from webhooks.events import events_collect
from webhooks.models import WebhookEndpoint, WebhookEvent
from webhooks.services import WebhookLimitReached, endpoint_create

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _at_once(count: int, work) -> list:
    start = threading.Barrier(count)
    results: list = []
    lock = threading.Lock()

    def run():
        try:
            start.wait()
            result = work()
        except Exception as exc:  # noqa: BLE001 - the test looks at what each thread met
            result = exc
        finally:
            connection.close()
        with lock:
            results.append(result)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_eight_workers_on_one_event_send_it_once(reseller, endpoint, receiver):
    history(sent_order(reseller), Status.COMPLETED, remains=0)
    events_collect()
    event = WebhookEvent.objects.get()
    now = timezone.now()

    outcomes = _at_once(8, lambda: event_deliver(event_id=event.pk, now=now))

    assert sorted(outcomes) == ["delivered"] + ["not due"] * 7
    assert len(receiver.requests) == 1 and receiver.all_verified


def test_six_urls_added_at_once_leave_three():
    customer = CustomerFactory()
    urls = iter(f"https://hooks.example.com/{n}" for n in range(6))
    lock = threading.Lock()

    def add():
        with lock:
            url = next(urls)
        return endpoint_create(customer=customer, url=url)

    outcomes = _at_once(6, add)

    assert sum(isinstance(o, WebhookEndpoint) for o in outcomes) == 3
    assert sum(isinstance(o, WebhookLimitReached) for o in outcomes) == 3
    assert sorted(WebhookEndpoint.objects.filter(customer=customer).values_list("slot", flat=True)) == [1, 2, 3]


def test_collections_at_once_make_each_event_once(reseller, endpoint):
    for _ in range(30):
        history(sent_order(reseller), Status.COMPLETED, remains=0)

    _at_once(4, events_collect)

    assert WebhookEvent.objects.count() == 30
