"""Resolving many failed or unknown orders at once (orders.pipeline.resolve's bulk services)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import LedgerEntry
from audit.models import AuditEntry
from orders import lifecycle
from orders.models import Order, OrderStatusChange, Stage, Status
from orders.pipeline import resolve
from tests.factories import CustomerFactory, OrderFactory, ServiceFactory
from tests.orders.pipeline_support import ledger_checked_after  # noqa: F401 - autouse

pytestmark = pytest.mark.django_db


def _unknown(count: int, **fields) -> list[Order]:
    service = ServiceFactory()
    customers = [CustomerFactory() for _ in range(3)]
    return [OrderFactory(customer=customers[n % 3], service=service, stage=Stage.UNKNOWN, quantity=100,
                         attention=lifecycle.UNKNOWN_ATTENTION, sending_started_at=timezone.now(), **fields)
            for n in range(count)]


def _audits(action: str) -> dict[int, AuditEntry]:
    return {entry.subject_id: entry for entry in AuditEntry.objects.filter(action=f"order.{action}")}


def test_send_again_moves_the_eligible_ones_and_audits_each(admin_user):
    # given: unknown orders, and one already sent that must not move
    orders = _unknown(4)
    sent = OrderFactory(stage=Stage.SENT, upstream_id="55")

    # when
    moved = resolve.orders_send_again(order_ids=[o.pk for o in orders] + [sent.pk], actor=admin_user,
                                      reason="not at the provider")

    # then
    assert moved == sorted(o.pk for o in orders)
    assert set(Order.objects.filter(pk__in=moved).values_list("stage", "attention")) == {(Stage.PAID, "")}
    assert Order.objects.get(pk=sent.pk).stage == Stage.SENT
    audits = _audits("send_again")
    assert set(audits) == set(moved)
    assert all(a.actor == admin_user and a.reason == "not at the provider" and a.changes["stage"] == ["unknown", "paid"]
               for a in audits.values())
    assert OrderStatusChange.objects.filter(order_id__in=moved, note="Sent again by an admin").count() == 4


def test_cancel_and_refund_refunds_each_once(admin_user):
    # given
    orders = _unknown(5)
    ids = [o.pk for o in orders]
    balances = {c.pk: c.balance for c in {o.customer for o in orders}}

    # when: twice, as two admins clicking at once would
    first = resolve.orders_cancel_and_refund(order_ids=ids, actor=admin_user, reason="not found upstream")
    second = resolve.orders_cancel_and_refund(order_ids=ids, actor=admin_user, reason="again")

    # then
    assert first == sorted(ids) and second == []
    refunds = LedgerEntry.objects.filter(order_id__in=ids, kind=LedgerEntry.Kind.REFUND)
    assert refunds.count() == 5
    for order in Order.objects.filter(pk__in=ids):
        assert (order.stage, order.status, order.refunded, order.remains) == (
            Stage.FINAL, Status.CANCELED, order.charge, 100)
        assert order.settled_at is not None
    for customer in {o.customer for o in orders}:
        customer.refresh_from_db()
        owed = sum(o.charge for o in orders if o.customer_id == customer.pk)
        assert customer.balance == balances[customer.pk] + owed
    assert len(_audits("cancel_and_refund")) == 5


def test_upstream_ids_each_its_own(admin_user):
    # given
    orders = _unknown(3)
    wanted = {orders[0].pk: "u-1", orders[1].pk: "u-2"}

    # when
    moved = resolve.orders_set_upstream_ids(upstream_ids=wanted, actor=admin_user, reason="found in its export")

    # then
    assert moved == sorted(wanted)
    rows = dict(Order.objects.filter(stage=Stage.SENT).values_list("pk", "upstream_id"))
    assert rows == wanted
    assert Order.objects.get(pk=orders[2].pk).stage == Stage.UNKNOWN
    assert _audits("set_upstream_id")[orders[1].pk].changes["upstream_id"] == ["", "u-2"]


def test_a_refunded_failed_order_is_not_sent_again_nor_given_an_id(admin_user):
    # given: a refused order, refunded in full
    order = OrderFactory(stage=Stage.SENDING)
    now = timezone.now()
    lifecycle.record_refused(order_id=order.pk, error="Not enough funds", now=now)
    from orders.pipeline.settle import orders_settle
    orders_settle(order_ids=[order.pk], now=now)

    # when
    again = resolve.orders_send_again(order_ids=[order.pk], actor=admin_user, reason="r")
    given = resolve.orders_set_upstream_ids(upstream_ids={order.pk: "9"}, actor=admin_user, reason="r")

    # then
    assert again == given == []
    assert not AuditEntry.objects.exists()


def test_mark_resolved_clears_notes_only(admin_user):
    # given
    noted, quiet = _unknown(1)[0], OrderFactory(stage=Stage.SENT, upstream_id="1")

    # when
    cleared = resolve.orders_mark_resolved(order_ids=[noted.pk, quiet.pk], actor=admin_user, reason="checked")

    # then
    assert cleared == [noted.pk]
    assert Order.objects.get(pk=noted.pk).stage == Stage.UNKNOWN


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_reason_is_required(admin_user, reason):
    orders = _unknown(1)
    with pytest.raises(resolve.ReasonRequired):
        resolve.orders_cancel_and_refund(order_ids=[orders[0].pk], actor=admin_user, reason=reason)
    assert Order.objects.get(pk=orders[0].pk).stage == Stage.UNKNOWN


@pytest.mark.parametrize("action", ["send_again", "cancel_and_refund", "mark_resolved"])
def test_statements_do_not_grow_with_the_number_of_orders(admin_user, action):
    # given
    small, large = [o.pk for o in _unknown(3)], [o.pk for o in _unknown(40)]
    service = getattr(resolve, f"orders_{action}")

    # when
    counts = []
    for ids in (small, large):
        with CaptureQueriesContext(connection) as queries:
            assert len(service(order_ids=ids, actor=admin_user, reason="bulk")) == len(ids)
        counts.append(len(queries))

    # then
    assert counts[0] == counts[1], counts


def test_a_large_selection_goes_in_chunks(admin_user, monkeypatch):
    # given: chunks of 4
    monkeypatch.setattr(resolve, "BULK_CHUNK", 4)
    ids = [o.pk for o in _unknown(10)]

    # when
    moved = resolve.orders_cancel_and_refund(order_ids=ids, actor=admin_user, reason="closing")

    # then
    assert moved == sorted(ids)
    assert LedgerEntry.objects.filter(order_id__in=ids, kind=LedgerEntry.Kind.REFUND).count() == 10
    assert sum(Order.objects.filter(pk__in=ids).values_list("refunded", flat=True)) == sum(
        Order.objects.filter(pk__in=ids).values_list("charge", flat=True)) > Decimal(0)
