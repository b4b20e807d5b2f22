"""Refills and cancels against the simulator: sent and polled in batches, refunds through order polling."""

from __future__ import annotations

import pytest

from accounts.models import LedgerEntry
from orders.models import CancelRequest, Order, Refill, RequestStage, Stage, Status
from orders.pipeline import requests
from orders.pipeline.cycle import pipeline_cycle
from orders.services import cancels_request, refills_request
from providers import ordertypes as ot
from providers.pricing import charge_for as price_for
from tests.factories import CustomerFactory
from tests.orders.pipeline_support import (
    cycle_until,
    ledger_checked_after,  # noqa: F401 - autouse
    ledger_ok,
    place,
    sim_service,
)

pytestmark = pytest.mark.django_db


def _completed_orders(simulator, provider, n: int):
    simulator.config.set(partial_share=0, canceled_share=0, refill_rejected_share=0)
    customer = CustomerFactory(funds="1000")
    service = sim_service(simulator, provider, ot.DEFAULT, refill=True)
    orders = [place(customer, service, link=f"https://x.test/{i}", quantity=service.min) for i in range(n)]
    cycle_until(simulator, [o.pk for o in orders], step=900)
    return customer, orders


def test_refills_are_sent_in_one_batch_and_polled_until_final(simulator, simulator_provider):
    # given: three completed orders with refill requested
    customer, orders = _completed_orders(simulator, simulator_provider, 3)
    results = refills_request(customer=customer, order_ids=[o.pk for o in orders])
    assert all(isinstance(r, Refill) for r in results.values())
    before = simulator.request_counts["refill"] + simulator.request_counts["refills"]

    # when
    sent = requests.refills_send(provider_id=simulator_provider.pk)

    # then: one upstream request for the three
    assert sent.sent == 3 and sent.batches == 1
    assert simulator.request_counts["refill"] + simulator.request_counts["refills"] - before == 1
    assert Refill.objects.filter(stage=RequestStage.SENT).exclude(upstream_id="").count() == 3

    # when: time passes and the refills are polled
    for _ in range(5):
        simulator.advance(600)
        pipeline_cycle()

    # then
    assert set(Refill.objects.values_list("stage", "status")) == {(RequestStage.FINAL, Refill.Status.COMPLETED)}
    ledger_ok()


def test_cancel_sent_then_order_canceled_refunds_once_and_closes_request(simulator, simulator_provider):
    # given: an order not started upstream, and a cancel asked for it
    simulator.config.set(partial_share=0, canceled_share=0, pending_seconds=10_000)
    customer = CustomerFactory(funds="100")
    service = sim_service(simulator, simulator_provider, ot.DEFAULT, cancel=True)
    order = place(customer, service, link="https://x.test/a", quantity=service.min * 3)
    pipeline_cycle()
    (cancel,) = cancels_request(customer=customer, order_ids=[order.pk]).values()
    assert isinstance(cancel, CancelRequest)

    # when
    pipeline_cycle()
    cancel.refresh_from_db()
    assert cancel.stage == RequestStage.SENT
    simulator.advance(120)
    pipeline_cycle()
    pipeline_cycle()

    # then
    order.refresh_from_db()
    cancel.refresh_from_db()
    assert order.status == Status.CANCELED and order.stage == Stage.FINAL
    assert order.refunded == order.charge
    assert LedgerEntry.objects.filter(order=order, kind=LedgerEntry.Kind.REFUND).count() == 1
    assert (cancel.stage, cancel.status) == (RequestStage.FINAL, CancelRequest.Status.COMPLETED)
    ledger_ok()


def test_cancel_ids_are_polled_with_cancel_status(simulator, simulator_provider):
    # given: an upstream that gives cancel ids
    simulator.config.set(cancel_ids=True, partial_share=0, canceled_share=0, pending_seconds=10_000)
    customer = CustomerFactory(funds="100")
    service = sim_service(simulator, simulator_provider, ot.DEFAULT, cancel=True)
    order = place(customer, service, link="https://x.test/a", quantity=service.min * 3)
    pipeline_cycle()
    cancels_request(customer=customer, order_ids=[order.pk])

    # when
    requests.cancels_send(provider_id=simulator_provider.pk)
    simulator.advance(120)
    polled = requests.cancels_poll(provider_id=simulator_provider.pk)

    # then
    cancel = CancelRequest.objects.get(order=order)
    assert cancel.upstream_id and polled.batches == 1
    assert (cancel.stage, cancel.status) == (RequestStage.FINAL, CancelRequest.Status.COMPLETED)
    pipeline_cycle()
    order.refresh_from_db()
    assert order.status == Status.CANCELED and order.refunded == order.charge
    ledger_ok()


def test_cancel_refused_upstream_is_rejected(simulator, simulator_provider):
    # given: the order finished upstream before the cancel reached it
    simulator.config.set(partial_share=0, canceled_share=0)
    customer = CustomerFactory(funds="100")
    service = sim_service(simulator, simulator_provider, ot.DEFAULT, cancel=True)
    order = place(customer, service, link="https://x.test/a", quantity=service.min)
    pipeline_cycle()
    cancels_request(customer=customer, order_ids=[order.pk])
    order.refresh_from_db()
    simulator.force(order.upstream_id, status="Completed")

    # when
    requests.cancels_send(provider_id=simulator_provider.pk)

    # then
    cancel = CancelRequest.objects.get(order=order)
    assert (cancel.stage, cancel.status) == (RequestStage.FAILED, CancelRequest.Status.REJECTED) and cancel.error
    pipeline_cycle()
    assert Order.objects.get(pk=order.pk).refunded == 0
    ledger_ok()


def test_cancel_of_an_order_under_way_ends_partial_with_exact_refund(simulator, simulator_provider):
    # given: an order half delivered when the cancel lands
    simulator.config.set(partial_share=0, canceled_share=0, pending_seconds=1, order_seconds=1000)
    customer = CustomerFactory(funds="100")
    service = sim_service(simulator, simulator_provider, ot.DEFAULT, cancel=True, rate="1.77777")
    order = place(customer, service, link="https://x.test/a", quantity=service.min * 50)
    pipeline_cycle()
    cancels_request(customer=customer, order_ids=[order.pk])

    # when
    simulator.advance(400)
    pipeline_cycle()
    simulator.advance(400)
    pipeline_cycle()
    pipeline_cycle()

    # then: Partial, the undelivered part refunded to the last decimal, the cancel done
    order.refresh_from_db()
    assert order.status == Status.PARTIAL and 0 < order.remains < order.quantity
    assert order.refunded == price_for(rate=order.rate, units=order.remains)
    assert CancelRequest.objects.get(order=order).status == CancelRequest.Status.COMPLETED
    ledger_ok()
