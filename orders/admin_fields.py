"""Which of an order's columns its admin page shows: those of its service's type (providers/ordertypes.py).

An order keeps a column for every field of every type; a Default order's empty comments, usernames, groups,
poll answer and subscription limits say nothing to an operator and push what matters down the page.
"""

from __future__ import annotations

from orders.pipeline.fields import order_column
from providers.ordertypes import ORDER_TYPES, SUBSCRIPTIONS, OrderType

# Every column that belongs to some type's fields (the subscription fields under their column names).
TYPE_COLUMNS = frozenset({order_column(kind.name, field) for kind in ORDER_TYPES.values() for field in kind.all_fields})
DRIP_FEED_COLUMNS = frozenset({"runs", "interval", "runs_done", "child_orders"})
SUBSCRIPTION_COLUMNS = frozenset({"posts_done", "posts_charged"})


def _shown_columns(order_type: OrderType, *, drip_feed: bool) -> set[str]:
    shown = {order_column(order_type.name, field) for field in order_type.all_fields}
    if order_type.name != SUBSCRIPTIONS:
        shown.add("quantity")  # the units charged for, typed in or counted from a list
    if drip_feed:
        shown |= DRIP_FEED_COLUMNS
    else:
        shown -= DRIP_FEED_COLUMNS
    if order_type.name == SUBSCRIPTIONS:
        shown |= SUBSCRIPTION_COLUMNS
    return shown


def fields_for_order(fields, order) -> list[str]:
    """`fields` (the admin's list for the order page) without the columns the order's type does not use."""
    order_type = ORDER_TYPES.get(getattr(getattr(order, "service", None), "type", None))
    if order_type is None:
        return list(fields)  # an unknown type: show everything rather than hide something that matters
    shown = _shown_columns(order_type, drip_feed=order.runs is not None)
    hidden = (TYPE_COLUMNS | DRIP_FEED_COLUMNS | SUBSCRIPTION_COLUMNS) - shown
    return [name for name in fields if name not in hidden]
