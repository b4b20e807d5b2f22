"""Subscriptions live against the simulator: prepaid and per-post money, cancels, expiry, funds running out."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from accounts.models import LedgerEntry
from orders.models import CancelRequest, Order, RequestStage, Stage, Status
from orders.pipeline.cycle import pipeline_cycle
from orders.pipeline.poll import provider_poll
from orders.services import cancels_request
from orders.subscriptions import OUT_OF_FUNDS
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

POST = 600  # simulated seconds between posts at the simulator's default 6 posts an hour
PER_POST = Decimal("0.4")  # max 200 units at 2.00 per 1000


def _subscription_service(simulator, provider):
    return own_sim_service(simulator, provider, ot.SUBSCRIPTIONS, rate="2.00", min=100, max=1000)


def _balance(customer) -> Decimal:
    customer.refresh_from_db()
    return customer.balance


def test_prepaid_subscription_completes_with_old_posts_and_nothing_refunded(simulator, simulator_provider):
    # given: 3 new posts and 1 old one, each paid at max up front
    customer = CustomerFactory(funds="10")
    service = _subscription_service(simulator, simulator_provider)
    order = place(customer, service, username="natgeo", min=100, max=200, posts=3, old_posts=1, delay=0)
    assert order.charge == 4 * PER_POST and _balance(customer) == Decimal("10") - 4 * PER_POST

    # when
    cycle_until(simulator, [order.pk], step=POST)

    # then: all four delivered, nothing owed back
    order.refresh_from_db()
    assert (order.status, order.posts_done) == (Status.COMPLETED, 4)
    assert order.refunded == 0 and order.settled_at is not None
    assert _balance(customer) == Decimal("8.4")
    ledger_ok()


def test_prepaid_subscription_canceled_part_way_refunds_the_posts_not_delivered(simulator, simulator_provider):
    # given: 5 posts paid (2.00), two delivered
    customer = CustomerFactory(funds="10")
    service = _subscription_service(simulator, simulator_provider)
    order = place(customer, service, username="natgeo", min=100, max=200, posts=5, delay=30)
    pipeline_cycle()
    simulator.advance(2 * POST + 100)
    pipeline_cycle()
    order.refresh_from_db()
    assert (order.status, order.posts_done) == (Status.ACTIVE, 2)

    # when: the customer cancels; the upstream stops 60 s later, before the third post
    result = cancels_request(customer=customer, order_ids=[order.pk])[order.pk]
    assert isinstance(result, CancelRequest)
    cycle_until(simulator, [order.pk], step=120)

    # then: 3 posts refunded at max, once; the cancel completed
    order.refresh_from_db()
    assert (order.status, order.posts_done) == (Status.CANCELED, 2)
    assert order.refunded == 3 * PER_POST
    assert _balance(customer) == Decimal("10") - 5 * PER_POST + 3 * PER_POST
    assert LedgerEntry.objects.filter(order=order, cause=LedgerEntry.Cause.SUBSCRIPTION_END).count() == 1
    result.refresh_from_db()
    assert (result.stage, result.status) == (RequestStage.FINAL, CancelRequest.Status.COMPLETED)
    ledger_ok()


def test_prepaid_subscription_expires_and_refunds_what_was_not_delivered(simulator, simulator_provider):
    # given: one post every 10 hours, 10 paid, expiring the day after tomorrow
    simulator.config.set(subscription_posts_per_hour=0.1)
    customer = CustomerFactory(funds="10")
    service = _subscription_service(simulator, simulator_provider)
    expiry = dt.date.today() + dt.timedelta(days=2)
    order = place(customer, service, username="natgeo", min=100, max=200, posts=10, delay=0,
                  expiry=expiry.strftime("%d/%m/%Y"))

    # when
    cycle_until(simulator, [order.pk], step=6 * 3600, max_cycles=30)

    # then: the posts the upstream delivered before the expiry are paid, the rest came back
    order.refresh_from_db()
    delivered = simulator.order(order.upstream_id).posts_charged
    assert 1 <= delivered < 10
    assert (order.status, order.posts_done, order.sub_expiry) == (Status.EXPIRED, delivered, expiry)
    assert order.refunded == (10 - delivered) * PER_POST
    assert _balance(customer) == Decimal("10") - delivered * PER_POST
    ledger_ok()


def test_unlimited_subscription_charges_each_post_once_and_stops_on_cancel(simulator, simulator_provider):
    # given: no `posts`: nothing up front
    customer = CustomerFactory(funds="10")
    service = _subscription_service(simulator, simulator_provider)
    order = place(customer, service, username="natgeo", min=100, max=200, delay=0)
    assert order.charge == 0 and _balance(customer) == Decimal("10")

    # when: three posts come, polled twice each
    pipeline_cycle()
    for _ in range(3):
        simulator.advance(POST)
        pipeline_cycle()
        pipeline_cycle()

    # then: three charges of max units, one per post
    order.refresh_from_db()
    assert (order.status, order.posts_done, order.posts_charged) == (Status.ACTIVE, 3, 3)
    causes = sorted(LedgerEntry.objects.filter(order=order, kind=LedgerEntry.Kind.CHARGE)
                    .values_list("cause", "amount"))
    assert causes == [("post-1", -PER_POST), ("post-2", -PER_POST), ("post-3", -PER_POST)]
    assert _balance(customer) == Decimal("10") - 3 * PER_POST and order.charge == 3 * PER_POST

    # when: canceled by the customer
    cancels_request(customer=customer, order_ids=[order.pk])
    cycle_until(simulator, [order.pk], step=120)

    # then: canceled, nothing refunded (each post was paid as delivered)
    order.refresh_from_db()
    assert order.status == Status.CANCELED and order.refunded == 0
    assert _balance(customer) == Decimal("10") - order.posts_done * PER_POST
    ledger_ok()


def test_running_out_of_funds_cancels_upstream_within_one_cycle(simulator, simulator_provider):
    # given: funds for two posts (0.80 of 1.00), the subscription sent and active
    customer = CustomerFactory(funds="1")
    service = _subscription_service(simulator, simulator_provider)
    order = place(customer, service, username="natgeo", min=100, max=200, delay=0)
    pipeline_cycle()
    order.refresh_from_db()
    assert order.stage == Stage.SENT
    simulator.advance(3 * POST + 10)

    # when: exactly one cycle sees three new posts
    pipeline_cycle()

    # then: two charged, the third not; the cancel is already at the upstream; the customer is told why
    order.refresh_from_db()
    assert (order.posts_done, order.posts_charged) == (3, 2)
    assert _balance(customer) == Decimal("0.2")
    assert order.attention == OUT_OF_FUNDS
    assert simulator.request_counts["cancel"] == 1
    assert simulator.order(order.upstream_id).canceled_at is not None
    assert CancelRequest.objects.get(order=order).stage == RequestStage.SENT

    # when: the upstream stops
    cycle_until(simulator, [order.pk], step=120)

    # then: canceled; the balance never went below zero
    order.refresh_from_db()
    assert order.status == Status.CANCELED
    assert _balance(customer) == Decimal("0.2")
    assert not LedgerEntry.objects.filter(customer=customer, balance_after__lt=0).exists()
    assert Order.objects.get(pk=order.pk).charge == 2 * PER_POST
    ledger_ok()


def test_the_poll_job_alone_sends_the_out_of_funds_cancel(simulator, simulator_provider):
    # given: the workers' poll job, which runs apart from the cancel job; funds for one post
    customer = CustomerFactory(funds="0.5")
    service = _subscription_service(simulator, simulator_provider)
    order = place(customer, service, username="natgeo", min=100, max=200, delay=0)
    pipeline_cycle()
    simulator.advance(2 * POST + 10)

    # when
    summary = provider_poll(provider_id=simulator_provider.pk)

    # then: one post charged, the cancel already at the upstream
    order.refresh_from_db()
    assert summary.out_of_funds == 1 and order.posts_charged == 1
    assert _balance(customer) == Decimal("0.1")
    assert simulator.request_counts["cancel"] == 1
    assert CancelRequest.objects.get(order=order).stage == RequestStage.SENT
