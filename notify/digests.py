"""The staff digest of orders that need a person: unknown outcome, or an `attention` note.

Each order (with the note it carries) is listed in one digest only; the next digest lists what is new
since. An order that stopped needing attention is cleared from the record, so needing it again is news.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, Max, OuterRef, Q
from django.utils import timezone

from notify.models import AttentionReported
from notify.services import notify_staff
from orders import lifecycle
from orders.models import Order, Stage

# Orders listed in one mail; more wait for the next digest (the count says how many there are).
DIGEST_MAX_ORDERS = 100


def _needing_attention() -> Q:
    return lifecycle.at_stage(Stage.UNKNOWN) | ~Q(attention="")


def orders_needing_attention_unreported():
    """Orders at stage unknown or with a note, whose current note no digest listed yet."""
    reported = AttentionReported.objects.filter(order_id=OuterRef("pk"), attention=OuterRef("attention"),
                                                cleared_at__isnull=True)
    return Order.objects.filter(_needing_attention()).exclude(Exists(reported))


def attention_reports_clear(*, now: datetime) -> int:
    """Clear the records of orders that no longer carry the note they were listed with."""
    still = Order.objects.filter(_needing_attention()).filter(pk=OuterRef("order_id"), attention=OuterRef("attention"))
    return AttentionReported.objects.filter(cleared_at__isnull=True).exclude(Exists(still)).update(cleared_at=now)


def attention_digest(*, now: datetime | None = None) -> int:
    """Mail staff the new orders needing attention, once; returns how many the mail lists (0: no mail).

    A constant number of queries whatever the number of orders."""
    if not settings.SUPPORT_EMAIL:
        return 0  # nobody to tell; the orders are listed once an address is set
    now = now or timezone.now()
    attention_reports_clear(now=now)
    pending = orders_needing_attention_unreported()
    count = pending.count()
    if not count:
        return 0
    orders = list(pending.select_related("provider").only("id", "stage", "attention", "provider__name")
                  .order_by("id")[:DIGEST_MAX_ORDERS])
    listed = [{"order_id": order.pk, "provider": order.provider.name, "stage": order.get_stage_display(),
               "attention": order.attention} for order in orders]
    # Named by what it lists and by the record so far: two runs racing over the same orders mail once,
    # and the same orders needing attention again later make a new digest.
    seen = AttentionReported.objects.aggregate(last=Max("id"))["last"] or 0
    fingerprint = hashlib.sha256(repr([(o.pk, o.attention) for o in orders]).encode()).hexdigest()[:24]
    with transaction.atomic():
        AttentionReported.objects.bulk_create(
            [AttentionReported(order_id=order.pk, attention=order.attention, reported_at=now) for order in orders],
            ignore_conflicts=True)
        notify_staff(kind="attention_digest", event_key=f"attention_digest:{seen}:{fingerprint}",
                     context={"orders": listed, "count": count}, now=now)
    return len(listed)
