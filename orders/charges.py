"""Money on orders: an order's `charge` and `refunded` move here, with the ledger row, in one transaction.

accounts.services moves balances and writes ledger rows; this module keeps the order's own columns in
step with them. The lock order is written down once, in `lock_customer_then_order`: the customer row
first, then the order row, so two writers (a poller refunding, a customer cancelling) never deadlock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import Exists, F, OuterRef

from accounts import services as money
from accounts.models import Customer, LedgerEntry
from accounts.money import ZERO
from orders.models import Order
from providers.bulk import bulk_update_values


def lock_customer_then_order(order_id: int) -> tuple[Customer, Order]:
    """Lock the order's customer, then the order. Call inside `transaction.atomic`."""
    customer_id = Order.objects.values_list("customer_id", flat=True).get(pk=order_id)
    customer = money.lock_customer(customer_id)
    order = Order.objects.select_for_update().get(pk=order_id)
    return customer, order


def order_charge(*, order_id: int, amount: Decimal, cause: str = LedgerEntry.Cause.ORDER,
                 note: str = "") -> LedgerEntry:
    """Take `amount` more for an existing order (a subscription's next post). Raises InsufficientFunds.

    The database refuses a second charge with the same (order, cause)."""
    with transaction.atomic():
        customer, order = lock_customer_then_order(order_id)
        entry = money.balance_charge(customer=customer, order_id=order.pk, amount=amount, cause=cause, note=note)
        Order.objects.filter(pk=order.pk).update(charge=F("charge") + abs(entry.amount))
        return entry


def order_refund(*, order_id: int, amount: Decimal, cause: str, note: str = "") -> LedgerEntry | None:
    """Give back `amount` of an order's charge, once per cause.

    Returns None when this cause was already refunded or nothing is left to refund. The amount is capped
    at what was charged and not yet refunded, so refunds never exceed the charge.
    """
    if Decimal(amount) < ZERO:
        raise money.MoneyError("A refund cannot be negative")
    with transaction.atomic():
        customer, order = lock_customer_then_order(order_id)
        value = min(Decimal(amount), order.charge - order.refunded)
        if value <= ZERO:
            return None
        entry = money.balance_refund(customer=customer, order_id=order.pk, amount=value, cause=cause, note=note)
        if entry is not None:
            Order.objects.filter(pk=order.pk).update(refunded=F("refunded") + entry.amount)
        return entry


def order_refund_rest(*, order_id: int, cause: str, note: str = "") -> LedgerEntry | None:
    """Refund whatever is left of the order's charge (a canceled or refused order), once per cause."""
    with transaction.atomic():
        _customer, order = lock_customer_then_order(order_id)
        rest = order.charge - order.refunded
        if rest <= ZERO:
            return None
        return order_refund(order_id=order_id, amount=rest, cause=cause, note=note)


@dataclass(frozen=True)
class RefundWanted:
    """A refund an order is owed: `amount`, or (None) whatever is left of its charge."""

    order_id: int
    customer_id: int
    cause: str
    amount: Decimal | None = None
    note: str = ""


def orders_refund_bulk(*, wanted: Sequence[RefundWanted]) -> list[LedgerEntry]:
    """Many orders' refunds in a fixed number of queries, in the caller's transaction (or one of its own).

    The customers are locked in id order, then the orders; each refund is capped at what is left of the
    order's charge and made at most once per (order, cause), as `order_refund` does one at a time.
    """
    if not wanted:
        return []
    ids = sorted({w.order_id for w in wanted})
    with transaction.atomic(savepoint=False):
        customers = money.lock_customers(w.customer_id for w in wanted)
        # An order refunded before for one of the batch's causes is not refunded again: an order ends once,
        # so one of them is all it is ever owed (and the ledger's unique rule stands behind this).
        refunded_before = Exists(LedgerEntry.objects.filter(order_id=OuterRef("pk"), kind=LedgerEntry.Kind.REFUND,
                                                            cause__in={w.cause for w in wanted}))
        money_of = {pk: [charge, refunded, before] for pk, charge, refunded, before in Order.objects
                    .select_for_update(no_key=True).filter(pk__in=ids).order_by("pk").annotate(before=refunded_before)
                    .values_list("pk", "charge", "refunded", "before")}
        lines = []
        for w in wanted:
            charge, refunded, before = money_of.get(w.order_id, (ZERO, ZERO, True))
            rest = charge - refunded
            value = rest if w.amount is None else min(Decimal(w.amount), rest)
            if before or value <= ZERO:
                continue
            money_of[w.order_id][1:] = [refunded + value, True]
            lines.append(money.RefundLine(customer_id=w.customer_id, order_id=w.order_id, amount=value,
                                          cause=w.cause, note=w.note))
        entries = money.balances_refund_bulk(customers=customers, refunds=lines)
        # `refunded` is the orders app's own column: one statement for the batch, under the locks above.
        bulk_update_values(Order, fields=["refunded"],
                           rows=[(pk, money_of[pk][1]) for pk in sorted({e.order_id for e in entries})])
    return entries
