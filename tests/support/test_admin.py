"""The staff inbox in the admin: the list, the ticket's page, replies, and the order actions reaching the orders."""

from __future__ import annotations

import importlib
import io
from decimal import Decimal

import pytest
from django.apps import apps as django_apps
from django.core.management import call_command
from django.urls import reverse

from accounts.models import LedgerEntry
from audit.models import AuditEntry
from notify.models import SentMail
from orders.models import Order, Refill, Stage, Status
from support import services
from support.models import CannedReply, Ticket
from tests.factories import OrderFactory
from tests.support.conftest import open_ticket

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _books_balance_after(db):
    yield
    call_command("check_ledger", stdout=io.StringIO())


def seed_canned_replies() -> None:
    """What the data migration seeds; a transactional test elsewhere in the run may have emptied the table."""
    importlib.import_module("support.migrations.0002_seed_canned_replies").seed(django_apps, None)


def test_the_seeded_canned_replies_include_order_in_progress():
    seed_canned_replies()
    seed_canned_replies()  # idempotent
    assert CannedReply.objects.filter(title="Order in progress").count() == 1
    assert CannedReply.objects.count() >= 5


def _page(ticket: Ticket) -> str:
    return reverse("admin:support_ticket_change", args=[ticket.pk])


def _action(ticket: Ticket, order: Order, action: str) -> str:
    return reverse("admin:support_ticket_order_action", args=[ticket.pk, order.pk, action])


def test_the_inbox_lists_tickets_with_unread_counts_and_filters(staff_client, customer, other_customer, staff_user):
    # given: one ticket with two unread customer messages, one that staff answered
    unread = open_ticket(customer, message="First")
    services.ticket_reply_customer(customer=customer, ticket_id=unread.pk, message="Second")
    answered = open_ticket(other_customer, subject=Ticket.Subject.PAYMENT, message="Paid but not credited")
    services.ticket_reply_staff(ticket_id=answered.pk, author=staff_user, message="Credited now")

    # when
    response = staff_client.get(reverse("admin:support_ticket_changelist"))

    # then
    assert response.status_code == 200
    rows = {t.pk: t for t in response.context["cl"].result_list}
    assert rows[unread.pk].staff_unread == 2 and rows[answered.pk].staff_unread == 0
    assert b"Payment: Paid but not credited" in response.content
    by_state = staff_client.get(reverse("admin:support_ticket_changelist"), {"state": "answered"})
    assert [t.pk for t in by_state.context["cl"].result_list] == [answered.pk]
    by_customer = staff_client.get(reverse("admin:support_ticket_changelist"), {"customer": customer.pk})
    assert [t.pk for t in by_customer.context["cl"].result_list] == [unread.pk]


def test_the_ticket_page_shows_thread_notes_and_orders_and_marks_it_read(staff_client, customer, staff_user):
    # given: an order that needs attention, and a ticket about it with an internal note
    order = OrderFactory(customer=customer, stage=Stage.UNKNOWN, upstream_id="",
                         attention="The add call's outcome is unknown")
    ticket = open_ticket(customer, orders=[order], message="Where is my order?")
    services.ticket_reply_staff(ticket_id=ticket.pk, author=staff_user, internal=True, message="Checking upstream")

    seed_canned_replies()

    # when
    response = staff_client.get(_page(ticket))

    # then: the thread with the note marked, the order with stage, provider and attention, the canned replies
    html = response.content.decode()
    assert response.status_code == 200
    assert "Where is my order?" in html and "Checking upstream" in html and "ticket-msg-internal" in html
    assert order.get_stage_display() in html and order.provider.name in html
    assert "The add call&#x27;s outcome is unknown" in html
    for action in ("send_again", "cancel_and_refund", "refill"):
        assert _action(ticket, order, action) in html
    assert 'data-body="Your order is in progress' in html
    # and the customer's message is read for staff now
    ticket.refresh_from_db()
    assert ticket.staff_read_at is not None
    listed = staff_client.get(reverse("admin:support_ticket_changelist")).context["cl"].result_list
    assert listed[0].staff_unread == 0


def test_staff_reply_from_the_admin_answers_and_mails(staff_client, customer):
    ticket = open_ticket(customer)
    response = staff_client.post(reverse("admin:support_ticket_reply", args=[ticket.pk]),
                                 {"message": "Your order is in progress."})
    assert response.status_code == 302 and response["Location"] == _page(ticket)
    ticket.refresh_from_db()
    assert ticket.state == Ticket.State.ANSWERED
    reply = ticket.messages.get(is_staff=True)
    assert reply.author.username == "agent" and not reply.is_internal
    assert SentMail.objects.filter(event_key=f"ticket_answered:{reply.pk}", kind="ticket_answered").exists()


def test_an_internal_note_from_the_admin_changes_nothing_the_customer_sees(staff_client, customer):
    ticket = open_ticket(customer)
    staff_client.post(reverse("admin:support_ticket_reply", args=[ticket.pk]),
                      {"message": "Looks like a provider delay", "internal": "on"})
    ticket.refresh_from_db()
    assert ticket.state == Ticket.State.OPEN and ticket.messages.get(is_staff=True).is_internal
    assert not SentMail.objects.filter(kind="ticket_answered").exists()


def test_reply_and_close_and_the_close_button(staff_client, customer):
    first, second = open_ticket(customer), open_ticket(customer)
    staff_client.post(reverse("admin:support_ticket_reply", args=[first.pk]), {"message": "Done", "close": "on"})
    staff_client.post(reverse("admin:support_ticket_close", args=[second.pk]))
    for ticket in (first, second):
        ticket.refresh_from_db()
        assert ticket.state == Ticket.State.CLOSED and ticket.closed_by == Ticket.ClosedBy.STAFF
        audit = AuditEntry.objects.get(subject_type="ticket", subject_id=ticket.pk, action="ticket.close")
        assert audit.actor.username == "agent" and audit.customer_id == customer.pk


def test_an_empty_reply_is_a_form_error(staff_client, customer):
    ticket = open_ticket(customer)
    response = staff_client.post(reverse("admin:support_ticket_reply", args=[ticket.pk]), {"message": "  "})
    assert response.status_code == 400 and response.context["form"].errors["message"]
    assert ticket.messages.count() == 1


def test_the_admin_edits_nothing_directly(staff_client, customer):
    ticket = open_ticket(customer)
    response = staff_client.post(_page(ticket), {"state": "closed", "subject": "api"})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.state == Ticket.State.OPEN and ticket.subject == Ticket.Subject.ORDER
    assert staff_client.get(reverse("admin:support_ticket_add")).status_code == 403
    assert staff_client.get(reverse("admin:support_ticket_delete", args=[ticket.pk])).status_code == 403


# --- order actions from a ticket ------------------------------------------------------------------


def test_send_again_from_a_ticket_moves_the_order_and_is_audited(staff_client, customer):
    # given: an order whose sending ended unknown
    order = OrderFactory(customer=customer, stage=Stage.UNKNOWN, attention="outcome unknown")
    ticket = open_ticket(customer, orders=[order])

    # when: the button shows the reason page, then the reason is given
    form = staff_client.get(_action(ticket, order, "send_again"))
    assert form.status_code == 200 and b"reason" in form.content
    response = staff_client.post(_action(ticket, order, "send_again"), {"reason": "Provider confirmed no order"})

    # then: the order is paid again for a worker, the audit row has the reason, the ticket a note
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.stage == Stage.PAID and order.attention == ""
    audit = AuditEntry.objects.get(subject_type="order", subject_id=order.pk, action="order.send_again")
    assert audit.reason == "Provider confirmed no order" and audit.actor.username == "agent"
    note = ticket.messages.get(is_internal=True)
    assert f"order #{order.pk}" in note.body and "Provider confirmed no order" in note.body


def test_cancel_and_refund_from_a_ticket_refunds_the_customer(staff_client, customer):
    # given: a paid order not yet sent
    order = OrderFactory(customer=customer, stage=Stage.PAID)
    balance_before = customer.balance
    ticket = open_ticket(customer, orders=[order])

    # when
    response = staff_client.post(_action(ticket, order, "cancel_and_refund"), {"reason": "Customer asked on ticket"})

    # then: final, Canceled, the charge back on the balance through the ledger, audited
    assert response.status_code == 302
    order.refresh_from_db()
    customer.refresh_from_db()
    assert order.stage == Stage.FINAL and order.status == Status.CANCELED and order.refunded == order.charge
    assert customer.balance == balance_before + order.charge
    assert LedgerEntry.objects.filter(order=order, kind=LedgerEntry.Kind.REFUND).count() == 1
    assert AuditEntry.objects.filter(subject_id=order.pk, action="order.cancel_and_refund",
                                     reason="Customer asked on ticket").exists()

    # and doing it again is refused with a message, nothing more refunded
    again = staff_client.post(_action(ticket, order, "cancel_and_refund"), {"reason": "twice"}, follow=True)
    assert b"Nothing changed" in again.content
    assert LedgerEntry.objects.filter(order=order, kind=LedgerEntry.Kind.REFUND).count() == 1


def test_refill_from_a_ticket_opens_a_refill_for_the_customer(staff_client, customer):
    # given: a completed order of a service with refill
    order = OrderFactory(customer=customer, stage=Stage.FINAL, status=Status.COMPLETED, upstream_id="U-77",
                         remains=0, finished_at=customer.created_at)
    ticket = open_ticket(customer, orders=[order], subject=Ticket.Subject.REFILL, message="Followers dropped")

    # when
    response = staff_client.post(_action(ticket, order, "refill"), {"reason": "Drop confirmed"})

    # then: a refill row for the pipeline to send, and an audit row naming it
    assert response.status_code == 302
    refill = Refill.objects.get(order=order)
    audit = AuditEntry.objects.get(subject_type="order", subject_id=order.pk, action="order.refill_request")
    assert audit.changes == {"refill": [None, str(refill.pk)]} and audit.reason == "Drop confirmed"


def test_an_order_action_needs_a_reason_and_a_linked_order(staff_client, customer):
    order = OrderFactory(customer=customer, stage=Stage.PAID)
    other = OrderFactory(customer=customer, stage=Stage.PAID)
    ticket = open_ticket(customer, orders=[order])

    # no reason: the form again, nothing done
    response = staff_client.post(_action(ticket, order, "cancel_and_refund"), {"reason": ""})
    assert response.status_code == 200 and response.context["form"].errors["reason"]
    order.refresh_from_db()
    assert order.stage == Stage.PAID and not AuditEntry.objects.exists()

    # an order not linked to the ticket, or an unknown action: 404
    assert staff_client.post(_action(ticket, other, "cancel_and_refund"), {"reason": "x"}).status_code == 404
    bad = reverse("admin:support_ticket_order_action", args=[ticket.pk, order.pk, "delete"])
    assert staff_client.post(bad, {"reason": "x"}).status_code == 404
    other.refresh_from_db()
    assert other.stage == Stage.PAID and other.refunded == Decimal("0")
