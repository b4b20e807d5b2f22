"""A customer's admin page: their latest orders, payments, tickets and ledger rows, each with the full list one
link away. Two queries per list (the rows, the count), whatever the customer's history."""

from __future__ import annotations

from urllib.parse import urlencode

from django.urls import reverse

from accounts.models import Customer, Deposit, LedgerEntry, PaymentRequest
from orders.models import Order

# Enough to see what a customer did lately; the full lists are filtered change lists.
RECENT = 10
# Each list, and the permission that opens what it links to.
SECTIONS = {"orders": "orders.view_order", "deposits": "accounts.view_deposit",
            "payment_requests": "accounts.view_paymentrequest", "tickets": "support.view_ticket",
            "ledger": "accounts.view_ledgerentry"}


def _changelist(name: str, **params) -> str:
    return f"{reverse(f'admin:{name}_changelist')}?{urlencode(params)}"


def _section(title: str, queryset, *, model: str, **params) -> dict:
    rows = list(queryset[:RECENT])
    for row in rows:
        row.admin_url = reverse(f"admin:{model}_change", args=[row.pk])
    return {"title": title, "rows": rows, "count": queryset.count(), "url": _changelist(model, **params)}


def _queries(customer: Customer) -> dict:
    from support.models import Ticket  # support's models depend on accounts': read them only when shown

    mine = {"customer__id__exact": customer.pk}
    return {
        "orders": lambda: _section("Orders", Order.objects.filter(customer=customer).select_related("service")
                                   .order_by("-id"), model="orders_order", **mine),
        "deposits": lambda: _section("Deposits", Deposit.objects.filter(customer=customer)
                                     .select_related("gateway").order_by("-id"), model="accounts_deposit", **mine),
        "payment_requests": lambda: _section("Payment requests", PaymentRequest.objects.filter(customer=customer)
                                             .order_by("-id"), model="accounts_paymentrequest", **mine),
        "tickets": lambda: _section("Tickets", Ticket.objects.filter(customer=customer)
                                    .order_by("-last_message_at", "-id"), model="support_ticket",
                                    customer=customer.pk),
        "ledger": lambda: _section("Ledger", LedgerEntry.objects.filter(customer=customer).order_by("-id"),
                                   model="accounts_ledgerentry", **mine),
    }


def customer_activity(customer: Customer, *, user) -> dict:
    """The lists `user` may open, by name (SECTIONS)."""
    queries = _queries(customer)
    return {name: queries[name]() for name, permission in SECTIONS.items() if user.has_perm(permission)}
