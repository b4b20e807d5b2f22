"""The only code that moves a balance.

Every function locks the customer row (`select_for_update`), writes one LedgerEntry and the new
balance in the same transaction, and never lets a balance go below zero. Lock order, everywhere:
customer before order, so two writers cannot deadlock.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts import keycache
from accounts.models import Customer, LedgerEntry, PaymentRequest
from accounts.money import ZERO, quantize
from audit.services import audit_record
from panel import rows

API_KEY_PREFIX_LENGTH = 8


class InsufficientFunds(Exception):
    """The balance does not cover the amount; nothing was taken."""

    def __init__(self, *, needed: Decimal, available: Decimal) -> None:
        super().__init__(f"Not enough funds on balance: needed {needed}, available {available}")
        self.needed = needed
        self.available = available


class MoneyError(ValueError):
    """An amount that makes no sense (zero, negative where a credit is meant, too many decimals)."""


def clean_amount(amount: Decimal | str | int) -> Decimal:
    """An amount from input: a finite Decimal with at most the money precision. Raises MoneyError."""
    try:
        value = Decimal(str(amount))
    except ArithmeticError:
        raise MoneyError(f"Not an amount: {amount!r}") from None
    if not value.is_finite():
        raise MoneyError(f"Not an amount: {amount!r}")
    if quantize(value) != value:
        raise MoneyError(f"At most 5 decimal places: {amount}")
    return value


def _lock_customer(customer_id: int) -> Customer:
    return Customer.objects.select_for_update().get(pk=customer_id)


def lock_customer(customer_id: int) -> Customer:
    """The customer row, locked until the caller's transaction ends. Call inside `transaction.atomic`."""
    return _lock_customer(customer_id)


def _write(
    *,
    customer: Customer,
    amount: Decimal,
    kind: str,
    cause: str,
    order_id: int | None = None,
    deposit_id: int | None = None,
    note: str = "",
    created_by=None,
) -> LedgerEntry:
    new_balance = customer.balance + amount
    if new_balance < ZERO:
        raise InsufficientFunds(needed=-amount, available=customer.balance)
    customer.balance = new_balance
    customer.save(update_fields=["balance"])
    return LedgerEntry.objects.create(
        customer=customer,
        amount=amount,
        kind=kind,
        cause=cause,
        order_id=order_id,
        deposit_id=deposit_id,
        balance_after=new_balance,
        note=note[:500],
        created_by=created_by,
    )


# --- Customers and keys -----------------------------------------------------------------------


def api_key_digest(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def api_key_matches(*, customer: Customer, raw_key: str) -> bool:
    return bool(customer.api_key_digest) and hmac.compare_digest(customer.api_key_digest, api_key_digest(raw_key))


def api_key_generate(*, customer: Customer) -> str:
    """Give the customer a new API key; the old one stops working at once. Returns the raw key (shown once)."""
    raw_key = secrets.token_hex(16)  # hex: URL-safe, survives being put unencoded in a query string
    old_digest = customer.api_key_digest
    customer.api_key_prefix = raw_key[:API_KEY_PREFIX_LENGTH]
    customer.api_key_digest = api_key_digest(raw_key)
    customer.api_key_created_at = timezone.now()
    customer.save(update_fields=["api_key_prefix", "api_key_digest", "api_key_created_at"])
    keycache.forget(old_digest)  # the old key's cached answer goes with it
    return raw_key


@transaction.atomic
def customer_create(
    *,
    username: str,
    password: str | None = None,
    email: str = "",
    balance: Decimal | str | int = ZERO,
    created_by=None,
) -> tuple[Customer, str]:
    """Create a user, its customer and an API key; an opening balance goes through the ledger."""
    user_model = get_user_model()
    user = user_model(username=username, email=email)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    customer = Customer.objects.create(user=user)
    raw_key = api_key_generate(customer=customer)
    opening = clean_amount(balance)
    if opening < ZERO:
        raise MoneyError("An opening balance cannot be negative")
    if opening > ZERO:
        balance_deposit(customer_id=customer.pk, amount=opening, note="Opening balance", created_by=created_by)
        customer.refresh_from_db(fields=["balance"])
    return customer, raw_key


# --- Balance movements ------------------------------------------------------------------------


def balance_deposit(
    *,
    customer_id: int,
    amount: Decimal | str | int,
    note: str = "",
    created_by=None,
    cause: str = LedgerEntry.Cause.MANUAL,
) -> LedgerEntry:
    """Credit a balance (funds added)."""
    value = clean_amount(amount)
    if value <= ZERO:
        raise MoneyError("A deposit must be positive")
    with transaction.atomic():
        customer = _lock_customer(customer_id)
        return _write(customer=customer, amount=value, kind=LedgerEntry.Kind.DEPOSIT, cause=cause, note=note,
                      created_by=created_by)


def balance_adjust(
    *, customer_id: int, amount: Decimal | str | int, note: str, created_by=None
) -> LedgerEntry:
    """A correction by an admin, either sign; never below zero."""
    value = clean_amount(amount)
    if value == ZERO:
        raise MoneyError("An adjustment cannot be zero")
    if not note.strip():
        raise MoneyError("An adjustment needs a note saying why")
    with transaction.atomic():
        customer = _lock_customer(customer_id)
        before = customer.balance
        entry = _write(customer=customer, amount=value, kind=LedgerEntry.Kind.ADJUSTMENT,
                       cause=LedgerEntry.Cause.MANUAL, note=note, created_by=created_by)
        audit_record(action="customer.balance_adjust", subject_type="customer", subject_id=customer.pk,
                     customer_id=customer.pk, actor=created_by, changes={"balance": (before, customer.balance)},
                     reason=note)
        return entry


def balance_charge(
    *, customer: Customer, order_id: int, amount: Decimal | str, cause: str = LedgerEntry.Cause.ORDER, note: str = ""
) -> LedgerEntry:
    """Take `amount` from a customer locked by `lock_customer`, for an order. Raises InsufficientFunds;
    never goes below zero. The database refuses a second charge with the same (order, cause).

    Only the balance and the ledger move here: the order's own columns are the orders app's (orders.charges).
    """
    value = clean_amount(amount)
    if value <= ZERO:
        raise MoneyError("A charge must be positive")
    return _write(customer=customer, amount=-value, kind=LedgerEntry.Kind.CHARGE, cause=cause, order_id=order_id,
                  note=note)


# The ledger row's columns that the statement fills from the rows it writes.
_FROM_STATEMENT = frozenset({"order_id", "balance_after"})


def balance_charge_new_order(*, customer_id: int, amount: Decimal, order_columns: list[str],
                             order_values: list[object]) -> tuple[int, Decimal]:
    """Insert an order and charge its `amount` in one statement, PostgreSQL only: the write behind
    /api/v2 `add`, where each round trip of the lock, insert, update, ledger row and commit costs more
    than the work. Returns the new order's id and the balance after. Raises InsufficientFunds; then
    nothing is written.

    The same rules as `balance_charge`: the balance row is locked (the UPDATE takes its lock and reads
    the committed balance after any writer before it), never goes below zero, and the ledger row goes
    in with it under the same unique (order, kind, cause) rule.
    """
    value = clean_amount(amount)
    if value <= ZERO:
        raise MoneyError("A charge must be positive")
    now = timezone.now()
    entry = LedgerEntry(customer_id=customer_id, amount=-value, kind=LedgerEntry.Kind.CHARGE,
                        cause=LedgerEntry.Cause.ORDER, created_at=now)
    entry_columns, entry_values = rows.insert_columns(entry, supplied=_FROM_STATEMENT)
    sql = _charge_new_order_sql(tuple(order_columns), tuple(entry_columns))
    with connection.cursor() as cursor:
        cursor.execute(sql, [value, customer_id, value, *order_values, *entry_values])
        placed = cursor.fetchone()
    if placed is None:
        # Nothing written: the balance did not cover the amount (read again for the message only).
        available = Customer.objects.filter(pk=customer_id).values_list("balance", flat=True).first()
        raise InsufficientFunds(needed=value, available=available if available is not None else ZERO)
    return placed[0], placed[1]


@functools.cache
def _charge_new_order_sql(order_columns: tuple[str, ...], entry_columns: tuple[str, ...]) -> str:
    quote = connection.ops.quote_name

    def table(model) -> str:
        return quote(model._meta.db_table)

    def column(model, name: str) -> str:
        return quote(model._meta.get_field(name).column)

    order_model = LedgerEntry._meta.get_field("order").related_model
    balance, customer_id = column(Customer, "balance"), column(Customer, "id")
    return (
        f"WITH charged AS (UPDATE {table(Customer)} SET {balance} = {balance} - %s "
        f"WHERE {customer_id} = %s AND {balance} >= %s RETURNING {balance} AS balance), "
        f"placed AS (INSERT INTO {table(order_model)} ({', '.join(order_columns)}) "
        f"SELECT {', '.join(['%s'] * len(order_columns))} FROM charged "
        f"RETURNING {column(order_model, 'id')} AS id) "
        f"INSERT INTO {table(LedgerEntry)} ({', '.join(entry_columns)}, {column(LedgerEntry, 'order')}, "
        f"{column(LedgerEntry, 'balance_after')}) "
        f"SELECT {', '.join(['%s'] * len(entry_columns))}, placed.id, charged.balance FROM placed, charged "
        f"RETURNING {column(LedgerEntry, 'order')}, {column(LedgerEntry, 'balance_after')}"
    )


def balance_refund(
    *, customer: Customer, order_id: int, amount: Decimal | str, cause: str, note: str = ""
) -> LedgerEntry | None:
    """Give `amount` back to a customer locked by `lock_customer`, for an order, once per (order, cause).

    Returns None when this cause was already refunded: the unique (order, kind, cause) rule decides,
    whatever the number of workers or retries.
    """
    value = clean_amount(amount)
    if value <= ZERO:
        raise MoneyError("A refund must be positive")
    if LedgerEntry.objects.filter(order_id=order_id, kind=LedgerEntry.Kind.REFUND, cause=cause).exists():
        return None
    try:
        with transaction.atomic():  # a savepoint: a lost race leaves the caller's transaction usable
            return _write(customer=customer, amount=value, kind=LedgerEntry.Kind.REFUND, cause=cause,
                          order_id=order_id, note=note)
    except IntegrityError:
        # Another writer refunded this cause between our check and insert (possible on databases
        # without row locks); the unique constraint kept it to one.
        customer.refresh_from_db(fields=["balance"])
        return None


@dataclass(frozen=True)
class RefundLine:
    """One refund of an order's charge, for `balances_refund_bulk`."""

    customer_id: int
    order_id: int
    amount: Decimal
    cause: str
    note: str = ""


def lock_customers(customer_ids: Iterable[int]) -> dict[int, Customer]:
    """Many customers' rows, locked in id order until the caller's transaction ends (a fixed order, so two
    bulk writers never deadlock; customers before orders, as everywhere). Call inside `transaction.atomic`.

    FOR NO KEY UPDATE: it excludes every other balance writer, but not the key-share locks PostgreSQL
    takes when a row that refers to a customer is written (a mail, a ledger row of another batch). Those
    are taken in whatever order the rows come, and against FOR UPDATE they made deadlocks."""
    ids = sorted(set(customer_ids))
    locked = (Customer.objects.select_for_update(no_key=True).filter(pk__in=ids).order_by("pk")
              .only("id", "balance"))
    return {c.pk: c for c in locked}


def balances_refund_bulk(*, customers: Mapping[int, Customer], refunds: Sequence[RefundLine]) -> list[LedgerEntry]:
    """Give back many order refunds to customers locked by `lock_customers`: one ledger row each, all in one
    insert, and each customer's new balance written once, in the caller's transaction.

    The caller has checked, under the orders' locks, that no (order, cause) among them was refunded before;
    the ledger's unique rule still refuses a second one (the whole batch then fails and nothing moves).
    """
    entries: list[LedgerEntry] = []
    touched: dict[int, Customer] = {}
    for line in refunds:
        value = clean_amount(line.amount)
        if value <= ZERO:
            raise MoneyError("A refund must be positive")
        customer = customers[line.customer_id]
        customer.balance += value
        touched[customer.pk] = customer
        entries.append(LedgerEntry(customer_id=customer.pk, amount=value, kind=LedgerEntry.Kind.REFUND,
                                   cause=line.cause, order_id=line.order_id, balance_after=customer.balance,
                                   note=line.note[:500]))
    if entries:
        LedgerEntry.objects.bulk_create(entries)
        # Django's CASE-per-row update: fine for the few customers of one batch.
        Customer.objects.bulk_update(list(touched.values()), ["balance"])
    return entries


def balance_credit_deposit(
    *, customer: Customer, deposit_id: int, amount: Decimal | str, cause: str, note: str = ""
) -> LedgerEntry:
    """Credit a customer locked by `lock_customer` for a paid deposit (or its bonus). The database refuses a
    second row with the same (deposit, cause): a deposit is credited once, whatever reports it."""
    value = clean_amount(amount)
    if value <= ZERO:
        raise MoneyError("A deposit must be positive")
    return _write(customer=customer, amount=value, kind=LedgerEntry.Kind.DEPOSIT, cause=cause, deposit_id=deposit_id,
                  note=note)


# --- Payment requests -------------------------------------------------------------------------


def payment_request_create(
    *, customer_id: int, amount: Decimal | str, method: str, reference: str = ""
) -> PaymentRequest:
    value = clean_amount(amount)
    if value <= ZERO:
        raise MoneyError("The amount must be positive")
    return PaymentRequest.objects.create(customer_id=customer_id, amount=value, method=method[:60],
                                         reference=reference[:200])


def payment_request_approve(*, payment_request_id: int, decided_by=None, note: str = "") -> bool:
    """Credit the balance for a pending request, exactly once. Returns False if it was not pending."""
    with transaction.atomic():
        customer_id = PaymentRequest.objects.values_list("customer_id", flat=True).get(pk=payment_request_id)
        _lock_customer(customer_id)
        request = PaymentRequest.objects.select_for_update().get(pk=payment_request_id)
        if request.status != PaymentRequest.Status.PENDING:
            return False
        entry = balance_deposit(
            customer_id=customer_id, amount=request.amount, cause=LedgerEntry.Cause.PAYMENT,
            note=f"Payment request #{request.pk} ({request.method} {request.reference})".strip(),
            created_by=decided_by,
        )
        request.status = PaymentRequest.Status.APPROVED
        request.ledger_entry = entry
        request.decided_at = timezone.now()
        request.decided_by = decided_by
        request.admin_note = note[:500]
        request.save(update_fields=["status", "ledger_entry", "decided_at", "decided_by", "admin_note"])
        audit_record(action="payment_request.approve", subject_type="payment_request", subject_id=request.pk,
                     actor=decided_by, customer_id=customer_id, reason=note,
                     changes={"status": (PaymentRequest.Status.PENDING, PaymentRequest.Status.APPROVED),
                              "balance": (entry.balance_after - entry.amount, entry.balance_after)})
        return True


def payment_request_reject(*, payment_request_id: int, decided_by=None, note: str = "") -> bool:
    """Refuse a pending request; nothing is credited. Returns False if it was not pending."""
    with transaction.atomic():
        updated = PaymentRequest.objects.filter(pk=payment_request_id, status=PaymentRequest.Status.PENDING).update(
            status=PaymentRequest.Status.REJECTED, decided_at=timezone.now(), decided_by=decided_by,
            admin_note=note[:500],
        )
        if updated:
            customer_id = PaymentRequest.objects.values_list("customer_id", flat=True).get(pk=payment_request_id)
            audit_record(action="payment_request.reject", subject_type="payment_request",
                         subject_id=payment_request_id, actor=decided_by, customer_id=customer_id, reason=note,
                         changes={"status": (PaymentRequest.Status.PENDING, PaymentRequest.Status.REJECTED)})
    return bool(updated)
