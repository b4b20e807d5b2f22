"""Every write on support tickets: opening, replies, internal notes, closing, read markers, auto-close.

A ticket's state moves only here, along this table:

    open ──staff reply──► answered ──customer reply──► open
    open / answered ──customer or staff closes, or answered for SUPPORT_TICKET_AUTOCLOSE_DAYS──► closed

A closed ticket takes no more public messages (staff may still add internal notes); the customer opens
a new one. Each move is a conditional UPDATE on the ticket's current state, so a reply and the auto-close
racing on one ticket cannot both win.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.models import Customer
from accounts.services import lock_customer
from audit.services import audit_record
from notify.services import notify_customer, notify_staff
from orders.models import Order, Refill
from orders.pipeline import resolve
from orders.services import refills_request
from support.models import Ticket, TicketMessage

OPEN, ANSWERED, CLOSED = Ticket.State.OPEN, Ticket.State.ANSWERED, Ticket.State.CLOSED
# (source states, target) per event; nothing else moves a ticket.
MOVES = {
    "customer_reply": ((OPEN, ANSWERED), OPEN),
    "staff_reply": ((OPEN, ANSWERED), ANSWERED),
    "close": ((OPEN, ANSWERED), CLOSED),
}
# A ticket is about a handful of orders; a longer list is a paste gone wrong.
MAX_LINKED_ORDERS = 20
SUMMARY_LENGTH = Ticket._meta.get_field("summary").max_length


class TicketError(Exception):
    """Input refused; `field` names the form field the message belongs next to (None: the whole form)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class TicketNotFound(Exception):
    """No such ticket, or another customer's: the same answer for both."""


def _clean_body(message: str) -> str:
    body = (message or "").strip()
    if not body:
        raise TicketError(_("Write a message."), field="message")
    limit = settings.SUPPORT_MESSAGE_MAX_LENGTH
    if len(body) > limit:
        raise TicketError(_("The message is %(length)s characters long; the limit is %(limit)s.")
                          % {"length": len(body), "limit": limit}, field="message")
    if "\x00" in body:
        # PostgreSQL refuses a NUL in text; it is never part of a real message.
        raise TicketError(_("The message contains characters that cannot be stored."), field="message")
    return body


def _summary(body: str) -> str:
    first_line = body.splitlines()[0].strip()
    return first_line if len(first_line) <= SUMMARY_LENGTH else first_line[:SUMMARY_LENGTH - 1] + "…"


def _check_hourly_cap(customer_id: int, now: datetime) -> None:
    """Call under the customer's lock, so that two requests at once cannot both take the last place."""
    limit = settings.SUPPORT_MESSAGES_PER_HOUR
    written = TicketMessage.objects.filter(ticket__customer_id=customer_id, is_staff=False,
                                           created_at__gt=now - timedelta(hours=1)).count()
    if written >= limit:
        raise TicketError(ngettext("You can send %(limit)s message an hour; please wait a little.",
                                   "You can send %(limit)s messages an hour; please wait a little.", limit)
                          % {"limit": limit}, field="message")


def _move(ticket_id: int, event: str, *, now: datetime, extra: Q | None = None, **fields) -> bool:
    sources, target = MOVES[event]
    queryset = Ticket.objects.filter(pk=ticket_id, state__in=sources)
    if extra is not None:
        queryset = queryset.filter(extra)
    return queryset.update(state=target, updated_at=now, **fields) == 1


def _subject_in_english(ticket: Ticket) -> str:
    # Mails are rendered in the reader's language: the English label is the msgid their templates translate.
    with translation.override("en"):
        return str(ticket.get_subject_display())


# --- customers ----------------------------------------------------------------------------------


def ticket_open(*, customer: Customer, subject: str, message: str, order_ids: Iterable[int] = (),
                now: datetime | None = None) -> Ticket:
    """A new ticket with its first message and the customer's orders it is about; staff are mailed.

    Raises TicketError (nothing stored) for a bad subject or message, an order that is not the customer's,
    or a customer past the open-ticket or hourly-message cap.
    """
    now = now or timezone.now()
    if subject not in Ticket.Subject.values:
        raise TicketError(_("Choose a subject."), field="subject")
    body = _clean_body(message)
    order_ids = list(dict.fromkeys(order_ids))
    if len(order_ids) > MAX_LINKED_ORDERS:
        raise TicketError(_("A ticket can be about at most %(limit)s orders.") % {"limit": MAX_LINKED_ORDERS},
                          field="orders")
    owned = set(Order.objects.filter(customer_id=customer.pk, pk__in=order_ids).values_list("pk", flat=True))
    foreign = [str(pk) for pk in order_ids if pk not in owned]
    if foreign:
        # The same words for a missing order and another customer's: neither is revealed.
        raise TicketError(ngettext("Order %(ids)s is not one of your orders.",
                                   "Orders %(ids)s are not your orders.", len(foreign))
                          % {"ids": ", ".join(f"#{pk}" for pk in foreign)}, field="orders")
    with transaction.atomic():
        lock_customer(customer.pk)
        open_count = Ticket.objects.filter(customer_id=customer.pk, state__in=(OPEN, ANSWERED)).count()
        limit = settings.SUPPORT_OPEN_TICKETS_PER_CUSTOMER
        if open_count >= limit:
            raise TicketError(ngettext(
                "You already have %(limit)s open ticket; close it or wait for it to be answered and closed.",
                "You already have %(limit)s open tickets; close one or wait for them to be answered and closed.",
                limit) % {"limit": limit})
        _check_hourly_cap(customer.pk, now)
        ticket = Ticket.objects.create(
            customer_id=customer.pk, subject=subject, summary=_summary(body), created_at=now, updated_at=now,
            last_message_at=now, last_customer_message_at=now, customer_read_at=now)
        if order_ids:
            ticket.orders.through.objects.bulk_create(
                [ticket.orders.through(ticket_id=ticket.pk, order_id=pk) for pk in order_ids])
        TicketMessage.objects.create(ticket=ticket, author_id=customer.user_id, body=body, created_at=now)
        notify_staff(kind="ticket_new", event_key=f"ticket_new:{ticket.pk}", context={
            "ticket_id": ticket.pk, "subject": _subject_in_english(ticket), "customer": customer.username,
            "message": body, "order_ids": order_ids})
    return ticket


def ticket_reply_customer(*, customer: Customer, ticket_id: int, message: str,
                          now: datetime | None = None) -> TicketMessage:
    """The customer writes on their ticket: it goes back to open. TicketNotFound for another's ticket."""
    now = now or timezone.now()
    body = _clean_body(message)
    with transaction.atomic():
        lock_customer(customer.pk)  # the lock order: customer, then ticket
        ticket = Ticket.objects.select_for_update().filter(pk=ticket_id, customer_id=customer.pk).first()
        if ticket is None:
            raise TicketNotFound(ticket_id)
        if ticket.state == CLOSED:
            raise TicketError(_("This ticket is closed. Open a new ticket if you need more help."))
        _check_hourly_cap(customer.pk, now)
        reply = TicketMessage.objects.create(ticket=ticket, author_id=customer.user_id, body=body, created_at=now)
        _move(ticket.pk, "customer_reply", now=now, last_message_at=now, last_customer_message_at=now,
              customer_read_at=now)
    return reply


def ticket_close_by_customer(*, customer: Customer, ticket_id: int, now: datetime | None = None) -> bool:
    """Close the customer's ticket; False when it was closed already. TicketNotFound for another's ticket."""
    now = now or timezone.now()
    with transaction.atomic():
        if not Ticket.objects.filter(pk=ticket_id, customer_id=customer.pk).exists():
            raise TicketNotFound(ticket_id)
        return _move(ticket_id, "close", now=now, closed_at=now, closed_by=Ticket.ClosedBy.CUSTOMER)


def ticket_mark_read_by_customer(*, ticket: Ticket, now: datetime | None = None) -> None:
    """The customer has seen the thread: staff answers up to now are no longer unread."""
    now = now or timezone.now()
    Ticket.objects.filter(pk=ticket.pk, last_staff_reply_at__gt=F("customer_read_at")).update(customer_read_at=now)


# --- staff --------------------------------------------------------------------------------------


def ticket_reply_staff(*, ticket_id: int, author, message: str, internal: bool = False, close: bool = False,
                       now: datetime | None = None) -> TicketMessage:
    """A staff answer (the ticket becomes answered and the customer is mailed) or an internal note (no
    change the customer can see). With `close`, the ticket is closed after it."""
    now = now or timezone.now()
    body = _clean_body(message)
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().select_related("customer").filter(pk=ticket_id).first()
        if ticket is None:
            raise TicketNotFound(ticket_id)
        if ticket.state == CLOSED and not internal:
            raise TicketError("The ticket is closed: only an internal note can be added.", field="message")
        reply = TicketMessage.objects.create(ticket=ticket, author=author, is_staff=True, is_internal=internal,
                                             body=body, created_at=now)
        if not internal:
            _move(ticket.pk, "staff_reply", now=now, answered_at=now, last_message_at=now,
                  last_staff_reply_at=now, staff_read_at=now)
            notify_customer(kind="ticket_answered", event_key=f"ticket_answered:{reply.pk}",
                            customer_id=ticket.customer_id, context={
                                "ticket_id": ticket.pk, "subject": _subject_in_english(ticket), "message": body})
        if close:
            _close_by_staff(ticket, actor=author, now=now)
    return reply


def _close_by_staff(ticket: Ticket, *, actor, now: datetime) -> bool:
    if not _move(ticket.pk, "close", now=now, closed_at=now, closed_by=Ticket.ClosedBy.STAFF):
        return False
    # The thread names who wrote each message; the audit log names who closed the ticket.
    audit_record(action="ticket.close", subject_type="ticket", subject_id=ticket.pk, actor=actor,
                 customer_id=ticket.customer_id, changes={"state": (ticket.state, CLOSED)})
    return True


def ticket_close_by_staff(*, ticket_id: int, actor=None, now: datetime | None = None) -> bool:
    """Close a ticket from the inbox; False when it was closed already (or does not exist)."""
    now = now or timezone.now()
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().filter(pk=ticket_id).first()
        return ticket is not None and _close_by_staff(ticket, actor=actor, now=now)


def ticket_mark_read_by_staff(*, ticket_id: int, now: datetime | None = None) -> None:
    """Staff opened the ticket: the customer's messages up to now are read."""
    now = now or timezone.now()
    Ticket.objects.filter(pk=ticket_id).filter(
        Q(staff_read_at__isnull=True) | Q(staff_read_at__lt=F("last_customer_message_at"))
    ).update(staff_read_at=now)


def tickets_autoclose(*, now: datetime | None = None) -> int:
    """Close every ticket answered more than SUPPORT_TICKET_AUTOCLOSE_DAYS ago; returns how many.

    One UPDATE on the state and the age: a customer reply committed first has moved the ticket back to
    open, and the row no longer matches.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.SUPPORT_TICKET_AUTOCLOSE_DAYS)
    _sources, target = MOVES["close"]
    return Ticket.objects.filter(state=ANSWERED, answered_at__lt=cutoff).update(
        state=target, closed_at=now, closed_by=Ticket.ClosedBy.AUTO, updated_at=now)


# --- staff actions on a ticket's orders ---------------------------------------------------------
# The order services make the change and write its audit row; the ticket keeps an internal note of it.


def _order_refill(*, order_id: int, actor, reason: str, now: datetime) -> str | None:
    """A refill asked on the customer's behalf, as the API asks it, with the audit row the API has no need of."""
    order = Order.objects.only("pk", "customer_id").get(pk=order_id)
    customer = Customer.objects.get(pk=order.customer_id)
    result = refills_request(customer=customer, order_ids=[order_id])[order_id]
    if not isinstance(result, Refill):
        return result
    audit_record(action="order.refill_request", subject_type="order", subject_id=order_id, actor=actor,
                 customer_id=order.customer_id, changes={"refill": (None, result.pk)}, reason=reason)
    return None


def _order_send_again(*, order_id: int, actor, reason: str, now: datetime) -> str | None:
    if resolve.order_send_again(order_id=order_id, actor=actor, reason=reason, now=now):
        return None
    return "Only a failed or unknown order, without an upstream id and not refunded, can be sent again"


def _order_cancel_and_refund(*, order_id: int, actor, reason: str, now: datetime) -> str | None:
    if resolve.order_cancel_and_refund(order_id=order_id, actor=actor, reason=reason, now=now):
        return None
    return "Only a paid, failed or unknown order can be canceled and refunded here"


# action -> (what the note says was done, the function); the admin's buttons are these keys.
ORDER_ACTIONS = {
    "send_again": ("Sent again", _order_send_again),
    "cancel_and_refund": ("Canceled and refunded", _order_cancel_and_refund),
    "refill": ("Refill requested for", _order_refill),
}


def ticket_order_action(*, ticket_id: int, order_id: int, action: str, actor, reason: str,
                        now: datetime | None = None) -> str | None:
    """Run one staff action on one of the ticket's orders. None when done; otherwise why not (nothing changed).

    TicketNotFound when the order is not linked to the ticket; TicketError without a reason.
    """
    now = now or timezone.now()
    reason = (reason or "").strip()
    if not reason:
        raise TicketError("Give a reason: it is kept in the audit log.", field="reason")
    done_words, run = ORDER_ACTIONS[action]
    with transaction.atomic():
        if not Ticket.orders.through.objects.filter(ticket_id=ticket_id, order_id=order_id).exists():
            raise TicketNotFound(ticket_id)
        refusal = run(order_id=order_id, actor=actor, reason=reason, now=now)
        if refusal is None:
            TicketMessage.objects.create(ticket_id=ticket_id, author=actor, is_staff=True, is_internal=True,
                                         body=f"{done_words} order #{order_id}: {reason}", created_at=now)
    return refusal
