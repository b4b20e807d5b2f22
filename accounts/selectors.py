"""Reads about customers and money."""

from __future__ import annotations

from django.db.models import Count, DecimalField, F, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from accounts import keycache
from accounts.models import Customer, LedgerEntry
from accounts.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS
from accounts.services import API_KEY_PREFIX_LENGTH, api_key_digest, api_key_matches

_MONEY = DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES)


def _plausible_key(raw_key: str) -> bool:
    return bool(raw_key) and API_KEY_PREFIX_LENGTH <= len(raw_key) <= 200


def api_key_cache_keys(raw_key: str) -> list[str]:
    """The cache keys `customer_by_cached_api_key` reads for this key (for a caller reading them ahead)."""
    return [keycache.cache_key(api_key_digest(raw_key))] if _plausible_key(raw_key) else []


def customer_by_cached_api_key(raw_key: str) -> Customer | None:
    """The customer of a key found lately (accounts.keycache), without the database; None otherwise."""
    return keycache.cached_customer(api_key_digest(raw_key)) if _plausible_key(raw_key) else None


def customer_by_api_key(raw_key: str) -> Customer | None:
    """The active customer whose key this is, or None. Compared by digest in constant time.

    Served from accounts.keycache when the key was looked up lately; there the customer's balance is
    deferred (read fresh when used)."""
    if not _plausible_key(raw_key):
        return None
    cached = keycache.cached_customer(api_key_digest(raw_key))
    if cached is not None:
        return cached
    for customer in Customer.objects.filter(api_key_prefix=raw_key[:API_KEY_PREFIX_LENGTH]).select_related("user"):
        if api_key_matches(customer=customer, raw_key=raw_key):
            if customer.is_active and customer.user.is_active:
                keycache.remember(customer)
                return customer
            return None
    return None


def ledger_problems() -> list[str]:
    """Every broken money invariant, one sentence each; empty when the books are sound.

    A fixed number of aggregate queries, whatever the number of customers or orders.
    """
    from orders.models import Order

    problems: list[str] = []
    ledger_sum = (
        LedgerEntry.objects.filter(customer=OuterRef("pk")).order_by().values("customer")
        .annotate(total=Sum("amount")).values("total")
    )
    last_after = LedgerEntry.objects.filter(customer=OuterRef("pk")).order_by("-id").values("balance_after")[:1]
    customers = Customer.objects.annotate(
        ledger_total=Coalesce(Subquery(ledger_sum, output_field=_MONEY), Value(0, output_field=_MONEY)),
        last_balance_after=Subquery(last_after, output_field=_MONEY),
    ).select_related("user")
    for c in customers:
        if c.balance != c.ledger_total:
            problems.append(f"customer {c.pk} ({c.username}): balance {c.balance} != ledger sum {c.ledger_total}")
        if c.last_balance_after is not None and c.last_balance_after != c.balance:
            problems.append(
                f"customer {c.pk} ({c.username}): balance {c.balance} != last ledger balance_after "
                f"{c.last_balance_after}"
            )
        if c.balance < 0:
            problems.append(f"customer {c.pk} ({c.username}): balance {c.balance} is below zero")

    duplicated = (
        LedgerEntry.objects.filter(order__isnull=False, kind__in=["charge", "refund"])
        .values("order_id", "kind", "cause").annotate(n=Count("id")).filter(n__gt=1)
    )
    for row in duplicated:
        problems.append(f"order {row['order_id']}: {row['n']} {row['kind']} rows for cause {row['cause']}")

    misbooked = (LedgerEntry.objects.filter(order__isnull=False).exclude(customer_id=F("order__customer_id"))
                 .values_list("pk", "order_id", "customer_id"))
    for entry_id, order_id, customer_id in misbooked:
        problems.append(f"ledger entry {entry_id}: booked to customer {customer_id}, not to order {order_id}'s")

    charged = (
        LedgerEntry.objects.filter(order=OuterRef("pk"), kind="charge").order_by().values("order")
        .annotate(total=Sum("amount")).values("total")
    )
    refunded = (
        LedgerEntry.objects.filter(order=OuterRef("pk"), kind="refund").order_by().values("order")
        .annotate(total=Sum("amount")).values("total")
    )
    orders = Order.objects.annotate(
        ledger_charged=Coalesce(Subquery(charged, output_field=_MONEY), Value(0, output_field=_MONEY)),
        ledger_refunded=Coalesce(Subquery(refunded, output_field=_MONEY), Value(0, output_field=_MONEY)),
    ).values("pk", "charge", "refunded", "ledger_charged", "ledger_refunded")
    for o in orders.iterator(chunk_size=2000):
        if o["charge"] != -o["ledger_charged"]:
            problems.append(f"order {o['pk']}: charge {o['charge']} != ledger charges {-o['ledger_charged']}")
        if o["refunded"] != o["ledger_refunded"]:
            problems.append(f"order {o['pk']}: refunded {o['refunded']} != ledger refunds {o['ledger_refunded']}")
        if o["ledger_refunded"] > -o["ledger_charged"]:
            problems.append(f"order {o['pk']}: refunds {o['ledger_refunded']} exceed charges {-o['ledger_charged']}")
    return problems
