"""Each provider's policy for unknown orders: hold them, or refund the customer after H hours, once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import LedgerEntry
from audit.models import AuditEntry
from orders import lifecycle
from orders.models import Order, Stage, Status
from orders.pipeline import resolve, unknown_policy
from orders.tasks import orders_unknown_policy_task
from panel.schedule import beat_schedule
from tests.factories import CustomerFactory, OrderFactory, ProviderFactory, ServiceFactory
from tests.orders.pipeline_support import ledger_checked_after  # noqa: F401 - autouse

pytestmark = pytest.mark.django_db

NOW = timezone.make_aware(timezone.datetime(2026, 3, 1, 12, 0))


def _unknown(provider, *, sent_hours_ago: float, count: int = 1, now=NOW) -> list[Order]:
    service = ServiceFactory(provider=provider)
    return [OrderFactory(service=service, customer=CustomerFactory(), stage=Stage.UNKNOWN, quantity=100,
                         attention=lifecycle.UNKNOWN_ATTENTION,
                         sending_started_at=now - timedelta(hours=sent_hours_ago))
            for _ in range(count)]


def _refund_provider(hours: int = 6):
    return ProviderFactory(unknown_policy="refund", unknown_refund_after_hours=hours)


def test_hold_is_the_default_and_refunds_nothing():
    # given
    provider = ProviderFactory()
    _unknown(provider, sent_hours_ago=1000)

    # when
    run = unknown_policy.orders_apply_unknown_policy(now=NOW)

    # then
    assert provider.unknown_policy == "hold" and run.refunded == 0
    assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFUND).exists()


def test_refund_after_h_hours_keeps_the_order_for_the_admin():
    # given: one order past the 6 hours, one not yet
    provider = _refund_provider(hours=6)
    old, = _unknown(provider, sent_hours_ago=7)
    young, = _unknown(provider, sent_hours_ago=5)
    balance = old.customer.balance

    # when
    run = unknown_policy.orders_apply_unknown_policy(now=NOW)

    # then: the customer has the money back and sees the order canceled; the admin still sees it unknown
    assert (run.refunded, run.by_provider) == (1, {provider.name: 1})
    old.refresh_from_db()
    assert (old.stage, old.status, old.refunded, old.remains) == (Stage.UNKNOWN, Status.CANCELED, old.charge, 100)
    assert old.attention == lifecycle.UNKNOWN_REFUNDED_ATTENTION
    old.customer.refresh_from_db()
    assert old.customer.balance == balance + old.charge
    refund = LedgerEntry.objects.get(order=old, kind=LedgerEntry.Kind.REFUND)
    assert refund.cause == LedgerEntry.Cause.UNKNOWN_OUTCOME
    entry = AuditEntry.objects.get(action="order.unknown_policy_refund", subject_id=old.pk)
    assert entry.actor is None and provider.name in entry.reason
    assert entry.changes["status"] == ["Pending", "Canceled"]
    assert Order.objects.get(pk=young.pk).refunded == 0


def test_running_again_never_refunds_twice():
    # given
    provider = _refund_provider()
    orders = _unknown(provider, sent_hours_ago=30, count=3)

    # when
    first = unknown_policy.orders_apply_unknown_policy(now=NOW)
    second = unknown_policy.orders_apply_unknown_policy(now=NOW + timedelta(hours=1))

    # then
    assert (first.refunded, second.refunded) == (3, 0)
    assert LedgerEntry.objects.filter(order__in=orders, kind=LedgerEntry.Kind.REFUND).count() == 3


def test_the_admin_may_still_close_a_refunded_order_without_a_second_refund(admin_user):
    # given
    order, = _unknown(_refund_provider(), sent_hours_ago=30)
    unknown_policy.orders_apply_unknown_policy(now=NOW)

    # when
    closed = resolve.orders_cancel_and_refund(order_ids=[order.pk], actor=admin_user, reason="not upstream")

    # then: final, and nothing more given back
    order.refresh_from_db()
    assert closed == [order.pk] and (order.stage, order.refunded) == (Stage.FINAL, order.charge)
    assert LedgerEntry.objects.filter(order=order, kind=LedgerEntry.Kind.REFUND).count() == 1
    assert resolve.orders_send_again(order_ids=[order.pk], actor=admin_user, reason="r") == []


def test_an_order_the_admin_resolved_meanwhile_is_left_alone(admin_user):
    # given: the admin attached an upstream id before the policy ran
    order, = _unknown(_refund_provider(), sent_hours_ago=30)
    resolve.orders_set_upstream_ids(upstream_ids={order.pk: "77"}, actor=admin_user, reason="found it")

    # when
    run = unknown_policy.orders_apply_unknown_policy(now=NOW)

    # then
    assert run.refunded == 0 and Order.objects.get(pk=order.pk).stage == Stage.SENT


def test_a_run_takes_a_fixed_number_of_statements_per_batch():
    # given
    small, large = _refund_provider(), _refund_provider()
    _unknown(small, sent_hours_ago=30, count=2)
    _unknown(large, sent_hours_ago=30, count=25)

    # when: each provider on its own
    counts = []
    for provider in (small, large):
        with CaptureQueriesContext(connection) as queries:
            unknown_policy._refund_batch(
                list(unknown_policy.unknown_orders_to_refund(provider=provider, now=NOW).values_list("pk", flat=True)),
                provider=provider, now=NOW)
        counts.append(len(queries))

    # then
    assert counts[0] == counts[1], counts


def test_the_periodic_task_runs_it_and_beat_schedules_it():
    # given: the task reads the clock
    _unknown(_refund_provider(hours=1), sent_hours_ago=2, now=timezone.now())

    # when
    result = orders_unknown_policy_task()

    # then
    assert result["refunded"] == 1
    entries = beat_schedule(service_sync_minutes=60, poll_seconds=60)
    assert any(entry["task"] == "orders.tasks.orders_unknown_policy_task" for entry in entries.values())
