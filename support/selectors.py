"""Reads about tickets for the customer's pages and the staff inbox: a fixed number of queries per page."""

from __future__ import annotations

from django.db.models import Count, F, Q, QuerySet

from accounts.models import Customer
from support.models import Ticket, TicketMessage

MAX_ID = 2**63 - 1


def tickets_for_customer(*, customer: Customer) -> QuerySet[Ticket]:
    """The customer's tickets, latest activity first, each with `unread`: staff answers not seen yet."""
    return Ticket.objects.filter(customer=customer).annotate(unread=Count(
        "messages", filter=Q(messages__is_staff=True, messages__is_internal=False,
                             messages__created_at__gt=F("customer_read_at")))).order_by("-last_message_at", "-id")


def ticket_for_customer(*, customer: Customer, ticket_id: int) -> Ticket | None:
    """One of the customer's tickets, or None: another customer's ticket is as missing as a deleted one."""
    if not 0 < ticket_id <= MAX_ID:
        return None  # a URL's digits may exceed the id column's range, which the database would refuse
    return Ticket.objects.filter(customer=customer, pk=ticket_id).first()


def thread_for_customer(ticket: Ticket) -> QuerySet[TicketMessage]:
    """The messages the customer sees: everything but internal notes, oldest first."""
    return ticket.messages.filter(is_internal=False).select_related("author")


def unread_tickets_count(*, customer_id: int) -> int:
    """How many of the customer's tickets have a staff answer not seen yet: one query, for the nav."""
    return Ticket.objects.filter(customer_id=customer_id, last_staff_reply_at__gt=F("customer_read_at")).count()


def staff_inbox() -> QuerySet[Ticket]:
    """Every ticket with `staff_unread`: customer messages after staff last opened it."""
    unread = Q(messages__is_staff=False) & (Q(staff_read_at__isnull=True)
                                            | Q(messages__created_at__gt=F("staff_read_at")))
    return Ticket.objects.annotate(staff_unread=Count("messages", filter=unread))


def thread_for_staff(ticket: Ticket) -> QuerySet[TicketMessage]:
    return ticket.messages.select_related("author")


def ticket_orders_for_staff(ticket: Ticket):
    return ticket.orders.select_related("provider", "service").order_by("id")
