"""Our order, in the v2 fields its type sends upstream (providers/ordertypes.py is the table)."""

from __future__ import annotations

from providers.ordertypes import LIST_FIELDS, ORDER_TYPES, SUBSCRIPTIONS, split_lines

# Subscription fields are stored with a prefix: `min`/`max` would shadow too much on the model.
_SUBSCRIPTION_COLUMNS = {"min": "sub_min", "max": "sub_max", "posts": "sub_posts", "old_posts": "sub_old_posts",
                         "delay": "sub_delay", "expiry": "sub_expiry", "username": "username"}


def order_column(type_name: str, field: str) -> str:
    """The Order column that keeps v2 field `field` of an order of type `type_name`."""
    return _SUBSCRIPTION_COLUMNS[field] if type_name == SUBSCRIPTIONS else field


def upstream_fields(order) -> dict[str, object]:
    """The `add` fields for `order`, by its service's type; empty optional fields are left out."""
    order_type = ORDER_TYPES[order.service.type]
    fields: dict[str, object] = {}
    for name in order_type.all_fields:
        column = _SUBSCRIPTION_COLUMNS[name] if order_type.name == SUBSCRIPTIONS else name
        value = getattr(order, column)
        if value is None or value == "":
            continue
        if name in LIST_FIELDS:
            value = "\n".join(split_lines(str(value)))
        elif name == "expiry":
            value = value.strftime("%d/%m/%Y")
        fields[name] = value
    return fields
