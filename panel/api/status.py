"""The `status` action's read and answer: what resellers poll most, 100 ids at a time.

One statement per request. On PostgreSQL it is written once and the ids go as one array literal; the
money left on each order (charge − refunded, 5 places) comes back as text, trimmed here as clients expect
it. Building the query through the ORM, binding a hundred placeholders, and making two Decimals per row
cost more than running the query. Elsewhere (SQLite), the ORM, to the same answer.
"""

from __future__ import annotations

import functools

from django.db import connection

from accounts.money import quantize
from orders.lifecycle import units_ordered
from orders.models import Order, Status
from panel.api.parsing import plain_decimal, plain_decimal_text

# Read per order, `charge_left` standing for charge − refunded.
_COLUMNS = ("id", "charge_left", "start_count", "status", "remains", "quantity", "runs", "runs_done",
            "child_orders", "sub_max", "posts_done", "sub_expiry")


@functools.cache
def _postgresql_statement() -> str:
    quote, field = connection.ops.quote_name, Order._meta.get_field
    charge, refunded = quote(field("charge").column), quote(field("refunded").column)
    columns = ", ".join(f"({charge} - {refunded})::text" if name == "charge_left" else quote(field(name).column)
                        for name in _COLUMNS)
    return (f"SELECT {columns} FROM {quote(Order._meta.db_table)} "
            f"WHERE {quote(field('customer').column)} = %s AND {quote(field('id').column)} = ANY(%s::bigint[])")


def status_rows(*, customer_id: int, order_ids: list[int]) -> dict[int, dict]:
    """The customer's orders among `order_ids` (ints, already checked), as {id: row}; `charge_left` is
    the money left on the order as the answer shows it."""
    if connection.vendor != "postgresql":
        rows = {}
        for row in (Order.objects.filter(customer_id=customer_id, pk__in=order_ids).order_by()
                    .values(*(name for name in _COLUMNS if name != "charge_left"), "charge", "refunded")):
            row["charge_left"] = plain_decimal(quantize(row.pop("charge") - row.pop("refunded")))
            rows[row["id"]] = row
        return rows
    with connection.cursor() as cursor:
        # The ids are ints: their array literal needs no quoting, and is cheaper to send than a list to adapt.
        cursor.execute(_postgresql_statement(), [customer_id, "{" + ",".join(map(str, order_ids)) + "}"])
        rows = {row[0]: dict(zip(_COLUMNS, row, strict=True)) for row in cursor.fetchall()}
    for row in rows.values():
        row["charge_left"] = plain_decimal_text(row["charge_left"])
    return rows


def status_of(row: dict, currency: str) -> dict:
    """One order's answer, in the protocol's shape."""
    if row["sub_max"] is not None:
        # As the common panels answer for a subscription: posts delivered so far and the expiry date.
        expiry = row["sub_expiry"]
        return {"charge": row["charge_left"], "status": row["status"], "posts": str(row["posts_done"] or 0),
                "expiry": expiry.strftime("%d/%m/%Y") if expiry else None, "currency": currency}
    remains = row["remains"]
    if remains is None:
        # Nothing reported yet: a finished-complete order has nothing left, any other the whole of it.
        remains = 0 if row["status"] == Status.COMPLETED else units_ordered(quantity=row["quantity"], runs=row["runs"])
    answer = {
        "charge": row["charge_left"],
        "start_count": str(row["start_count"] or 0),
        "status": row["status"],
        "remains": str(remains),
        "currency": currency,
    }
    if row["runs"] and row["runs_done"] is not None:
        answer["runs"] = str(row["runs_done"])
        if row["child_orders"]:
            answer["orders"] = [int(c) if c.isascii() and c.isdigit() else c
                                for c in row["child_orders"].split(",")]
    return answer
