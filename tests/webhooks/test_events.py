"""Order history becomes webhook events: one per active endpoint and history row, a constant number of
queries per batch, nothing missed when history commits out of id order."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders.models import OrderStatusChange, Status
from panel.api.parsing import plain_decimal
from tests.factories import CustomerFactory
from tests.webhooks.support import history, sent_order
from webhooks import tasks
from webhooks.events import events_collect
from webhooks.models import WebhookCursor, WebhookEndpoint, WebhookEvent
from webhooks.services import endpoint_create

pytestmark = pytest.mark.django_db


def test_each_change_becomes_one_event_per_active_endpoint(reseller, endpoint):
    # given: a second URL of the same customer, a disabled third, and another customer's order
    second = endpoint_create(customer=reseller, url="https://hooks.example.com/b")
    off = endpoint_create(customer=reseller, url="https://hooks.example.com/off")
    WebhookEndpoint.objects.filter(pk=off.pk).update(is_active=False)
    order = sent_order(reseller)
    stranger = sent_order(CustomerFactory())
    history(order, Status.IN_PROGRESS, remains=600, start_count=100)
    history(order, Status.COMPLETED, remains=0, start_count=100)
    history(stranger, Status.COMPLETED, remains=0)

    # when: collected twice (two beat ticks, or two workers at once)
    made = events_collect()
    again = events_collect()

    # then
    assert made == 4 and again == 0
    events = WebhookEvent.objects.order_by("id")
    assert {(e.endpoint_id, e.order_id) for e in events} == {(endpoint.pk, order.pk), (second.pk, order.pk)}
    assert [e.kind for e in events] == ["order.updated"] * 4
    assert all(e.state == WebhookEvent.State.PENDING and e.next_attempt_at for e in events)


def test_the_payload_is_the_status_answer_of_the_order(reseller, endpoint, settings):
    order = sent_order(reseller, quantity=1000)
    change = history(order, Status.IN_PROGRESS, remains=157, start_count=3572)

    events_collect()

    event = WebhookEvent.objects.get()
    assert json.loads(event.body) == {
        "event": "order.updated", "event_id": event.event_id, "created": change.at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "order": order.pk, "status": "In progress", "charge": plain_decimal(order.charge), "start_count": "3572",
        "remains": "157", "currency": settings.PANEL_CURRENCY,
    }


def test_history_from_before_the_url_was_added_is_not_sent(reseller):
    order = sent_order(reseller)
    history(order, Status.IN_PROGRESS, remains=10)
    endpoint_create(customer=reseller, url="https://hooks.example.com/late", now=timezone.now() + timedelta(seconds=1))

    assert events_collect() == 0
    assert not WebhookEvent.objects.exists()


def test_queries_per_batch_do_not_grow_with_orders_or_endpoints(reseller, endpoint):
    endpoint_create(customer=reseller, url="https://hooks.example.com/b")
    events_collect()  # the first run ever also makes the cursor's row

    def collect_queries(orders: int) -> int:
        for _ in range(orders):
            history(sent_order(reseller), Status.COMPLETED, remains=0)
        with CaptureQueriesContext(connection) as queries:
            events_collect(now=timezone.now() + timedelta(hours=1))
        return len(queries)

    # (30 orders: 60 events fit one INSERT even on SQLite, which splits statements past ~1000 parameters)
    few, many = collect_queries(2), collect_queries(30)
    assert few == many
    assert WebhookEvent.objects.count() == 64


def test_batches_cost_a_fixed_number_of_queries_each(reseller, endpoint):
    for _ in range(9):
        history(sent_order(reseller), Status.COMPLETED, remains=0)

    with CaptureQueriesContext(connection) as three_batches:
        events_collect(now=timezone.now() + timedelta(hours=1), batch_size=4)  # 4 + 4 + 1 rows
    assert WebhookEvent.objects.count() == 9
    # the cursor (made on the first run), the head, the settle check and the cursor's update; then per batch the
    # rows, their endpoints, the events already made and one insert (in a savepoint on some databases)
    assert len(three_batches) <= 5 + 3 * 6


def test_a_row_that_commits_after_a_higher_id_is_not_missed(reseller, endpoint):
    # given: a run saw a row while a lower id was still uncommitted (two pollers committing out of order)
    order = sent_order(reseller)
    top = OrderStatusChange.objects.create(order=order, status=Status.PENDING).id
    OrderStatusChange.objects.create(id=top + 10, order=order, status=Status.IN_PROGRESS, remains=50)
    events_collect()

    # when: the lower id becomes visible after that run
    OrderStatusChange.objects.create(id=top + 5, order=order, status=Status.IN_PROGRESS, remains=80)
    events_collect()

    # then: it still becomes an event, since the cursor waits behind rows younger than the settle time
    assert set(WebhookEvent.objects.values_list("history_id", flat=True)) == {top, top + 5, top + 10}


def test_the_cursor_passes_rows_once_they_are_settled(reseller, endpoint):
    order = sent_order(reseller)
    change = history(order, Status.COMPLETED, remains=0)

    events_collect()
    assert WebhookCursor.objects.get().last_history_id < change.id  # young: read again next time

    events_collect(now=timezone.now() + timedelta(minutes=10))
    assert WebhookCursor.objects.get().last_history_id == change.id
    assert WebhookEvent.objects.count() == 1


def test_the_tick_collects_and_queues_due_events_after_commit(reseller, endpoint, monkeypatch,
                                                              django_capture_on_commit_callbacks):
    queued: list[int] = []
    monkeypatch.setattr(tasks.webhook_deliver_task, "delay", queued.append)
    history(sent_order(reseller), Status.COMPLETED, remains=0)

    with django_capture_on_commit_callbacks(execute=True):
        result = tasks.webhooks_tick_task()

    assert result == {"events": 1, "queued": 1}
    assert queued == [WebhookEvent.objects.get().pk]


def test_beat_runs_the_tick_often():
    from django.conf import settings

    from panel.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["webhooks-tick"]
    assert entry["task"] == "webhooks.tasks.webhooks_tick_task" and entry["task"] in app.tasks
    assert entry["schedule"] <= timedelta(seconds=10)
    assert "webhooks.tasks.webhook_deliver_task" in app.tasks
