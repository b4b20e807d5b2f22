from decimal import Decimal

import pytest

from accounts.selectors import ledger_problems
from orders.models import CancelRequest, Order, Stage, Status
from orders.subscriptions import (
    OUT_OF_FUNDS,
    subscription_charge_posts,
    subscription_refund_undelivered,
)
from tests.factories import CustomerFactory, ServiceFactory

pytestmark = pytest.mark.django_db


def subscription(customer, *, posts=None, sub_max=200, rate="2.5"):
    service = ServiceFactory(type="Subscriptions", min=10, max=1000)
    return Order.objects.create(
        customer=customer, service=service, provider=service.provider, username="someone", sub_min=100,
        sub_max=sub_max, sub_posts=posts, sub_delay=0, rate=Decimal(rate), stage=Stage.SENT, upstream_id="77",
        status=Status.ACTIVE,
    )


def test_each_new_post_is_charged_max_units_once():
    customer = CustomerFactory(funds="10")
    order = subscription(customer)

    first = subscription_charge_posts(order_id=order.pk, posts_done=2)
    again = subscription_charge_posts(order_id=order.pk, posts_done=2)
    third = subscription_charge_posts(order_id=order.pk, posts_done=3)

    assert (first.charged, again.charged, third.charged) == (2, 0, 1)
    customer.refresh_from_db()
    order.refresh_from_db()
    assert customer.balance == Decimal("10") - 3 * Decimal("0.5")  # 200 units at 2.5 per 1000
    assert order.charge == Decimal("1.5") and order.posts_charged == 3
    assert ledger_problems() == []


def test_running_out_of_funds_requests_a_cancel_and_never_goes_below_zero():
    customer = CustomerFactory(funds="1.2")
    order = subscription(customer)

    result = subscription_charge_posts(order_id=order.pk, posts_done=5)

    assert result.charged == 2 and result.out_of_funds
    customer.refresh_from_db()
    order.refresh_from_db()
    assert customer.balance == Decimal("0.2")
    assert order.attention == OUT_OF_FUNDS
    assert CancelRequest.objects.filter(order=order).count() == 1
    subscription_charge_posts(order_id=order.pk, posts_done=6)
    assert CancelRequest.objects.filter(order=order).count() == 1
    assert ledger_problems() == []


def test_prepaid_subscription_refunds_undelivered_posts_once():
    from django.db import transaction

    from orders.charges import order_charge

    customer = CustomerFactory(funds="10")
    order = subscription(customer, posts=4)
    with transaction.atomic():
        Order.objects.filter(pk=order.pk).update(charge=0)
        order_charge(order_id=order.pk, amount=Decimal("2"))  # 4 × 200 at 2.5

    entry = subscription_refund_undelivered(order_id=order.pk, posts_done=1)
    again = subscription_refund_undelivered(order_id=order.pk, posts_done=1)

    assert entry.amount == Decimal("1.5") and again is None
    customer.refresh_from_db()
    assert customer.balance == Decimal("9.5")
    assert subscription_charge_posts(order_id=order.pk, posts_done=3).charged == 0  # prepaid: no per-post charge
    assert ledger_problems() == []
