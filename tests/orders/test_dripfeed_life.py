"""Drip-feed orders live against the simulator: runs sent and tracked, part-way ends refunded exactly."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.models import LedgerEntry
from orders.models import CancelRequest, Status
from orders.pipeline.cycle import pipeline_cycle
from orders.services import cancels_request
from providers import ordertypes as ot
from tests.factories import CustomerFactory
from tests.orders.pipeline_support import (
    cycle_until,
    ledger_checked_after,  # noqa: F401 - autouse
    ledger_ok,
    place,
)
from tests.orders.sim_services import own_sim_service

pytestmark = pytest.mark.django_db

RUN = 600  # interval of 10 minutes, in simulated seconds


def _dripfeed_service(simulator, provider, *, cancel: bool = True):
    return own_sim_service(simulator, provider, ot.DEFAULT, rate="2.00", cancel=cancel, dripfeed=True)


def _balance(customer) -> Decimal:
    customer.refresh_from_db()
    return customer.balance


def test_dripfeed_is_charged_for_every_run_sent_with_runs_and_completes(simulator, simulator_provider):
    # given: 3 runs of 100 at 2.00 per 1000, at an upstream that lists each run's own order
    simulator.config.set(dripfeed_child_orders=True)
    customer = CustomerFactory(funds="10")
    order = place(customer, _dripfeed_service(simulator, simulator_provider), link="https://x.test/p",
                  quantity=100, runs=3, interval=10)
    assert order.charge == Decimal("0.6") and _balance(customer) == Decimal("9.4")

    # when: one run started
    pipeline_cycle()
    simulator.advance(60)
    pipeline_cycle()

    # then: sent with runs and interval; one run and one child order reported
    order.refresh_from_db()
    fields = simulator.accepted_adds[0]["fields"]
    assert (fields["quantity"], fields["runs"], fields["interval"]) == ("100", "3", "10")
    assert (order.status, order.runs_done, order.remains) == (Status.IN_PROGRESS, 1, 200)
    assert len(order.child_orders.split(",")) == 1

    # when
    cycle_until(simulator, [order.pk], step=RUN)

    # then: all runs done, every child listed, nothing refunded
    order.refresh_from_db()
    assert (order.status, order.runs_done, order.remains) == (Status.COMPLETED, 3, 0)
    assert order.child_orders.split(",") == simulator.order(order.upstream_id).child_ids
    assert order.refunded == 0 and _balance(customer) == Decimal("9.4")
    ledger_ok()


def test_dripfeed_canceled_after_one_run_refunds_exactly_the_runs_not_delivered(simulator, simulator_provider):
    # given: the first of 3 runs delivered
    customer = CustomerFactory(funds="10")
    order = place(customer, _dripfeed_service(simulator, simulator_provider), link="https://x.test/p",
                  quantity=100, runs=3, interval=10)
    pipeline_cycle()
    simulator.advance(100)
    pipeline_cycle()

    # when: canceled part way
    result = cancels_request(customer=customer, order_ids=[order.pk])[order.pk]
    assert isinstance(result, CancelRequest)
    cycle_until(simulator, [order.pk], step=120)

    # then: Partial with 2 runs (200) not delivered, refunded at the price paid
    order.refresh_from_db()
    assert (order.status, order.runs_done, order.remains) == (Status.PARTIAL, 1, 200)
    assert order.refunded == Decimal("0.4")
    assert _balance(customer) == Decimal("9.8")
    assert LedgerEntry.objects.filter(order=order, cause=LedgerEntry.Cause.PARTIAL).count() == 1
    result.refresh_from_db()
    assert result.status == CancelRequest.Status.COMPLETED
    ledger_ok()


def test_dripfeed_partial_upstream_refunds_the_remains(simulator, simulator_provider):
    # given
    customer = CustomerFactory(funds="10")
    order = place(customer, _dripfeed_service(simulator, simulator_provider), link="https://x.test/p",
                  quantity=100, runs=4, interval=10)
    pipeline_cycle()
    order.refresh_from_db()

    # when: the upstream ends it Partial with 157 of the 400 not delivered
    simulator.force(order.upstream_id, status="Partial", remains=157)
    pipeline_cycle()

    # then: 157 units at 2.00 per 1000 refunded
    order.refresh_from_db()
    assert (order.status, order.remains) == (Status.PARTIAL, 157)
    assert order.refunded == Decimal("0.314")
    assert _balance(customer) == Decimal("10") - Decimal("0.8") + Decimal("0.314")
    ledger_ok()


def test_dripfeed_canceled_upstream_refunds_everything(simulator, simulator_provider):
    # given
    customer = CustomerFactory(funds="10")
    order = place(customer, _dripfeed_service(simulator, simulator_provider), link="https://x.test/p",
                  quantity=100, runs=3, interval=10)
    pipeline_cycle()

    # when
    order.refresh_from_db()
    simulator.force(order.upstream_id, status="Canceled")
    pipeline_cycle()

    # then
    order.refresh_from_db()
    assert order.status == Status.CANCELED and order.refunded == Decimal("0.6")
    assert _balance(customer) == Decimal("10")
    ledger_ok()


def test_dripfeed_cancel_is_refused_where_the_service_does_not_allow_it(simulator, simulator_provider):
    # given
    customer = CustomerFactory(funds="10")
    order = place(customer, _dripfeed_service(simulator, simulator_provider, cancel=False),
                  link="https://x.test/p", quantity=100, runs=3, interval=10)
    pipeline_cycle()

    # when
    result = cancels_request(customer=customer, order_ids=[order.pk])[order.pk]

    # then
    assert result == "Cancel is not available for this service"
    assert not CancelRequest.objects.filter(order=order).exists()
    assert _balance(customer) == Decimal("9.4")
