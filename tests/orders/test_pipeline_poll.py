"""Polling statuses: batches of 100, bulk writes, refunds once, attention instead of guesses."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import LedgerEntry
from orders.models import Order, OrderStatusChange, Stage, Status
from orders.pipeline import poll
from orders.pipeline.cycle import pipeline_cycle
from providers import ordertypes as ot
from providers.client import ItemError, OrderStatus
from providers.models import Provider
from providers.pricing import charge_for as price_for
from tests.factories import CustomerFactory
from tests.orders.pipeline_support import (
    ledger_checked_after,  # noqa: F401 - autouse
    ledger_ok,
    place,
    sim_service,
)

pytestmark = pytest.mark.django_db


def _sent_orders(simulator, provider, n: int, *, rate: str = "2.00", quantity: int | None = None) -> list[Order]:
    customer = CustomerFactory(funds="10000")
    service = sim_service(simulator, provider, ot.DEFAULT, rate=rate)
    orders = [place(customer, service, link=f"https://x.test/{i}", quantity=quantity or service.min)
              for i in range(n)]
    Order.objects.filter(pk__in=[o.pk for o in orders]).update(stage=Stage.SENT)
    for i, order in enumerate(orders):
        Order.objects.filter(pk=order.pk).update(upstream_id=f"u{i}")
        order.upstream_id = f"u{i}"
    return orders


# --- Applying answers (no HTTP) ------------------------------------------------------------------------


def test_apply_writes_changes_history_and_final_stage(simulator, simulator_provider):
    # given
    a, b, c = _sent_orders(simulator, simulator_provider, 3, quantity=1000)
    results = {
        a.pk: OrderStatus(status="In progress", raw_status="In progress", start_count=5, remains=400,
                          charge=Decimal("0.9")),
        b.pk: OrderStatus(status="Completed", raw_status="Completed", start_count=7, remains=0),
        c.pk: OrderStatus(status="Partial", raw_status="partial", start_count=1, remains=250),
    }

    # when: applied, then the same answers applied again
    first = poll.orders_apply_statuses(results=results)
    second = poll.orders_apply_statuses(results=results)

    # then
    a.refresh_from_db()
    b.refresh_from_db()
    c.refresh_from_db()
    assert (a.status, a.stage, a.remains, a.start_count, a.upstream_charge) == (
        Status.IN_PROGRESS, Stage.SENT, 400, 5, Decimal("0.9"))
    assert (b.stage, b.status, b.settled_at is not None) == (Stage.FINAL, Status.COMPLETED, True)
    assert (c.stage, c.status, c.settled_at) == (Stage.FINAL, Status.PARTIAL, None)  # refund comes next
    assert sorted(first.final_ids) == sorted([b.pk, c.pk]) and first.changed == 3
    assert second.changed == 0 and second.final_ids == []  # the same answers again change nothing
    assert OrderStatusChange.objects.filter(order__in=[a, b, c]).exclude(note__startswith="Sent").count() == 3


def test_apply_uses_a_fixed_number_of_queries(simulator, simulator_provider):
    # given: two batches of different sizes with changes on every row
    orders = _sent_orders(simulator, simulator_provider, 60)

    def answers(batch, remains):
        return {o.pk: OrderStatus(status="In progress", raw_status="In progress", remains=remains) for o in batch}

    # when
    with CaptureQueriesContext(connection) as small:
        poll.orders_apply_statuses(results=answers(orders[:5], 3))
    with CaptureQueriesContext(connection) as large:
        poll.orders_apply_statuses(results=answers(orders[5:], 3))

    # then
    assert len(small) == len(large)


def test_incorrect_id_three_polls_in_a_row_needs_attention(simulator, simulator_provider, settings):
    settings.PIPELINE_INCORRECT_ID_POLLS = 3
    (order,) = _sent_orders(simulator, simulator_provider, 1)
    for expected in (1, 2):
        poll.orders_apply_statuses(results={order.pk: ItemError("Incorrect order ID")})
        order.refresh_from_db()
        assert (order.incorrect_id_count, order.attention) == (expected, "")
    poll.orders_apply_statuses(results={order.pk: ItemError("Incorrect order ID")})
    order.refresh_from_db()
    assert "Incorrect order ID" in order.attention and order.stage == Stage.SENT and order.refunded == 0


def test_partial_without_remains_is_final_unrefunded_and_needs_attention(simulator, simulator_provider):
    (order,) = _sent_orders(simulator, simulator_provider, 1)
    applied = poll.orders_apply_statuses(results={order.pk: OrderStatus(status="Partial", raw_status="Partial")})
    poll.orders_settle(order_ids=applied.final_ids)
    order.refresh_from_db()
    assert (order.stage, order.status, order.refunded) == (Stage.FINAL, Status.PARTIAL, 0)
    assert "remains" in order.attention


def test_a_good_answer_resets_the_incorrect_id_count(simulator, simulator_provider):
    (order,) = _sent_orders(simulator, simulator_provider, 1)
    poll.orders_apply_statuses(results={order.pk: ItemError("Incorrect order ID")})
    poll.orders_apply_statuses(results={order.pk: OrderStatus(status="Pending", raw_status="Pending")})
    order.refresh_from_db()
    assert order.incorrect_id_count == 0


def test_unknown_status_word_needs_attention_and_changes_nothing(simulator, simulator_provider):
    (order,) = _sent_orders(simulator, simulator_provider, 1)
    poll.orders_apply_statuses(results={order.pk: OrderStatus(status=None, raw_status="Refunded", remains=5)})
    order.refresh_from_db()
    assert order.status == Status.PENDING and order.stage == Stage.SENT
    assert "Refunded" in order.attention and order.upstream_status == "Refunded"
    assert order.refunded == 0


# --- Against the simulator -----------------------------------------------------------------------------


def test_one_status_request_per_hundred_orders(simulator, simulator_provider):
    # given: 250 orders really sent upstream
    customer = CustomerFactory(funds="10000")
    service = sim_service(simulator, simulator_provider, ot.DEFAULT)
    ids = [place(customer, service, link=f"https://x.test/{i}", quantity=service.min).pk for i in range(250)]
    pipeline_cycle()
    assert Order.objects.filter(pk__in=ids, stage=Stage.SENT).count() == 250
    before = simulator.request_counts["status"]

    # when
    summary = poll.provider_poll(provider_id=simulator_provider.pk)

    # then
    assert simulator.request_counts["status"] - before == math.ceil(250 / 100)
    assert (summary.batches, summary.orders) == (3, 250)


def test_partial_refund_is_exact_and_capped(simulator, simulator_provider):
    # given: a drip-feed order at an odd rate, forced Partial
    customer = CustomerFactory(funds="1000")
    service = sim_service(simulator, simulator_provider, ot.DEFAULT, rate="3.33333", dripfeed=True)
    order = place(customer, service, link="https://x.test/d", quantity=service.min, runs=3, interval=5)
    pipeline_cycle()
    order.refresh_from_db()
    simulator.force(order.upstream_id, status="Partial", remains=service.min + 7)

    # when
    pipeline_cycle()
    pipeline_cycle()

    # then
    order.refresh_from_db()
    expected = price_for(rate=Decimal("3.33333"), units=service.min + 7)
    assert order.refunded == expected
    assert LedgerEntry.objects.get(order=order, kind=LedgerEntry.Kind.REFUND).amount == expected
    ledger_ok()


@pytest.mark.parametrize("fault", [{"html_502_share": 1.0}, {"rate_limit_share": 1.0},
                                   {"hang_share": 1.0, "hang_seconds": 3}])
def test_poll_fault_leaves_orders_sent_and_counts_failure(simulator, simulator_provider, fault):
    # given
    customer = CustomerFactory(funds="100")
    service = sim_service(simulator, simulator_provider, ot.DEFAULT)
    order = place(customer, service, link="https://x.test/a", quantity=service.min)
    pipeline_cycle()
    Provider.objects.filter(pk=simulator_provider.pk).update(timeout_seconds=Decimal("0.5"))
    simulator.config.set(**fault)

    # when
    summary = poll.provider_poll(provider_id=simulator_provider.pk)

    # then
    order.refresh_from_db()
    simulator_provider.refresh_from_db()
    assert summary.stopped.startswith("unavailable")
    assert order.stage == Stage.SENT and order.status == Status.PENDING
    assert simulator_provider.consecutive_failures == 1
    if "rate_limit_share" in fault:
        assert simulator_provider.retry_after_until > timezone.now()

    # when: the upstream recovers
    simulator.config.set(html_502_share=0, rate_limit_share=0, hang_share=0)
    Provider.objects.filter(pk=simulator_provider.pk).update(retry_after_until=None)
    simulator.force(order.upstream_id, status="Canceled")
    pipeline_cycle(now=timezone.now() + dt.timedelta(seconds=1))

    # then
    order.refresh_from_db()
    assert order.status == Status.CANCELED and order.refunded == order.charge
    ledger_ok()


@pytest.mark.parametrize("quirks", [
    {"spelling_variants": True},
    {"numbers_as_numbers": True, "non_numeric_ids": True},
    {"remains_style": "unknown"},
    {"remains_style": "negative"},
    {"remains_style": "missing"},
])
def test_answer_quirks_still_complete(simulator, simulator_provider, quirks):
    # given
    simulator.config.set(partial_share=0, canceled_share=0, **quirks)
    customer = CustomerFactory(funds="100")
    service = sim_service(simulator, simulator_provider, ot.DEFAULT)
    order = place(customer, service, link="https://x.test/a", quantity=service.min)

    # when
    for _ in range(10):
        pipeline_cycle()
        simulator.advance(600)

    # then
    order.refresh_from_db()
    assert (order.stage, order.status, order.refunded) == (Stage.FINAL, Status.COMPLETED, 0)
    ledger_ok()


def test_unknown_status_word_from_upstream_needs_attention(simulator, simulator_provider):
    # given: the upstream answers a word no panel uses
    simulator.config.set(status_words={"Canceled": "Frobnicated"})
    customer = CustomerFactory(funds="100")
    service = sim_service(simulator, simulator_provider, ot.DEFAULT)
    order = place(customer, service, link="https://x.test/a", quantity=service.min)
    pipeline_cycle()
    order.refresh_from_db()
    simulator.force(order.upstream_id, status="Canceled")

    # when
    pipeline_cycle()

    # then: not guessed into a refund
    order.refresh_from_db()
    assert order.stage == Stage.SENT and order.refunded == 0
    assert "Frobnicated" in order.attention
    ledger_ok()


def test_upstream_incorrect_id_needs_attention_after_three_polls(simulator, simulator_provider):
    customer = CustomerFactory(funds="100")
    service = sim_service(simulator, simulator_provider, ot.DEFAULT)
    order = place(customer, service, link="https://x.test/a", quantity=service.min)
    pipeline_cycle()
    Order.objects.filter(pk=order.pk).update(upstream_id="404404404")
    for _ in range(3):
        pipeline_cycle()
    order.refresh_from_db()
    assert order.incorrect_id_count == 3 and order.attention and order.stage == Stage.SENT
