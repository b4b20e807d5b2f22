"""Whole lives of orders against the simulator: placed, sent, polled until final, refunded exactly."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from accounts.models import LedgerEntry
from orders.models import Order, OrderStatusChange, Stage, Status
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


def test_orders_of_several_types_live_until_final(simulator, simulator_provider):
    # given: one order of each of several types at the simulator
    simulator.config.set(partial_share=0, canceled_share=0)
    customer = CustomerFactory(funds="500")
    p = simulator_provider
    orders = [
        place(customer, sim_service(simulator, p, ot.DEFAULT), link="https://x.test/a", quantity=100),
        place(customer, sim_service(simulator, p, ot.DEFAULT, dripfeed=True), link="https://x.test/b",
              quantity=50, runs=3, interval=10),
        place(customer, sim_service(simulator, p, ot.CUSTOM_COMMENTS), link="https://x.test/c",
              comments="nice\ngreat\nwow"),
        place(customer, sim_service(simulator, p, ot.PACKAGE), link="https://x.test/d"),
        place(customer, sim_service(simulator, p, ot.MENTIONS_WITH_HASHTAGS), link="https://x.test/e",
              quantity=100, usernames="ann\nbob", hashtags="#one\n#two"),
        place(customer, sim_service(simulator, p, ot.POLL), link="https://x.test/f", quantity=100, answer_number="2"),
    ]
    ids = [o.pk for o in orders]

    # when: cycles run while simulated time passes
    cycle_until(simulator, ids, step=600, max_cycles=100)

    # then: all completed, each sent once with its type's fields, history recorded, nothing refunded
    assert len(simulator.accepted_adds) == len(orders)
    by_upstream = {a["order"]: a for a in simulator.accepted_adds}
    for order in Order.objects.filter(pk__in=ids):
        assert order.status == Status.COMPLETED
        assert order.settled_at is not None and order.refunded == 0
        assert order.upstream_charge is not None
        assert OrderStatusChange.objects.filter(order=order, status=Status.COMPLETED).exists()
    comments = Order.objects.get(pk=orders[2].pk)
    assert by_upstream[comments.upstream_id]["fields"]["comments"] == "nice\ngreat\nwow"
    assert "quantity" not in by_upstream[comments.upstream_id]["fields"]
    drip = Order.objects.get(pk=orders[1].pk)
    assert by_upstream[drip.upstream_id]["fields"]["runs"] == "3"
    assert drip.runs_done == 3
    ledger_ok()


def test_subscription_fields_are_sent_and_expiry_as_day_month_year(simulator, simulator_provider):
    # given
    customer = CustomerFactory(funds="500")
    service = sim_service(simulator, simulator_provider, ot.SUBSCRIPTIONS)
    expiry = (dt.date.today() + dt.timedelta(days=40)).strftime("%d/%m/%Y")
    order = place(customer, service, username="someone", min=service.min, max=service.min + 10, posts=2,
                  delay=30, expiry=expiry)

    # when
    from orders.pipeline.cycle import pipeline_cycle
    pipeline_cycle()

    # then
    order.refresh_from_db()
    assert order.stage == Stage.SENT
    fields = simulator.accepted_adds[0]["fields"]
    assert fields["username"] == "someone" and fields["posts"] == "2" and fields["delay"] == "30"
    assert fields["expiry"] == expiry
    ledger_ok()


def test_partial_and_canceled_refund_exactly_once(simulator, simulator_provider):
    # given: two orders with odd prices, one forced Partial and one Canceled upstream
    customer = CustomerFactory(funds="100")
    service = sim_service(simulator, simulator_provider, ot.DEFAULT, rate="1.23457")
    partial = place(customer, service, link="https://x.test/p", quantity=1111)
    canceled = place(customer, service, link="https://x.test/c", quantity=777)
    from orders.pipeline.cycle import pipeline_cycle
    pipeline_cycle()
    partial.refresh_from_db()
    canceled.refresh_from_db()
    simulator.force(partial.upstream_id, status="Partial", remains=333)
    simulator.force(canceled.upstream_id, status="Canceled")

    # when: polled, and polled again
    pipeline_cycle()
    pipeline_cycle()

    # then
    partial.refresh_from_db()
    canceled.refresh_from_db()
    assert (partial.status, partial.stage, partial.remains) == (Status.PARTIAL, Stage.FINAL, 333)
    assert partial.refunded == price_for(rate=partial.rate, units=333) == Decimal("0.41111")
    assert canceled.status == Status.CANCELED and canceled.refunded == canceled.charge
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFUND).count() == 2
    customer.refresh_from_db()
    assert customer.balance == Decimal("100") - partial.charge + partial.refunded
    ledger_ok()
