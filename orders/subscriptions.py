"""Money for subscriptions as their posts appear upstream.

* With `posts` set, `(posts + old_posts) × max` units were charged when ordered; what the upstream did
  not deliver (posts not done, at `max` each) is refunded once when the subscription ends.
* Without `posts`, each new post the upstream reports is charged `max` units as it appears, one ledger
  row per post (cause `post-N`, unique per order); when the balance cannot cover the next post the
  subscription is canceled upstream and the customer told why.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction

from accounts.models import LedgerEntry
from accounts.money import ZERO
from accounts.services import InsufficientFunds
from orders.charges import order_charge, order_refund
from orders.models import CancelRequest, Order, RequestStage, Status
from providers.pricing import charge_for, subscription_units

SUBSCRIPTION_END_STATUSES = (Status.COMPLETED, Status.EXPIRED, Status.CANCELED)
OUT_OF_FUNDS = "Subscription canceled: the balance does not cover the next post"


@dataclass(frozen=True)
class PostCharges:
    charged: int  # posts charged now
    out_of_funds: bool  # a cancel was requested because the balance ran out


def post_charge_cause(post_number: int) -> str:
    return f"post-{post_number}"


def subscription_charge_posts(*, order_id: int, posts_done: int) -> PostCharges:
    """Charge every post of an unlimited subscription up to `posts_done` not charged yet.

    Safe to run twice: each post's charge is unique per (order, cause) in the database, and
    `posts_charged` only moves forward under the customer's row lock.
    """
    order = Order.objects.only("id", "customer_id", "sub_posts", "sub_max", "rate", "posts_charged").get(pk=order_id)
    if order.sub_posts or posts_done <= order.posts_charged:
        return PostCharges(charged=0, out_of_funds=False)
    per_post = charge_for(rate=order.rate, units=subscription_units(posts=1, post_max=order.sub_max))
    charged = 0
    for post_number in range(order.posts_charged + 1, posts_done + 1):
        try:
            with transaction.atomic():
                if per_post > ZERO:
                    order_charge(order_id=order_id, amount=per_post, cause=post_charge_cause(post_number),
                                 note=f"Post {post_number}")
                Order.objects.filter(pk=order_id, posts_charged=post_number - 1).update(posts_charged=post_number)
            charged += 1
        except IntegrityError:
            # Charged already by a racing poller: move the counter on and carry on with the next post.
            Order.objects.filter(pk=order_id, posts_charged__lt=post_number).update(posts_charged=post_number)
        except InsufficientFunds:
            subscription_cancel_for_funds(order_id=order_id)
            return PostCharges(charged=charged, out_of_funds=True)
    return PostCharges(charged=charged, out_of_funds=False)


def subscription_cancel_for_funds(*, order_id: int) -> None:
    """Ask the upstream to stop the subscription; the pipeline sends it in the same cycle."""
    Order.objects.filter(pk=order_id).update(last_error=OUT_OF_FUNDS, attention=OUT_OF_FUNDS)
    open_cancel = CancelRequest.objects.filter(
        order_id=order_id, stage__in=[RequestStage.REQUESTED, RequestStage.SENT]
    ).exists()
    if not open_cancel:
        try:
            with transaction.atomic():
                CancelRequest.objects.create(order_id=order_id)
        except IntegrityError:
            pass  # another poller asked first; one open cancel per order is a database rule


def subscription_refund_undelivered(*, order_id: int, posts_done: int) -> LedgerEntry | None:
    """When a prepaid subscription ends, refund the posts not delivered (at `max` units each), once."""
    order = Order.objects.only("id", "sub_posts", "sub_old_posts", "sub_max", "rate").get(pk=order_id)
    if not order.sub_posts:
        return None
    # The upstream counts the old posts it delivered among `posts`; both were paid up front.
    paid_posts = order.sub_posts + (order.sub_old_posts or 0)
    undelivered_posts = max(0, paid_posts - max(0, posts_done))
    amount = charge_for(rate=order.rate, units=subscription_units(posts=undelivered_posts, post_max=order.sub_max))
    if amount <= ZERO:
        return None
    return order_refund(order_id=order_id, amount=amount, cause=LedgerEntry.Cause.SUBSCRIPTION_END,
                        note=f"{undelivered_posts} post(s) not delivered")
