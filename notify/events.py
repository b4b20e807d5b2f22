"""What each event in the panel mails, and under which key: the one line the money and pipeline code calls.

Each function builds the mail's context from objects its caller already holds (no query of its own
beyond notify.services'), and names the event so that it mails once: a deposit's credit, one refund
cause of an order, a refill's rejection, a provider's low-balance episode.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from notify.models import ProviderBalanceWatch
from notify.services import notify_customer, notify_customers, notify_staff

# The statuses whose refund customers hear about (orders.lifecycle.REFUND_STATUSES); a subscription that
# expired is refunded its undelivered posts without a mail, as it ended as ordered.
REFUNDED_STATUSES = ("Partial", "Canceled")


def _amount(value: Decimal | None) -> str:
    return "" if value is None else f"{Decimal(value):f}"


def deposit_credited(*, deposit, customer, amount: Decimal) -> None:
    """A paid deposit was credited (`amount` with its bonus, in the panel currency) to a locked customer."""
    notify_customer(kind="deposit_credited", event_key=f"deposit_credited:{deposit.pk}", customer_id=customer.pk,
                    context={"deposit_id": deposit.pk, "amount": _amount(amount),
                             "currency": settings.PANEL_CURRENCY, "balance": _amount(customer.balance)})


def orders_refunded(refunds: Iterable[tuple[object, object]]) -> int:
    """(order, ledger entry) pairs of refunds just made; only Partial and Canceled orders mail.

    Keyed by the refund's cause, of which the ledger allows one per order: settling again mails nothing."""
    items = [
        (f"order_refunded:{order.pk}:{entry.cause}", order.customer_id,
         {"order_id": order.pk, "status": order.status, "service_name": order.service.name,
          "refund": _amount(entry.amount), "currency": settings.PANEL_CURRENCY})
        for order, entry in refunds if order.status in REFUNDED_STATUSES
    ]
    return notify_customers(kind="order_refunded", items=items) if items else 0


def refills_rejected(refills: Iterable) -> int:
    """Refills that just turned Rejected (by the provider's answer to the request, or to its poll)."""
    items = [
        (f"refill_rejected:{refill.pk}", refill.order.customer_id,
         {"order_id": refill.order_id, "refill_id": refill.pk, "reason": refill.error or ""})
        for refill in refills
    ]
    return notify_customers(kind="refill_rejected", items=items) if items else 0


def provider_balance_checked(*, provider, balance: Decimal, currency: str, now: datetime | None = None) -> bool:
    """Staff hear once per low episode: when the balance first falls under the threshold; after it has
    recovered, the next fall is a new episode. Returns whether this check started an episode."""
    now = now or timezone.now()
    watch = ProviderBalanceWatch.objects.filter(provider_id=provider.pk)
    if balance >= provider.low_balance_threshold:
        watch.filter(low_since__isnull=False).update(low_since=None)
        return False
    ProviderBalanceWatch.objects.bulk_create([ProviderBalanceWatch(provider_id=provider.pk)], ignore_conflicts=True)
    # A conditional update: of two checks racing, one starts the episode.
    if not watch.filter(low_since__isnull=True).update(low_since=now):
        return False
    notify_staff(kind="provider_balance_low", event_key=f"provider_balance_low:{provider.pk}:{now.isoformat()}",
                 context={"provider_id": provider.pk, "provider": provider.name, "balance": _amount(balance),
                          "threshold": _amount(provider.low_balance_threshold), "currency": currency})
    return True
