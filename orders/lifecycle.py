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

from collections.abc import Mapping
from datetime import datetime, timedelta

from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Coalesce

from accounts.money import ZERO
from orders.models import FINAL_STATUSES, Order, OrderStatusChange, Stage, Status
from providers.bulk import bulk_update_values
from providers.client import ItemError, OrderStatus
from providers.client_answers import child_order_ids

P, SG, ST, F_, FL, U = Stage.PAID, Stage.SENDING, Stage.SENT, Stage.FINAL, Stage.FAILED, Stage.UNKNOWN

TRANSITIONS: dict[tuple[str, str], str] = {
    (P, SG): "a worker claims the order to call `add`",
    (P, P): "moved to the service's next alternate provider (its own off, circuit open, or unavailable too long)",
    (P, F_): "canceled before any worker claimed it (customer or admin), refunded in full",
    (SG, P): "released for a later try (unavailable, low balance, `add` unanswered), or moved to an alternate",
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


def providers_sending() -> list[int]:
    """The providers that have orders in `sending` (a worker's claim, or a dead worker's)."""
    return list(Order.objects.filter(stage=SG).order_by().values_list("provider_id", flat=True).distinct())


def claim_for_sending(*, order_id: int, now: datetime) -> bool:
    """paid -> sending for one due order. True only for the one caller whose UPDATE changed the row."""
    return _move(order_id, sources=(P,), target=SG, now=now, extra=due(now), sending_started_at=now,
                 send_attempts=F("send_attempts") + 1)


def release_for_retry(*, order_id: int, delay_seconds: int, error: str, now: datetime,
                      unanswered: bool = False) -> bool:
    """Back to paid, tried again later, still charged and Pending. `unanswered`: no answer to its `add`."""
    return _move(order_id, sources=(SG,), target=P, now=now, next_attempt_at=now + timedelta(seconds=delay_seconds),
                 last_error=error[:2000], **({"may_exist_upstream": True} if unanswered else {}))


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
                 attention=UNKNOWN_ATTENTION, may_exist_upstream=True)


def sweep_stale_sending(*, started_before: datetime, now: datetime, provider_id: int | None = None,
                        resend: tuple[int, int] | None = None) -> int:
    """Claims older than `started_before` mean the worker died mid-send: unknown, in one statement. With `resend`
    (seconds, sends allowed; a provider honouring request_id): back to paid, sent again, within the allowance."""
    rows = Order.objects.filter(stage=SG, sending_started_at__lt=started_before)
    if provider_id is not None:
        rows = rows.filter(provider_id=provider_id)
    error, resent = "The sending worker stopped before saving the upstream answer", 0
    if resend is not None:
        require_allowed(SG, P)
        resent = rows.filter(send_attempts__lt=resend[1]).update(
            stage=P, updated_at=now, last_error=error, may_exist_upstream=True,
            next_attempt_at=now + timedelta(seconds=resend[0]))
    require_allowed(SG, U)
    return resent + rows.update(stage=U, updated_at=now, last_error=error, attention=UNKNOWN_ATTENTION,
                                may_exist_upstream=True)


def move_to_alternates(*, moves: Mapping[int, tuple[int, int, str, str]], sources: tuple[str, ...],
                       now: datetime) -> list[int]:
    """To paid at an alternate provider (orders.failover), status kept. `moves`: id -> (provider left, provider
    taking it, its service id there, why); only orders still at the one left, with no upstream id and no
    unanswered `add`. Within the caller's transaction; returns the ids moved."""
    for source in sources:
        require_allowed(source, P)
    rows = Order.objects.select_for_update(skip_locked=True).filter(
        pk__in=list(moves), stage__in=sources, upstream_id="", may_exist_upstream=False)
    moved = [pk for pk, provider_id in rows.values_list("pk", "provider_id") if moves[pk][0] == provider_id]
    if moved:
        provider, service, error = (Case(*(When(pk=pk, then=Value(moves[pk][i])) for pk in moved)) for i in (1, 2, 3))
        Order.objects.filter(pk__in=moved).update(stage=P, updated_at=now, provider_id=provider, last_error=error,
                                                  upstream_service=service, provider_since=now, next_attempt_at=None,
                                                  send_attempts=0)
    return moved


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


# --- The same resolutions for many orders: a few statements whatever their number ------------------------
# The caller holds the rows' locks (orders.pipeline.resolve locks customers, then orders), so the ids read
# here are the ids the UPDATE changes. Each returns the ids that moved; the others were not eligible.

UNKNOWN_REFUNDED_ATTENTION = ("Refunded by the provider's policy for unknown orders; it may still exist upstream: "
                              "check the provider, then cancel it or mark it resolved")


def _move_many(order_ids, *, sources: tuple[str, ...], target: str, now: datetime, extra: Q | None = None,
               **fields) -> list[int]:
    for source in sources:
        require_allowed(source, target)
    rows = Order.objects.filter(pk__in=list(order_ids), stage__in=sources)
    moved = list((rows if extra is None else rows.filter(extra)).order_by("pk").values_list("pk", flat=True))
    if moved:
        Order.objects.filter(pk__in=moved).update(stage=target, updated_at=now, **fields)
    return moved


def _histories(order_ids: list[int], status: str, note, *, with_remains: bool = False) -> None:
    remains = dict(Order.objects.filter(pk__in=order_ids).values_list("pk", "remains")) if with_remains else {}
    OrderStatusChange.objects.bulk_create(
        OrderStatusChange(order_id=pk, status=status, note=(note(pk) if callable(note) else note)[:300],
                          remains=remains.get(pk)) for pk in order_ids)


def cancel_many(*, order_ids, now: datetime, sources: tuple[str, ...], note: str) -> list[int]:
    moved = _move_many(order_ids, sources=sources, target=F_, now=now, status=Status.CANCELED, remains=ALL_UNITS,
                       attention="", finished_at=now, settled_at=None)
    _histories(moved, Status.CANCELED, note, with_remains=True)
    return moved


def send_again_many(*, order_ids, now: datetime) -> list[int]:
    moved = _move_many(order_ids, sources=RESOLVABLE, target=P, now=now, extra=_NOT_REFUNDED & Q(upstream_id=""),
                       status=Status.PENDING, remains=None, next_attempt_at=None, attention="", finished_at=None,
                       settled_at=None)
    _histories(moved, Status.PENDING, "Sent again by an admin")
    return moved


def set_upstream_ids(*, upstream_ids: Mapping[int, str], now: datetime) -> list[int]:
    """set_upstream_id for many orders at once, each with its own id."""
    new_id = Case(*(When(pk=pk, then=Value(uid[:64])) for pk, uid in upstream_ids.items()), default=F("upstream_id"))
    moved = _move_many(upstream_ids, sources=RESOLVABLE, target=ST, now=now, extra=_NOT_REFUNDED,
                       status=Status.PENDING, upstream_id=new_id, sent_at=now, attention="", remains=None,
                       finished_at=None, settled_at=None, last_checked_at=None)
    _histories(moved, Status.PENDING, lambda pk: f"Upstream id {upstream_ids[pk]} set by an admin")
    return moved


def clear_attention_many(*, order_ids, now: datetime) -> list[int]:
    rows = Order.objects.filter(pk__in=list(order_ids)).exclude(attention="")
    cleared = list(rows.order_by("pk").values_list("pk", flat=True))
    Order.objects.filter(pk__in=cleared).update(attention="", updated_at=now)
    return cleared


def mark_unknown_refunded(*, order_ids, now: datetime, note: str) -> list[int]:
    """Unknown orders refunded by their provider's policy: the customer sees Canceled, nothing delivered;
    the stage stays unknown, with a note, for the admin (the order may exist upstream after all). Only
    unknown orders not refunded yet: the caller refunds the ones returned, in the same transaction."""
    rows = Order.objects.filter(pk__in=list(order_ids), stage=U, refunded=ZERO, charge__gt=ZERO)
    marked = list(rows.order_by("pk").values_list("pk", flat=True))
    Order.objects.filter(pk__in=marked).update(status=Status.CANCELED, remains=ALL_UNITS, finished_at=now,
                                               attention=UNKNOWN_REFUNDED_ATTENTION, updated_at=now)
    _histories(marked, Status.CANCELED, note, with_remains=True)
    return marked


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
        # Nothing left of the charge (a free order, or refunded already): no refund can be owed, and a
        # non-subscription's charge never grows, so it is settled at once instead of by a settle step.
        nothing_left = not subscription and order.charge - order.refunded <= ZERO
        _finish_in_memory(order, status=result.status, now=now,
                          owes_refund=(result.status in REFUND_STATUSES or subscription) and not nothing_left)
        if result.status == Status.PARTIAL and result.remains is None:
            # No count of what was not delivered: refunding a guess could give too much or too little.
            order.attention = PARTIAL_WITHOUT_REMAINS
        changed = True
    elif order.status != result.status:
        order.status = result.status
        changed = True
    history = None
    if progress_changed:
        history = OrderStatusChange(order_id=order.pk, status=result.status, upstream_status=result.raw_status[:60],
                                    start_count=result.start_count, remains=result.remains)
    return changed, history


# Written by `apply_upstream_statuses`: everything `apply_upstream_status` may change.
APPLIED_FIELDS = ("status", "upstream_status", "start_count", "remains", "runs_done", "posts_done", "child_orders",
                  "upstream_charge", "stage", "finished_at", "settled_at", "attention", "incorrect_id_count",
                  "updated_at")


def apply_upstream_statuses(orders: list, results: Mapping[int, OrderStatus | ItemError], *, now: datetime,
                            incorrect_id_polls: int) -> tuple[list, list[OrderStatusChange]]:
    """Apply a batch of answers to sent orders read earlier (`orders`: objects with the order's columns as
    attributes, each with `read_updated_at`, its `updated_at` when read). One UPDATE for the batch.

    A compare-and-set: a row is written only while it is still sent and nobody changed it since it was
    read, so of two pollers that meet on an order, one moves it (and settles it); the other's answer is
    dropped and the order is polled again next cycle. Returns the orders written and their history rows,
    which the caller inserts in the same transaction.
    """
    changed = []
    history: list[OrderStatusChange] = []
    for order in orders:
        did_change, row = apply_upstream_status(order, results[order.pk], now=now,
                                                incorrect_id_polls=incorrect_id_polls)
        if did_change:
            order.updated_at = now
            changed.append(order)
            if row is not None:
                history.append(row)
    if not changed:
        return [], []
    written = set(bulk_update_values(
        Order, fields=APPLIED_FIELDS, match=("updated_at",), where={"stage": ST}, returning=True,
        rows=[[o.pk, *(getattr(o, name) for name in APPLIED_FIELDS), o.read_updated_at] for o in changed]))
    return [o for o in changed if o.pk in written], [h for h in history if h.order_id in written]


# --- Settling ----------------------------------------------------------------------------------------------

def mark_settled(*, order_ids: list[int], now: datetime) -> int:
    """The refunds these final (or failed) orders were owed are done; the pipeline stops looking at them."""
    return Order.objects.filter(pk__in=order_ids, stage__in=[F_, FL], settled_at__isnull=True).update(
        settled_at=now)
