"""Money paths and the order lifecycle at their edges: a worker dying between two steps, a refund owed by an
order the settle job does not look at, a lost refund race, admin resolutions on refunded orders, and what
check_ledger must notice."""

from __future__ import annotations

from decimal import Decimal
from unittest import mock

import pytest
from django.db import transaction
from django.db.models import F
from django.db.models.query import QuerySet
from django.utils import timezone

from accounts import services
from accounts.models import Customer, LedgerEntry
from accounts.selectors import ledger_problems
from orders.charges import order_refund
from orders.models import Order, OrderStatusChange, Stage, Status
from orders.pipeline import poll, resolve, send, settle
from orders.services import order_cancel_unsent
from panel.api.actions import action_status
from providers.client import OrderStatus
from providers.pricing import charge_for
from tests.factories import CustomerFactory, OrderFactory, ServiceFactory

pytestmark = pytest.mark.django_db


def _refunds(order: Order) -> list[LedgerEntry]:
    return list(LedgerEntry.objects.filter(order=order, kind=LedgerEntry.Kind.REFUND))


# --- A worker dying between the status and the money ---------------------------------------------------


def test_unlimited_subscription_posts_reported_with_its_final_status_are_charged_after_a_worker_dies():
    # given: an unlimited subscription (nothing paid up front; each post is charged as it appears)
    customer = CustomerFactory(funds="10")
    service = ServiceFactory(type="Subscriptions", min=10, max=1000)
    order = OrderFactory(customer=customer, service=service, quantity=0, charge=Decimal("0"), rate=Decimal("2.5"),
                         username="someone", sub_min=100, sub_max=200, sub_delay=0, stage=Stage.SENT,
                         upstream_id="77", status=Status.ACTIVE)

    # when: a poll applies "Completed after 3 posts" and its worker dies before charging the posts
    # (provider_poll charges them only after orders_apply_statuses has committed)
    applied = poll.orders_apply_statuses(
        results={order.pk: OrderStatus(status="Completed", raw_status="Completed", posts_done=3)})
    assert applied.posts_advanced == {order.pk: 3} and applied.final_ids == [order.pk]
    # ...and the pipeline's recovery job runs, as every cycle does
    settle.orders_settle_pending()

    # then: the three delivered posts are charged once, 200 units each at 2.5 per 1000
    order.refresh_from_db()
    assert order.posts_charged == 3
    assert order.charge == 3 * Decimal("0.5")
    assert ledger_problems() == []


def test_a_final_order_left_unsettled_by_a_dead_worker_is_refunded_once_by_the_settle_job():
    # given: a sent order of 1000 units
    order = OrderFactory(stage=Stage.SENT, upstream_id="u1")

    # when: a poll applies Partial (250 not delivered) and its worker dies before settling
    applied = poll.orders_apply_statuses(
        results={order.pk: OrderStatus(status="Partial", raw_status="Partial", remains=250)})
    assert applied.final_ids == [order.pk]
    order.refresh_from_db()
    assert (order.stage, order.settled_at, order.refunded) == (Stage.FINAL, None, Decimal("0"))
    # ...then the settle job runs twice (two cycles, or two workers)
    first = settle.orders_settle_pending()
    second = settle.orders_settle_pending()

    # then: the undelivered part is refunded exactly once
    order.refresh_from_db()
    assert (first, second) == (1, 0)
    assert order.refunded == charge_for(rate=order.rate, units=250)
    assert order.settled_at is not None
    assert [r.cause for r in _refunds(order)] == [LedgerEntry.Cause.PARTIAL]
    assert ledger_problems() == []


def test_a_failed_order_left_unsettled_is_refunded_by_the_settle_job():
    # given: a refused order that was never refunded nor settled (the fail and the refund used to be two
    # commits: a worker that died between them left exactly this row)
    order = OrderFactory(stage=Stage.FAILED, status=Status.CANCELED, remains=1000, finished_at=timezone.now())
    assert order.charge > 0 and order.settled_at is None

    # when
    settle.orders_settle_pending()

    # then: a failed order is shown Canceled, so the customer gets the whole charge back
    order.refresh_from_db()
    assert order.refunded == order.charge
    assert order.settled_at is not None
    assert ledger_problems() == []


def test_a_refund_that_raises_leaves_no_failed_order_behind(monkeypatch):
    # given: an order being sent; the refund step breaks
    order = OrderFactory(stage=Stage.SENDING)

    def broken(**kwargs):
        raise RuntimeError("database went away")

    # Patched: a refund failing mid-transaction cannot be provoked through the real ledger.
    monkeypatch.setattr(send, "order_refund_rest", broken)

    # when
    with pytest.raises(RuntimeError):
        send.order_fail_and_refund(order_id=order.pk, error="Incorrect service ID")

    # then: the transition rolled back with the refund: never failed and unrefunded
    order.refresh_from_db()
    assert (order.stage, order.status, order.refunded) == (Stage.SENDING, Status.PENDING, Decimal("0"))
    assert not OrderStatusChange.objects.filter(order=order).exists()


# --- A lost refund race --------------------------------------------------------------------------------


def test_a_lost_refund_race_leaves_the_locked_customer_with_the_stored_balance():
    # given: an order refunded once for Partial
    customer = CustomerFactory(funds="5")
    order = OrderFactory(customer=customer, charge=Decimal("2"))
    order_refund(order_id=order.pk, amount=Decimal("0.5"), cause=LedgerEntry.Cause.PARTIAL)

    with transaction.atomic():
        locked = services.lock_customer(customer.pk)
        stored = locked.balance
        # when: a second Partial refund misses the existence check (a racing writer) and hits the unique rule
        # Patched: the window between another writer's insert and our check cannot be hit from one thread.
        with mock.patch.object(QuerySet, "exists", return_value=False):
            lost = services.balance_refund(customer=locked, order_id=order.pk, amount=Decimal("0.5"),
                                           cause=LedgerEntry.Cause.PARTIAL)
        # then: nothing moved, and the in-memory balance is the stored one again
        assert lost is None
        assert locked.balance == stored == Customer.objects.get(pk=customer.pk).balance
        # ...so the next write on the same object starts from the right figure
        entry = services.balance_refund(customer=locked, order_id=order.pk, amount=Decimal("1.5"),
                                        cause=LedgerEntry.Cause.CANCELED)
        Order.objects.filter(pk=order.pk).update(refunded=F("refunded") + entry.amount)

    customer.refresh_from_db()
    assert customer.balance == stored + Decimal("1.5")
    assert ledger_problems() == []


# --- Admin resolutions ---------------------------------------------------------------------------------


def test_cancel_and_refund_of_a_refused_order_gives_nothing_more_back():
    # given: an order refused upstream, refunded in full under its own cause
    order = OrderFactory(stage=Stage.SENDING)
    assert send.order_fail_and_refund(order_id=order.pk, error="Incorrect service ID")

    # when: an admin cancels and refunds it as well
    assert resolve.order_cancel_and_refund(order_id=order.pk, reason="closing it")

    # then: final, and the whole charge went back once, not twice
    order.refresh_from_db()
    assert (order.stage, order.status) == (Stage.FINAL, Status.CANCELED)
    assert order.refunded == order.charge
    assert [r.cause for r in _refunds(order)] == [LedgerEntry.Cause.FAILED_SEND]
    assert ledger_problems() == []


# --- The API's status of drip-feed orders that never ran -----------------------------------------------


@pytest.mark.parametrize("how", ["refused", "canceled_unsent"])
def test_status_of_a_dripfeed_that_never_ran_reports_every_run_remaining_and_nothing_charged(how):
    # given: a drip-feed of 3 runs of 100, paid for all 300 units
    service = ServiceFactory(dripfeed=True)
    order = OrderFactory(service=service, quantity=100, runs=3, interval=10,
                         charge=charge_for(rate=service.rate, units=300))
    if how == "refused":
        Order.objects.filter(pk=order.pk).update(stage=Stage.SENDING)
        assert send.order_fail_and_refund(order_id=order.pk, error="Incorrect service ID")
    else:
        assert order_cancel_unsent(order_id=order.pk)

    # when
    answer = action_status(order.customer, {"order": str(order.pk)})

    # then
    assert (answer["status"], answer["remains"], Decimal(answer["charge"])) == ("Canceled", "300", 0)
    assert ledger_problems() == []


# --- check_ledger ----------------------------------------------------------------------------------------


def test_check_ledger_names_an_order_whose_columns_and_ledger_rows_disagree():
    # given: money moved through accounts.services without the order's columns (the orders app's job)
    order = OrderFactory(charge=Decimal("2"))
    post = OrderFactory(charge=Decimal("0"), customer=CustomerFactory(funds="5"))
    with transaction.atomic():
        locked = services.lock_customer(order.customer_id)
        services.balance_refund(customer=locked, order_id=order.pk, amount=Decimal("1"),
                                cause=LedgerEntry.Cause.PARTIAL)
    with transaction.atomic():
        locked = services.lock_customer(post.customer_id)
        services.balance_charge(customer=locked, order_id=post.pk, amount=Decimal("1"), cause="post-1")

    # then: both orders are named
    problems = ledger_problems()
    assert any(p.startswith(f"order {order.pk}: refunded 0") for p in problems), problems
    assert any(p.startswith(f"order {post.pk}: charge 0") for p in problems), problems


def test_check_ledger_names_a_refund_paid_to_another_customer_than_the_orders():
    # given: balance_refund takes the customer and the order separately; a refund for Alice's order is
    # credited to Bob, with the order's `refunded` kept in step
    alice = CustomerFactory()
    bob = CustomerFactory()
    order = OrderFactory(customer=alice, charge=Decimal("2"))
    with transaction.atomic():
        locked = services.lock_customer(bob.pk)
        entry = services.balance_refund(customer=locked, order_id=order.pk, amount=Decimal("2"),
                                        cause=LedgerEntry.Cause.CANCELED)
        Order.objects.filter(pk=order.pk).update(refunded=F("refunded") + entry.amount)

    # then: Alice paid, Bob got her money back; the books must say so
    assert ledger_problems() != []
