"""End to end: orders placed and moved on by the real pipeline against the upstream simulator; the reseller's
receiver gets every change of every order, in order, signed, and the last one says what `status` says."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from orders.models import OrderStatusChange
from providers import ordertypes as ot
from tests.orders.pipeline_support import (
    cycle_until,
    ledger_checked_after,  # noqa: F401 - autouse
    place,
    sim_service,
)
from tests.webhooks.support import deliver_due
from webhooks.events import events_collect
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db


def test_the_receiver_hears_every_change_the_pipeline_makes(simulator, simulator_provider, reseller, endpoint,
                                                           receiver, client, django_capture_on_commit_callbacks):
    # given: three orders, moved by the pipeline until final, with a collection after each few cycles
    service = sim_service(simulator, simulator_provider, ot.DEFAULT)
    with django_capture_on_commit_callbacks(execute=False):
        orders = [place(reseller, service, link=f"https://x.test/{n}", quantity=service.min * 40) for n in range(3)]
    ids = [order.pk for order in orders]
    cycle_until(simulator, ids)

    # when: the beat's tick collects and delivers (twice: a run that repeats changes nothing)
    events_collect()
    events_collect(now=timezone.now() + timedelta(hours=1))
    outcomes = deliver_due(now=timezone.now())

    # then: one event per history row, each delivered once, signatures valid, order kept per order
    changes = list(OrderStatusChange.objects.filter(order_id__in=ids).order_by("id"))
    assert len(changes) >= 6 and outcomes == ["delivered"] * len(changes)
    assert WebhookEvent.objects.count() == len(changes) == len(receiver.events)
    assert receiver.all_verified
    for order_id in ids:
        assert receiver.order_statuses[order_id] == [c.status for c in changes if c.order_id == order_id]

    # and the last event of each order is the v2 status answer
    key = reseller.raw_api_key
    for order_id in ids:
        last = [e for e in receiver.events.values() if e["order"] == order_id][-1]
        answer = client.post("/api/v2", {"key": key, "action": "status", "order": order_id}).json()
        assert {k: last[k] for k in answer} == answer
