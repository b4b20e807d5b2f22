"""Two workers at once on PostgreSQL: one upstream order per claim, one refund per order and cause."""

from __future__ import annotations

import threading

import pytest
from django.db import connections

from accounts.models import LedgerEntry
from orders.models import Order, OrderStatusChange, Stage, Status
from orders.pipeline import poll, send
from orders.pipeline.settle import orders_settle
from providers import ordertypes as ot
from providers.client import OrderStatus
from providers.pricing import charge_for as price_for
from tests.factories import CustomerFactory
from tests.orders.pipeline_support import (
    ledger_checked_after,  # noqa: F401 - autouse
    ledger_ok,
    place,
    sim_service,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):
    # Orders here are sent by the test itself; the task queued at commit would need a broker.
    monkeypatch.setattr("orders.services._enqueue_send", lambda order_id: None)


def _together(target, *args_per_thread):
    """Run `target` in one thread per argument tuple, released at the same instant."""
    barrier = threading.Barrier(len(args_per_thread))
    errors: list[BaseException] = []
    results: list[object] = [None] * len(args_per_thread)

    def run(index, args):
        try:
            barrier.wait()
            results[index] = target(*args)
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(args_per_thread)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return results


def _sent_orders(simulator, provider, n):
    simulator.config.set(partial_share=0, canceled_share=0)
    customer = CustomerFactory(funds="100000")
    service = sim_service(simulator, provider, ot.DEFAULT, rate="1.11111")
    orders = [place(customer, service, link=f"https://x.test/{i}", quantity=service.min * 3) for i in range(n)]
    for order in orders:
        assert send.order_send(order_id=order.pk) == send.SENT
    return list(Order.objects.filter(pk__in=[o.pk for o in orders]))


def test_two_workers_claiming_one_order_send_it_once(simulator, simulator_provider):
    customer = CustomerFactory(funds="100")
    service = sim_service(simulator, simulator_provider, ot.DEFAULT)
    order = place(customer, service, link="https://x.test/a", quantity=service.min)

    outcomes = _together(lambda: send.order_send(order_id=order.pk), (), (), (), ())

    assert sorted(outcomes) == sorted([send.SENT, send.NOT_CLAIMED, send.NOT_CLAIMED, send.NOT_CLAIMED])
    assert len(simulator.accepted_adds) == 1


def test_the_same_batch_applied_by_two_workers_refunds_once(simulator, simulator_provider):
    # given: 120 sent orders that the upstream reports Partial
    orders = _sent_orders(simulator, simulator_provider, 120)
    results = {o.pk: OrderStatus(status=Status.PARTIAL, raw_status="Partial", remains=o.quantity // 3)
               for o in orders}

    def apply_and_settle():
        applied = poll.orders_apply_statuses(results=results)
        orders_settle(order_ids=applied.final_ids)
        # A worker that lost the race settles anyway (it may have been restarted): still once.
        orders_settle(order_ids=list(results))
        return applied.final_ids

    # when: two workers apply the same answers at the same instant
    finals = _together(apply_and_settle, (), ())

    # then: one worker moved each order; one refund each, exact; one history row each
    assert sorted(finals[0] + finals[1]) == sorted(results)
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFUND, order__in=orders).count() == 120
    for order in Order.objects.filter(pk__in=results):
        assert order.refunded == price_for(rate=order.rate, units=order.quantity // 3)
    assert OrderStatusChange.objects.filter(order__in=orders, status=Status.PARTIAL).count() == 120
    ledger_ok()


def test_two_pollers_on_one_provider_settle_each_order_once(simulator, simulator_provider):
    # given: 250 sent orders, all Partial or Canceled upstream
    orders = _sent_orders(simulator, simulator_provider, 250)
    for i, order in enumerate(orders):
        if i % 2:
            simulator.force(order.upstream_id, status="Partial", remains=order.quantity // 2)
        else:
            simulator.force(order.upstream_id, status="Canceled")

    # when: two pollers at once
    summaries = _together(lambda: poll.provider_poll(provider_id=simulator_provider.pk), (), ())

    # then: between them every order was polled once and settled once
    assert sum(s.orders for s in summaries) == 250
    assert Order.objects.filter(pk__in=[o.pk for o in orders], stage=Stage.FINAL).count() == 250
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFUND, order__in=orders).count() == 250
    for order in Order.objects.filter(pk__in=[o.pk for o in orders]):
        expected = order.charge if order.status == Status.CANCELED else price_for(rate=order.rate,
                                                                                  units=order.quantity // 2)
        assert order.refunded == expected
    ledger_ok()
