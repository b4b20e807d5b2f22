"""The one place that changes an order's stage and status.

`TRANSITIONS` is the table of allowed stage changes. Each transition below is a function that checks
its move against the table (a move the table does not allow raises TransitionRefused), sets the
companion fields once (`remains`, `finished_at`, `settled_at`, `attention`, the history row), and
keeps the conditional UPDATE (`WHERE stage IN (...)`) whose row count says which racing caller won.
A transition that loses a race returns False; it never overwrites the winner.

Money is not moved here: refunds go through orders.charges, which callers invoke in the same
transaction where the two must not be separated.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import F, Q
from django.db.models.functions import Coalesce

from accounts.money import ZERO
from orders.models import FINAL_STATUSES, Order, OrderStatusChange, Stage, Status
from providers.client import ItemError, OrderStatus
from providers.client_answers import child_order_ids

P, SG, ST, F_, FL, U = Stage.PAID, Stage.SENDING, Stage.SENT, Stage.FINAL, Stage.FAILED, Stage.UNKNOWN

TRANSITIONS: dict[tuple[str, str], str] = {
    (P, SG): "a worker claims the order to call `add`",
    (P, F_): "canceled before any worker claimed it (customer or admin), refunded in full",
    (SG, P): "released for a later try (provider unavailable, or held for its low balance)",
    (SG, ST): "`add` answered with the upstream id",
    (SG, FL): "`add` was refused: shown Canceled, refunded in full",
    (SG, U): "`add`'s outcome is unknown (no answer, or the worker died mid-call)",
    (U, ST): "a late answer arrived, or an admin found the order upstream and set its id",
    (U, P): "an admin sends it again",
    (U, F_): "an admin cancels and refunds it",
    (FL, P): "an admin sends it again (only while not refunded)",
    (FL, ST): "an admin found it upstream and set its id (only while not refunded)",
    (FL, F_): "an admin cancels it and refunds what is left",
    (ST, F_): "the upstream reported Completed, Partial, Canceled or Expired",
}

UNKNOWN_ATTENTION = "The add call's outcome is unknown: check the provider, then set its id, resend or refund"
PARTIAL_WITHOUT_REMAINS = "Partial without a remains count from the provider: nothing refunded automatically"
REFUND_STATUSES = (Status.PARTIAL, Status.CANCELED)

# Every unit the order asked for: quantity per run × runs for drip-feed. What a refused or canceled
# order did not deliver, in SQL and in Python.
ALL_UNITS = F("quantity") * Coalesce("runs", 1)


class TransitionRefused(Exception):
    """A stage change the table does not allow: a bug in the caller, never a lost race."""


def at_stage(*stages: str) -> Q:
    """The orders at one of `stages`, for the queries that pick orders to work on or to count."""
    return Q(stage__in=stages)


def require_allowed(source: str, target: str) -> None:
    if (source, target) not in TRANSITIONS:
        raise TransitionRefused(f"An order cannot go from {source} to {target}")


def units_ordered(*, quantity: int, runs: int | None) -> int:
    return quantity * (runs or 1)


def _move(order_id: int, *, sources: tuple[str, ...], target: str, now: datetime, extra: Q | None = None,
          **fields) -> bool:
    """The conditional UPDATE every transition makes: only from `sources`, only if the row is still there."""
    for source in sources:
        require_allowed(source, target)
    rows = Order.objects.filter(pk=order_id, stage__in=sources)
    if extra is not None:
        rows = rows.filter(extra)
    return rows.update(stage=target, updated_at=now, **fields) == 1


def _history(order_id: int, status: str, note: str, remains: int | None = None) -> None:
    OrderStatusChange.objects.create(order_id=order_id, status=status, remains=remains, note=note[:300])


def _remains_of(order_id: int) -> int:
    return Order.objects.filter(pk=order_id).values_list("remains", flat=True).get()


# --- Sending ---------------------------------------------------------------------------------------------

def due(now: datetime) -> Q:
    return Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)


def claim_for_sending(*, order_id: int, now: datetime) -> bool:
    """paid -> sending for one due order. True only for the one caller whose UPDATE changed the row."""
    return _move(order_id, sources=(P,), target=SG, now=now, extra=due(now), sending_started_at=now,
                 send_attempts=F("send_attempts") + 1)


def release_for_retry(*, order_id: int, delay_seconds: int, error: str, now: datetime) -> bool:
    """Back to paid, to be tried again later; the order stays charged and customer-visible Pending."""
    return _move(order_id, sources=(SG,), target=P, now=now,
                 next_attempt_at=now + timedelta(seconds=delay_seconds), last_error=error[:2000])


def record_sent(*, order_id: int, upstream_id: str, now: datetime, note: str = "") -> bool:
    """The upstream id is known: sent, and polled from now on.

    Also from `unknown` with no id yet: the stale-claim sweeper may have given up on a slow call whose
    answer then arrived, and that answer is the truth.
    """
    moved = _move(order_id, sources=(SG, U), target=ST, now=now, extra=Q(upstream_id=""),
                  upstream_id=str(upstream_id)[:64], sent_at=now, next_attempt_at=None, attention="")
    if moved:
        _history(order_id, Status.PENDING, note or f"Sent upstream as {upstream_id}")
    return moved


def record_refused(*, order_id: int, error: str, now: datetime) -> bool:
    """A definite refusal of `add`: failed, shown Canceled, nothing delivered. The caller refunds."""
    moved = _move(order_id, sources=(SG,), target=FL, now=now, status=Status.CANCELED, remains=ALL_UNITS,
                  last_error=error[:2000], finished_at=now)
    if moved:
        _history(order_id, Status.CANCELED, f"Refused upstream: {error}", remains=_remains_of(order_id))
    return moved


def record_unknown(*, order_id: int, error: str, now: datetime) -> bool:
    """`add` gave no answer we can trust: never resent automatically; an admin resolves it."""
    return _move(order_id, sources=(SG,), target=U, now=now, last_error=f"Outcome unknown: {error}"[:2000],
                 attention=UNKNOWN_ATTENTION)


def sweep_stale_sending(*, started_before: datetime, now: datetime) -> int:
    """Claims older than `started_before` mean the worker died mid-send: unknown, in one statement."""
    require_allowed(SG, U)
    return Order.objects.filter(stage=SG, sending_started_at__lt=started_before).update(
        stage=U, updated_at=now, last_error="The sending worker stopped before saving the upstream answer",
        attention=UNKNOWN_ATTENTION,
    )


# --- Canceling and admin resolutions ---------------------------------------------------------------------

def cancel(*, order_id: int, now: datetime, sources: tuple[str, ...], note: str) -> bool:
    """Final and Canceled with nothing delivered, from one of `sources`. The caller refunds (settles)."""
    moved = _move(order_id, sources=sources, target=F_, now=now, status=Status.CANCELED, remains=ALL_UNITS,
                  attention="", finished_at=now, settled_at=None)
    if moved:
        _history(order_id, Status.CANCELED, note, remains=_remains_of(order_id))
    return moved


# A failed order that was refunded cannot go upstream again for free: only unrefunded ones may.
_NOT_REFUNDED = Q(refunded=ZERO)
RESOLVABLE = (FL, U)


def send_again(*, order_id: int, now: datetime) -> bool:
    """Back to paid for a worker to send: unknown or failed, not refunded, no upstream id."""
    moved = _move(order_id, sources=RESOLVABLE, target=P, now=now, extra=_NOT_REFUNDED & Q(upstream_id=""),
                  status=Status.PENDING, remains=None, next_attempt_at=None, attention="", finished_at=None,
                  settled_at=None)
    if moved:
        _history(order_id, Status.PENDING, "Sent again by an admin")
    return moved


def set_upstream_id(*, order_id: int, upstream_id: str, now: datetime) -> bool:
    """An admin found the order upstream: sent with that id, polled from now on."""
    moved = _move(order_id, sources=RESOLVABLE, target=ST, now=now, extra=_NOT_REFUNDED,
                  status=Status.PENDING, upstream_id=upstream_id[:64], sent_at=now, attention="", remains=None,
                  finished_at=None, settled_at=None, last_checked_at=None)
    if moved:
        _history(order_id, Status.PENDING, f"Upstream id {upstream_id} set by an admin")
    return moved


def clear_attention(*, order_id: int, now: datetime) -> bool:
    """The admin looked and nothing more is needed: the note goes, the stage stays."""
    return Order.objects.filter(pk=order_id).exclude(attention="").update(attention="", updated_at=now) == 1


# --- Upstream statuses (applied in memory; the poller writes a batch in one statement) -------------------

def _finish_in_memory(order: Order, *, status: str, now: datetime, owes_refund: bool) -> None:
    require_allowed(order.stage, F_)
    order.stage = F_
    order.status = status
    order.finished_at = now
    if not owes_refund:
        order.settled_at = now  # nothing owed: no settle step needed


def apply_upstream_status(order: Order, result: OrderStatus | ItemError, *, now: datetime,
                          incorrect_id_polls: int) -> tuple[bool, OrderStatusChange | None]:
    """Change a sent `order` in memory from one upstream answer. Returns (changed, history row or None)."""
    if isinstance(result, ItemError):
        order.incorrect_id_count += 1
        if order.incorrect_id_count >= incorrect_id_polls and not order.attention:
            count = order.incorrect_id_count
            order.attention = f"The provider answered '{result.message}' on {count} polls in a row"[:300]
        return True, None
    changed = False
    if order.incorrect_id_count:
        order.incorrect_id_count = 0
        changed = True
    if result.status is None:
        # An unknown word is shown to the admin, never guessed into a status that could move money.
        note = f"Unknown upstream status word: {result.raw_status!r}"[:300]
        if order.attention != note or order.upstream_status != result.raw_status[:60]:
            order.attention = note
            order.upstream_status = result.raw_status[:60]
            changed = True
        return changed, None
    progress_changed = (order.status != result.status or order.remains != result.remains
                        or order.start_count != result.start_count)
    new_values = {
        "upstream_status": result.raw_status[:60],
        "start_count": result.start_count,
        "remains": result.remains,
        "runs_done": result.runs_done if result.runs_done is not None else order.runs_done,
        "posts_done": result.posts_done if result.posts_done is not None else order.posts_done,
        "upstream_charge": result.charge if result.charge is not None else order.upstream_charge,
    }
    children = child_order_ids(result)
    if children is not None:
        new_values["child_orders"] = ",".join(children)[:10_000]
    for name, value in new_values.items():
        if getattr(order, name) != value:
            setattr(order, name, value)
            changed = True
    if result.status in FINAL_STATUSES:
        subscription = order.sub_max is not None
        _finish_in_memory(order, status=result.status, now=now,
                          owes_refund=result.status in REFUND_STATUSES or subscription)
        if result.status == Status.PARTIAL and result.remains is None:
            # No count of what was not delivered: refunding a guess could give too much or too little.
            order.attention = PARTIAL_WITHOUT_REMAINS
        changed = True
    elif order.status != result.status:
        order.status = result.status
        changed = True
    history = None
    if progress_changed:
        history = OrderStatusChange(order=order, status=result.status, upstream_status=result.raw_status[:60],
                                    start_count=result.start_count, remains=result.remains)
    return changed, history


# --- Settling ----------------------------------------------------------------------------------------------

def mark_settled(*, order_ids: list[int], now: datetime) -> int:
    """The refunds these final (or failed) orders were owed are done; the pipeline stops looking at them."""
    return Order.objects.filter(pk__in=order_ids, stage__in=[F_, FL], settled_at__isnull=True).update(
        settled_at=now)
