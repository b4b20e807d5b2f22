"""Failover of paid orders whose provider cannot take them: switched off, circuit open, or answering
Unavailable for longer than FAILOVER_AFTER_SECONDS. One upstream order in all; a few queries per sweep."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from orders.failover import orders_fail_over_waiting
from orders.models import Order, OrderAttempt, Stage, Status
from orders.pipeline import send
from orders.pipeline.cycle import pipeline_cycle
from providers.models import Provider
from tests.orders.failover_support import backup_simulator, make_pair  # noqa: F401 - fixture
from tests.orders.pipeline_support import ledger_checked_after, ledger_ok  # noqa: F401 - autouse

pytestmark = pytest.mark.django_db


@pytest.fixture
def pair(simulator, backup_simulator):  # noqa: F811 - the fixture above
    return make_pair(simulator, backup_simulator)


def _later(seconds: float) -> dt.datetime:
    return timezone.now() + dt.timedelta(seconds=seconds)


def test_circuit_open_at_the_primary_moves_paid_orders_to_the_alternate(pair):
    # given: three paid orders, and the primary's circuit is open
    orders = [pair.place() for _ in range(3)]
    Provider.objects.filter(pk=pair.primary.pk).update(circuit_open_until=_later(600))

    # when: a pipeline cycle runs (it moves them, then the next one sends them)
    first = pipeline_cycle()
    pipeline_cycle()

    # then: each order is at the backup with its own upstream order there, none at the primary
    assert first["failed_over"] == 3
    for order in orders:
        order.refresh_from_db()
        assert (order.provider_id, order.stage, order.status) == (pair.backup.pk, Stage.SENT, Status.PENDING)
        assert OrderAttempt.objects.get(order=order).reason == "the provider's circuit is open"
    assert len(pair.backup_sim.accepted_adds) == 3 and pair.adds() == 3
    ledger_ok()


def test_a_switched_off_primary_moves_its_orders(pair):
    order = pair.place()
    Provider.objects.filter(pk=pair.primary.pk).update(is_active=False)

    assert orders_fail_over_waiting() == 1
    assert send.order_send(order_id=order.pk) == send.SENT

    order.refresh_from_db()
    assert order.provider_id == pair.backup.pk and pair.adds() == 1
    assert OrderAttempt.objects.get(order=order).reason == "the provider is switched off"


def test_an_order_waiting_unavailable_moves_after_the_set_time(pair, settings):
    # given: the primary answers every request with a 429
    settings.FAILOVER_AFTER_SECONDS = 1800
    settings.PIPELINE_CIRCUIT_FAILURES = 1000
    pair.primary_sim.config.set(rate_limit_share=1.0, retry_after="1")
    order = pair.place()
    assert send.order_send(order_id=order.pk) == send.RETRY

    # when: swept before the set time, then after it
    early = orders_fail_over_waiting(now=_later(1700))
    late = orders_fail_over_waiting(now=_later(1900))

    # then: moved only once the time has passed; delivered by the backup alone
    assert (early, late) == (0, 1)
    order.refresh_from_db()
    assert order.provider_id == pair.backup.pk and order.last_error.startswith("Moved to Backup: waited more")
    assert OrderAttempt.objects.get(order=order).reason.startswith("waited more than 1800 s")
    assert send.order_send(order_id=order.pk, now=_later(1900)) == send.SENT
    assert pair.adds() == 1 and pair.primary_sim.request_counts["add"] == 1


def test_no_fitting_alternate_leaves_the_order_where_it_is(pair):
    # given: the backup's circuit is open as well
    order = pair.place()
    Provider.objects.filter(pk__in=[pair.primary.pk, pair.backup.pk]).update(circuit_open_until=_later(600))

    # when / then
    assert orders_fail_over_waiting() == 0
    order.refresh_from_db()
    assert (order.provider_id, order.stage) == (pair.primary.pk, Stage.PAID)
    assert not OrderAttempt.objects.exists()


def test_an_order_is_not_moved_back_to_a_provider_it_left(pair):
    # given: the order moved from the primary to the backup, and now the backup is off while the primary is fine
    Provider.objects.filter(pk=pair.primary.pk).update(is_active=False)
    order = pair.place()
    assert orders_fail_over_waiting() == 1
    Provider.objects.filter(pk=pair.primary.pk).update(is_active=True)
    Provider.objects.filter(pk=pair.backup.pk).update(is_active=False)

    # when / then: it stays at the backup (the primary is the service's own provider, not an alternate)
    assert orders_fail_over_waiting() == 0
    order.refresh_from_db()
    assert order.provider_id == pair.backup.pk


def test_the_sweep_costs_a_few_queries_whatever_the_number_of_orders(pair, django_assert_max_num_queries):
    # given: twenty paid orders at a switched-off primary
    for _ in range(20):
        pair.place()
    Provider.objects.filter(pk=pair.primary.pk).update(is_active=False)

    # when / then
    with django_assert_max_num_queries(12):
        moved = orders_fail_over_waiting()
    assert moved == 20
    assert Order.objects.filter(provider=pair.backup, stage=Stage.PAID).count() == 20
    assert OrderAttempt.objects.count() == 20


def test_a_customer_is_charged_once_and_sees_only_progress(pair):
    # given
    balance_before = pair.customer.balance
    Provider.objects.filter(pk=pair.primary.pk).update(is_active=False)
    order = pair.place()

    # when: moved, sent, completed at the backup
    orders_fail_over_waiting()
    send.order_send(order_id=order.pk)
    order.refresh_from_db()
    pair.backup_sim.force(order.upstream_id, status="Completed")
    pipeline_cycle()

    # then: charged once, and the history shows only statuses
    order.refresh_from_db()
    pair.customer.refresh_from_db()
    assert order.status == Status.COMPLETED
    assert pair.customer.balance == balance_before - order.charge
    assert "provider" not in " ".join(order.history.values_list("note", flat=True)).lower()
    assert order.charge == Decimal("2.00000")
