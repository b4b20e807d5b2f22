"""The thin tasks: what they call, where they are routed, what beat runs."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.utils import timezone

from orders import tasks
from orders.models import Order, Stage
from panel.celery import app
from providers import ordertypes as ot
from tests.factories import CustomerFactory
from tests.orders.pipeline_support import (
    ledger_checked_after,  # noqa: F401 - autouse
    place,
    sim_service,
)

pytestmark = pytest.mark.django_db


def test_placing_an_order_queues_its_send_after_commit(simulator, simulator_provider,
                                                       django_capture_on_commit_callbacks, monkeypatch):
    queued: list[int] = []
    monkeypatch.setattr(tasks.order_send_task, "delay", queued.append)
    service = sim_service(simulator, simulator_provider, ot.DEFAULT)
    with django_capture_on_commit_callbacks(execute=True):
        order = place(CustomerFactory(funds="10"), service, link="https://x.test/a", quantity=service.min)
    assert queued == [order.pk]

    # the task itself, run by a worker
    assert tasks.order_send_task(order.pk) == "sent"
    assert tasks.order_send_task(order.pk) == "not_claimed"
    assert len(simulator.accepted_adds) == 1


def test_sweeper_queues_due_orders_and_moves_stale_claims_to_unknown(simulator, simulator_provider, monkeypatch):
    queued: list[int] = []
    monkeypatch.setattr(tasks.order_send_task, "delay", queued.append)
    service = sim_service(simulator, simulator_provider, ot.DEFAULT)
    customer = CustomerFactory(funds="10")
    old = place(customer, service, link="https://x.test/a", quantity=service.min)
    fresh = place(customer, service, link="https://x.test/b", quantity=service.min)
    stale = place(customer, service, link="https://x.test/c", quantity=service.min)
    long_ago = timezone.now() - dt.timedelta(hours=2)
    Order.objects.filter(pk=old.pk).update(created_at=long_ago)
    Order.objects.filter(pk=stale.pk).update(stage=Stage.SENDING, sending_started_at=long_ago, created_at=long_ago)

    result = tasks.orders_send_sweep_task()

    assert queued == [old.pk]  # the fresh one has its own task from creation
    assert result == {"stale_to_unknown": 1, "queued": 1}
    assert Order.objects.get(pk=stale.pk).stage == Stage.UNKNOWN
    assert Order.objects.get(pk=fresh.pk).stage == Stage.PAID


def test_dispatch_queues_one_task_per_ready_provider(simulator_provider, monkeypatch):
    queued: list[int] = []
    monkeypatch.setattr(tasks.provider_orders_poll_task, "delay", queued.append)
    assert tasks.providers_dispatch_task("orders_poll") == 1
    assert queued == [simulator_provider.pk]


def test_provider_tasks_run_against_the_simulator(simulator, simulator_provider):
    assert tasks.provider_orders_poll_task(simulator_provider.pk)["batches"] == 0
    assert tasks.provider_balance_check_task(simulator_provider.pk) is not None
    for task in (tasks.provider_refills_send_task, tasks.provider_refills_poll_task,
                 tasks.provider_cancels_send_task, tasks.provider_cancels_poll_task):
        assert task(simulator_provider.pk) == 0


def test_send_and_poll_go_to_their_own_queues():
    def queue(name):
        return app.amqp.router.route({}, name)["queue"].name

    assert queue("orders.tasks.order_send_task") == "send"
    assert queue("orders.tasks.orders_send_sweep_task") == "send"
    assert queue("orders.tasks.provider_orders_poll_task") == "poll"
    assert queue("orders.tasks.providers_dispatch_task") == "poll"


def test_beat_runs_every_pipeline_job():
    scheduled = {(e["task"], tuple(e.get("args", ()))) for e in settings.CELERY_BEAT_SCHEDULE.values()}
    assert ("orders.tasks.orders_send_sweep_task", ()) in scheduled
    for job in tasks.PROVIDER_JOBS:
        assert ("orders.tasks.providers_dispatch_task", (job,)) in scheduled
    for task_name, _ in scheduled:
        if task_name.startswith("orders."):
            assert task_name in app.tasks
