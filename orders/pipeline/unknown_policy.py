"""Each provider's policy for orders whose `add` outcome stayed unknown.

`hold` (the default): nothing happens; the orders wait for an admin (orders.pipeline.resolve).
`refund`: once an unknown order is older than the provider's `unknown_refund_after_hours` (counted from
the send that lost its answer), its customer gets back what is left of the charge and sees it Canceled;
the order stays unknown, with a note, for the admin to check upstream. The panel carries the risk that it
exists there after all.

Run by a periodic task; idempotent: an order is refunded only while nothing of it was refunded, checked
under its row lock in the transaction that refunds it, and the ledger refuses a second refund for the
same (order, cause) whatever happens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import DateTimeField, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts import services as money
from accounts.models import LedgerEntry
from accounts.money import ZERO
from audit.services import audit_record_bulk
from orders import lifecycle
from orders.charges import RefundWanted, orders_refund_bulk
from orders.models import Order, Stage, Status
from providers.models import Provider

# Orders per transaction, and per run (the rest waits for the next run: the task is periodic).
BATCH = 500
RUN_LIMIT = 20_000
HOLD, REFUND = "hold", "refund"


@dataclass
class PolicyRun:
    refunded: int = 0
    by_provider: dict[str, int] = field(default_factory=dict)


def unknown_orders_to_refund(*, provider: Provider, now: datetime):
    """The provider's unknown orders old enough for its refund policy, not refunded yet, oldest first."""
    cutoff = now - timedelta(hours=provider.unknown_refund_after_hours)
    return (Order.objects.filter(lifecycle.at_stage(Stage.UNKNOWN), provider_id=provider.pk, refunded=ZERO,
                                 charge__gt=ZERO)
            .alias(sent_at_least=Coalesce("sending_started_at", "created_at", output_field=DateTimeField()))
            .filter(Q(sent_at_least__lte=cutoff)).order_by("pk"))


def _refund_batch(order_ids: list[int], *, provider: Provider, now: datetime) -> int:
    note = f"Unknown outcome: refunded by {provider.name}'s policy after {provider.unknown_refund_after_hours} h"
    with transaction.atomic():
        customers = dict(Order.objects.filter(pk__in=order_ids).values_list("pk", "customer_id"))
        money.lock_customers(customers.values())
        before = {pk: (status, attention) for pk, status, attention in Order.objects.select_for_update()
                  .filter(pk__in=order_ids).order_by("pk").values_list("pk", "status", "attention")}
        marked = lifecycle.mark_unknown_refunded(order_ids=order_ids, now=now, note=note)
        if not marked:
            return 0
        entries = orders_refund_bulk(wanted=[
            RefundWanted(order_id=pk, customer_id=customers[pk], cause=LedgerEntry.Cause.UNKNOWN_OUTCOME, note=note)
            for pk in marked])
        refunds = {entry.order_id: entry.amount for entry in entries}
        audit_record_bulk(action="order.unknown_policy_refund", subject_type="order", reason=note, rows=[
            (pk, customers[pk], {"status": (before[pk][0], Status.CANCELED), "refunded": (ZERO, refunds.get(pk, ZERO)),
                                 "attention": (before[pk][1], lifecycle.UNKNOWN_REFUNDED_ATTENTION)})
            for pk in marked])
    return len(marked)


def orders_apply_unknown_policy(*, now: datetime | None = None, limit: int = RUN_LIMIT) -> PolicyRun:
    """Refund the unknown orders due under their provider's policy, in batches. Returns what was done."""
    now = now or timezone.now()
    run = PolicyRun()
    for provider in Provider.objects.filter(unknown_policy=REFUND).order_by("pk"):
        ids = list(unknown_orders_to_refund(provider=provider, now=now).values_list("pk", flat=True)[:limit])
        done = 0
        for start in range(0, len(ids), BATCH):
            done += _refund_batch(ids[start:start + BATCH], provider=provider, now=now)
        if done:
            run.by_provider[provider.name] = done
            run.refunded += done
        limit -= len(ids)
        if limit <= 0:
            break
    return run
