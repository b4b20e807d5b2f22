"""Reads for the admin home: money customers put in per day, and the payments waiting for a person."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate

from accounts.models import Deposit, LedgerEntry, PaymentRequest

# Money in: gateway payments, approved payment requests and funds an operator added. A deposit's bonus is
# the panel's gift, not money received, so it is left out.
MONEY_IN_CAUSES = (LedgerEntry.Cause.GATEWAY, LedgerEntry.Cause.PAYMENT, LedgerEntry.Cause.MANUAL)
MONEY_IN = Q(kind=LedgerEntry.Kind.DEPOSIT, cause__in=MONEY_IN_CAUSES)


def money_in_filter() -> dict[str, str]:
    """MONEY_IN as the ledger change list's query string."""
    return {"kind__exact": LedgerEntry.Kind.DEPOSIT, "cause__in": ",".join(MONEY_IN_CAUSES)}


def deposits_per_day(*, since: dt.datetime) -> dict[dt.date, Decimal]:
    """Money credited to balances per day (of the credit) since `since`, in the panel currency. One query."""
    rows = (LedgerEntry.objects.filter(MONEY_IN, created_at__gte=since).order_by()
            .annotate(day=TruncDate("created_at")).values("day").annotate(total=Sum("amount")))
    return {row["day"]: row["total"] for row in rows}


def payments_waiting() -> dict[str, int]:
    """Payment requests to approve or reject, deposits held for review, deposits the payer has not finished.
    Two queries."""
    requests = PaymentRequest.objects.filter(status=PaymentRequest.Status.PENDING).count()
    deposits = Deposit.objects.aggregate(
        review=Count("id", filter=Q(status=Deposit.Status.REVIEW)),
        open=Count("id", filter=Q(status__in=[Deposit.Status.CREATED, Deposit.Status.PENDING])))
    return {"payment_requests": requests, **deposits}
