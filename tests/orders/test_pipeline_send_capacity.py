"""Sending at a provider's capacity: its cap across workers, calls side by side inside it, 429 honoured, and
a dead worker's claim taken for unknown after twice the client timeout."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter

import pytest
from django.db import connections
from django.utils import timezone

from orders.models import Order, Stage
from orders.pipeline import send, send_drain
from orders.tasks import order_send_task
from providers import ordertypes as ot
from providers.client import ProviderClient
from providers.models import Provider
from tests.factories import CustomerFactory
from tests.orders.pipeline_support import (
    ledger_checked_after,  # noqa: F401 - autouse
    ledger_ok,
    place,
    sim_service,
)


@pytest.fixture
def adds_in_flight(monkeypatch):
    record = {"now": 0, "most": 0}
    lock = threading.Lock()
    real = ProviderClient.add

    def add(client, **kwargs):
        with lock:
            record["now"] += 1
            record["most"] = max(record["most"], record["now"])
        try:
            return real(client, **kwargs)
        finally:
            with lock:
                record["now"] -= 1

    monkeypatch.setattr(ProviderClient, "add", add)
    return record


def _paid(simulator, provider, n: int) -> list[int]:
    customer = CustomerFactory(funds="1000")
    service = sim_service(simulator, provider, ot.DEFAULT)
    return [place(customer, service, link=f"https://x.test/{i}", quantity=service.min).pk for i in range(n)]


@pytest.mark.django_db
def test_a_claim_becomes_unknown_after_twice_the_client_timeout(simulator, simulator_provider, settings):
    # given: a provider whose client times out after 5 s; a worker claimed an order at t0 and died
    settings.PIPELINE_SENDING_STALE_SECONDS = 600
    (order_id,) = _paid(simulator, simulator_provider, 1)
    t0 = timezone.now()
    assert send.order_claim_for_sending(order_id=order_id, now=t0)

    # when / then: still the worker's at 2 × 5 s less a moment, unknown just after
    assert send.orders_sweep_stale_sending(now=t0 + dt.timedelta(seconds=9.9)) == 0
    assert Order.objects.get(pk=order_id).stage == Stage.SENDING
    assert send.orders_sweep_stale_sending(now=t0 + dt.timedelta(seconds=10.1)) == 1
    assert Order.objects.get(pk=order_id).stage == Stage.UNKNOWN


@pytest.mark.django_db
def test_the_stale_setting_is_a_ceiling_for_slow_providers(simulator, simulator_provider, settings):
    settings.PIPELINE_SENDING_STALE_SECONDS = 240
    Provider.objects.filter(pk=simulator_provider.pk).update(timeout_seconds=300)
    (order_id,) = _paid(simulator, simulator_provider, 1)
    t0 = timezone.now()
    assert send.order_claim_for_sending(order_id=order_id, now=t0)
    assert send.orders_sweep_stale_sending(now=t0 + dt.timedelta(seconds=239)) == 0
    assert send.orders_sweep_stale_sending(now=t0 + dt.timedelta(seconds=241)) == 1


@pytest.fixture
def _no_broker(monkeypatch):
    # Orders here are sent by the test itself; the task queued at commit would need a broker.
    monkeypatch.setattr("orders.services._enqueue_send", lambda order_id: None)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_no_broker")
def test_one_task_sends_the_providers_due_orders_side_by_side_within_its_cap(simulator, simulator_provider,
                                                                          adds_in_flight):
    # given: 40 paid orders, a provider that takes 4 calls at once, answering in 150 ms
    Provider.objects.filter(pk=simulator_provider.pk).update(send_concurrency=4)
    simulator.config.set(latency_ms=150)
    ids = _paid(simulator, simulator_provider, 40)

    # when: the first order's task runs
    outcome = order_send_task(ids[0])

    # then: all sent, once each, side by side but never more than four at a time
    assert outcome == send.SENT
    assert Order.objects.filter(pk__in=ids, stage=Stage.SENT).count() == 40
    assert len(simulator.accepted_adds) == 40
    assert 2 <= adds_in_flight["most"] <= 4
    ledger_ok()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_no_broker")
def test_two_workers_draining_one_provider_stay_within_its_cap_together(simulator, simulator_provider,
                                                                      adds_in_flight):
    # given: 60 paid orders and a cap of 5; two workers with 5 threads each
    Provider.objects.filter(pk=simulator_provider.pk).update(send_concurrency=5)
    simulator.config.set(latency_ms=30)
    ids = _paid(simulator, simulator_provider, 60)
    outcomes: list[Counter] = []

    def worker():
        try:
            outcomes.append(send_drain.provider_send_due(provider_id=simulator_provider.pk, threads=5))
        finally:
            connections.close_all()

    # when
    workers = [threading.Thread(target=worker) for _ in range(2)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=120)

    # then: never more than 5 calls at once between them, each order sent once
    assert adds_in_flight["most"] <= 5
    assert sum(c[send.SENT] for c in outcomes) == 60
    assert len(simulator.accepted_adds) == 60
    assert Order.objects.filter(pk__in=ids, stage=Stage.SENT).count() == 60
    ledger_ok()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_no_broker")
def test_a_429_stops_the_drain_and_pauses_the_provider(simulator, simulator_provider):
    # given: the upstream answers every call with 429 and Retry-After
    simulator.config.set(rate_limit_share=1.0, retry_after="30")
    ids = _paid(simulator, simulator_provider, 30)

    # when
    outcomes = send_drain.provider_send_due(provider_id=simulator_provider.pk, threads=4)

    # then: a few calls at most (those already on their way), nothing accepted, every order still paid
    assert outcomes[send.RETRY] <= 4 and outcomes[send.SENT] == 0
    assert simulator.accepted_adds == []
    assert Order.objects.filter(pk__in=ids, stage=Stage.PAID).count() == 30
    assert Provider.objects.get(pk=simulator_provider.pk).retry_after_until > timezone.now()
    ledger_ok()
