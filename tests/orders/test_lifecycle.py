"""The order lifecycle: the table of allowed stage changes, each transition's companion fields, drip-feed remains."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import LedgerEntry
from orders import lifecycle
from orders.models import Order, Stage, Status
from orders.pipeline import resolve, send
from orders.services import cancels_request
from providers import ordertypes as ot
from providers.client import OrderStatus
from tests.factories import CustomerFactory
from tests.orders.pipeline_support import (
    ledger_checked_after,  # noqa: F401 - autouse
    place,
    sim_service,
)

pytestmark = pytest.mark.django_db

ALLOWED = {
    (Stage.PAID, Stage.SENDING), (Stage.PAID, Stage.FINAL), (Stage.PAID, Stage.PAID),
    (Stage.SENDING, Stage.PAID), (Stage.SENDING, Stage.SENT), (Stage.SENDING, Stage.FAILED),
    (Stage.SENDING, Stage.UNKNOWN),
    (Stage.UNKNOWN, Stage.SENT), (Stage.UNKNOWN, Stage.PAID), (Stage.UNKNOWN, Stage.FINAL),
    (Stage.FAILED, Stage.PAID), (Stage.FAILED, Stage.SENT), (Stage.FAILED, Stage.FINAL),
    (Stage.SENT, Stage.FINAL),
}
EVERY_PAIR = list(itertools.product(Stage.values, repeat=2))


def test_the_table_is_exactly_the_allowed_moves():
    assert set(lifecycle.TRANSITIONS) == ALLOWED
    assert all(lifecycle.TRANSITIONS[pair] for pair in ALLOWED)  # each move says why it exists


@pytest.mark.parametrize(("source", "target"), EVERY_PAIR)
def test_every_pair_is_allowed_or_refused_by_the_table(source, target):
    if (source, target) in ALLOWED:
        lifecycle.require_allowed(source, target)
    else:
        with pytest.raises(lifecycle.TransitionRefused):
            lifecycle.require_allowed(source, target)


def test_final_is_a_dead_end():
    assert not [pair for pair in ALLOWED if pair[0] == Stage.FINAL]


@pytest.mark.parametrize("source", [s for s in Stage.values if (s, Stage.FINAL) not in ALLOWED])
def test_applying_a_final_status_where_the_table_refuses_it_raises(source):
    # given: an order in memory at a stage from which nothing can finish it
    order = Order(stage=source, status=Status.PENDING, quantity=10, incorrect_id_count=0)

    with pytest.raises(lifecycle.TransitionRefused):
        lifecycle.apply_upstream_status(order, OrderStatus(status=Status.COMPLETED, raw_status="Completed", remains=0),
                                        now=timezone.now(), incorrect_id_polls=3)


@pytest.fixture
def customer():
    return CustomerFactory(funds="100")


@pytest.fixture
def dripfeed(simulator, simulator_provider, customer):
    service = sim_service(simulator, simulator_provider, ot.DEFAULT, dripfeed=True)
    service.cancel = True
    service.save(update_fields=["cancel"])
    return place(customer, service, link="https://x.test/d", quantity=service.min * 2, runs=3, interval=10)


def test_a_refused_dripfeed_reports_every_run_as_remaining(dripfeed):
    # given: the upstream no longer knows the service
    dripfeed.service.__class__.objects.filter(pk=dripfeed.service_id).update(upstream_service_id="99999999")

    # when
    assert send.order_send(order_id=dripfeed.pk) == send.FAILED

    # then: nothing of any run was delivered, and all of it was refunded
    dripfeed.refresh_from_db()
    assert (dripfeed.stage, dripfeed.status) == (Stage.FAILED, Status.CANCELED)
    assert dripfeed.remains == dripfeed.quantity * 3
    assert dripfeed.refunded == dripfeed.charge
    assert dripfeed.history.last().remains == dripfeed.quantity * 3


def test_a_dripfeed_canceled_before_sending_reports_every_run_as_remaining(customer, dripfeed):
    results = cancels_request(customer=customer, order_ids=[dripfeed.pk])

    dripfeed.refresh_from_db()
    assert not isinstance(results[dripfeed.pk], str)
    assert (dripfeed.stage, dripfeed.status, dripfeed.remains) == (Stage.FINAL, Status.CANCELED, dripfeed.quantity * 3)
    assert dripfeed.refunded == dripfeed.charge and dripfeed.settled_at is not None


def test_a_dripfeed_canceled_by_an_admin_reports_every_run_as_remaining(simulator, dripfeed):
    # given: the add call's answer was lost
    simulator.config.set(html_502_share=1.0)
    send.order_send(order_id=dripfeed.pk)
    simulator.config.set(html_502_share=0.0)
    dripfeed.refresh_from_db()
    assert dripfeed.stage == Stage.UNKNOWN

    # when
    assert resolve.order_cancel_and_refund(order_id=dripfeed.pk, reason="not found upstream")

    # then
    dripfeed.refresh_from_db()
    assert (dripfeed.stage, dripfeed.status, dripfeed.remains) == (Stage.FINAL, Status.CANCELED, dripfeed.quantity * 3)
    assert dripfeed.refunded == dripfeed.charge
    assert LedgerEntry.objects.get(order=dripfeed, kind=LedgerEntry.Kind.REFUND).amount == dripfeed.charge


def test_transitions_lose_races_quietly_and_change_nothing(customer, simulator, simulator_provider):
    # given: a sent order
    service = sim_service(simulator, simulator_provider, ot.DEFAULT)
    order = place(customer, service, link="https://x.test/s", quantity=service.min)
    assert send.order_send(order_id=order.pk) == send.SENT
    before = Order.objects.values().get(pk=order.pk)
    now = timezone.now()

    # when: every transition that does not start at `sent` is tried on it
    moved = [
        lifecycle.claim_for_sending(order_id=order.pk, now=now),
        lifecycle.release_for_retry(order_id=order.pk, delay_seconds=1, error="x", now=now),
        lifecycle.record_refused(order_id=order.pk, error="x", now=now),
        lifecycle.record_unknown(order_id=order.pk, error="x", now=now),
        lifecycle.record_sent(order_id=order.pk, upstream_id="other", now=now),
        lifecycle.send_again(order_id=order.pk, now=now),
        lifecycle.set_upstream_id(order_id=order.pk, upstream_id="other", now=now),
        lifecycle.cancel(order_id=order.pk, now=now, sources=(Stage.PAID,), note="x"),
    ]

    # then
    assert moved == [False] * len(moved)
    assert Order.objects.values().get(pk=order.pk) == before


def test_cancel_refuses_a_source_the_table_does_not_allow(customer, simulator, simulator_provider):
    service = sim_service(simulator, simulator_provider, ot.DEFAULT)
    order = place(customer, service, link="https://x.test/s", quantity=service.min)

    with pytest.raises(lifecycle.TransitionRefused):
        lifecycle.cancel(order_id=order.pk, now=timezone.now(), sources=(Stage.SENDING,), note="x")

    order.refresh_from_db()
    assert order.stage == Stage.PAID and order.charge > Decimal(0)
