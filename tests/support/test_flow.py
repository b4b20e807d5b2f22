"""A ticket's life from the customer's pages: open with orders, answered, replied, closed, closed by itself."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from notify.models import SentMail
from support import services
from support.models import Ticket, TicketMessage
from support.tasks import tickets_autoclose_task
from tests.support.conftest import STAFF_EMAIL, mail_keys, open_ticket

pytestmark = pytest.mark.django_db


def test_a_customer_opens_a_ticket_about_two_of_their_orders(customer_client, customer, orders):
    # when
    response = customer_client.post(reverse("ticket_new"), {
        "subject": "order", "orders": f"{orders[0].pk}, #{orders[1].pk}",
        "message": "Both orders are still Pending.\nCan you check?"})

    # then: the ticket is stored with its orders and first message, and the customer lands on it
    ticket = Ticket.objects.get(customer=customer)
    assert response.status_code == 302 and response["Location"] == reverse("ticket_detail", args=[ticket.pk])
    assert ticket.state == Ticket.State.OPEN and ticket.subject == "order"
    assert sorted(ticket.orders.values_list("pk", flat=True)) == sorted(o.pk for o in orders)
    assert ticket.summary == "Both orders are still Pending."
    assert list(ticket.messages.values_list("body", "is_staff")) == [("Both orders are still Pending.\nCan you check?",
                                                                      False)]
    # and staff are mailed once, with what the mail needs
    mail = SentMail.objects.get(event_key=f"ticket_new:{ticket.pk}")
    assert mail.kind == "ticket_new" and mail.to_address == STAFF_EMAIL
    assert mail.context["ticket_id"] == ticket.pk and mail.context["customer"] == customer.username
    assert mail.context["subject"] == "Order" and sorted(mail.context["order_ids"]) == sorted(o.pk for o in orders)
    page = customer_client.get(response["Location"])
    assert page.status_code == 200 and b"Can you check?" in page.content
    for order in orders:
        assert reverse("order_detail", args=[order.pk]).encode() in page.content


@pytest.mark.parametrize("which", ["foreign", "missing"])
def test_an_order_that_is_not_the_customers_is_refused_with_a_form_error(customer_client, orders, foreign_order,
                                                                         which):
    # given: another customer's order, or an id no order has; the same words for both
    order_id = foreign_order.pk if which == "foreign" else foreign_order.pk + 1000

    # when
    response = customer_client.post(reverse("ticket_new"), {
        "subject": "order", "orders": f"{orders[0].pk} {order_id}", "message": "Where is it?"})

    # then: the form comes back with the error next to the orders field; nothing is stored or mailed
    assert response.status_code == 200
    assert response.context["form"].errors["orders"] == [f"Order #{order_id} is not one of your orders."]
    assert Ticket.objects.count() == 0 and SentMail.objects.count() == 0


def test_order_ids_that_are_not_numbers_are_a_form_error(customer_client):
    response = customer_client.post(reverse("ticket_new"), {"subject": "order", "orders": "12, abc",
                                                             "message": "Hi"})
    assert response.status_code == 200 and "orders" in response.context["form"].errors
    assert Ticket.objects.count() == 0


def test_the_order_page_links_to_a_new_ticket_prefilled_with_the_order(customer_client, orders):
    # given: the order's page has the link
    detail = customer_client.get(reverse("order_detail", args=[orders[0].pk]))
    link = f'{reverse("ticket_new")}?order={orders[0].pk}'
    assert link.encode() in detail.content

    # when
    page = customer_client.get(link)

    # then: the orders field holds the id and the subject is Order
    form = page.context["form"]
    assert form["orders"].value() == str(orders[0].pk) and form["subject"].value() == "order"


def test_answered_replied_and_closed(customer_client, customer, orders, staff_user):
    # given: an open ticket that staff answer
    ticket = open_ticket(customer, orders=orders[:1])
    answer = services.ticket_reply_staff(ticket_id=ticket.pk, author=staff_user, message="It started an hour ago.")
    ticket.refresh_from_db()
    assert ticket.state == Ticket.State.ANSWERED and ticket.answered_at is not None
    assert f"ticket_answered:{answer.pk}" in mail_keys()
    mail = SentMail.objects.get(event_key=f"ticket_answered:{answer.pk}")
    assert mail.customer_id == customer.pk and mail.context == {"ticket_id": ticket.pk, "subject": "Order",
                                                                "message": "It started an hour ago."}

    # then: the list and the nav show the unread answer until the customer opens the ticket
    listing = customer_client.get(reverse("tickets"))
    assert b'data-unread="1"' in listing.content and b"data-support-unread" in listing.content
    page = customer_client.get(reverse("ticket_detail", args=[ticket.pk]))
    assert b"It started an hour ago." in page.content and b"msg-new" in page.content
    listing = customer_client.get(reverse("tickets"))
    assert b"data-unread=" not in listing.content and b"data-support-unread" not in listing.content

    # when: the customer replies, the ticket is open again
    response = customer_client.post(reverse("ticket_detail", args=[ticket.pk]), {"message": "Thanks, one more thing"})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.state == Ticket.State.OPEN and ticket.messages.count() == 3

    # when: the customer closes it
    response = customer_client.post(reverse("ticket_close", args=[ticket.pk]))
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.state == Ticket.State.CLOSED and ticket.closed_by == Ticket.ClosedBy.CUSTOMER
    assert ticket.closed_at is not None

    # then: the page has no reply box and no close button, and a reply is refused
    page = customer_client.get(reverse("ticket_detail", args=[ticket.pk]))
    assert b"data-closed" in page.content and b"data-close-ticket" not in page.content
    refused = customer_client.post(reverse("ticket_detail", args=[ticket.pk]), {"message": "Hello?"})
    assert refused.status_code == 200 and "closed" in str(refused.context["form"].non_field_errors())
    assert ticket.messages.count() == 3


def test_internal_notes_never_reach_the_customer(customer_client, customer, staff_user):
    # given
    ticket = open_ticket(customer)
    note = services.ticket_reply_staff(ticket_id=ticket.pk, author=staff_user, internal=True,
                                       message="Provider says the link is private. SECRET-NOTE")

    # then: no state change, no mail, no unread badge, nothing on the page
    ticket.refresh_from_db()
    assert ticket.state == Ticket.State.OPEN and ticket.last_staff_reply_at is None
    assert f"ticket_answered:{note.pk}" not in mail_keys()
    page = customer_client.get(reverse("ticket_detail", args=[ticket.pk]))
    assert b"SECRET-NOTE" not in page.content
    assert b"data-unread" not in customer_client.get(reverse("tickets")).content


def test_staff_may_reply_and_close_at_once(customer, staff_user):
    ticket = open_ticket(customer)
    services.ticket_reply_staff(ticket_id=ticket.pk, author=staff_user, message="Done.", close=True)
    ticket.refresh_from_db()
    assert ticket.state == Ticket.State.CLOSED and ticket.closed_by == Ticket.ClosedBy.STAFF
    assert ticket.last_staff_reply_at is not None


def test_tickets_answered_long_enough_ago_close_by_themselves(customer, other_customer, staff_user, settings):
    # given: the default of 3 days; one ticket answered at t0, one still waiting for staff
    settings.SUPPORT_TICKET_AUTOCLOSE_DAYS = 3
    t0 = timezone.now().replace(microsecond=0)
    answered = open_ticket(customer, now=t0 - timedelta(hours=1))
    services.ticket_reply_staff(ticket_id=answered.pk, author=staff_user, message="Fixed.", now=t0)
    waiting = open_ticket(other_customer, now=t0 - timedelta(days=10))

    # then: not before the three days are over
    assert services.tickets_autoclose(now=t0 + timedelta(days=3)) == 0
    assert services.tickets_autoclose(now=t0 + timedelta(days=3, seconds=1)) == 1
    answered.refresh_from_db()
    waiting.refresh_from_db()
    assert answered.state == Ticket.State.CLOSED and answered.closed_by == Ticket.ClosedBy.AUTO
    assert answered.closed_at == t0 + timedelta(days=3, seconds=1)
    assert waiting.state == Ticket.State.OPEN
    # and running it again (the task, twice) changes nothing
    assert tickets_autoclose_task() == 0
    assert tickets_autoclose_task() == 0


def test_a_customer_reply_keeps_an_answered_ticket_from_closing(customer, staff_user):
    t0 = timezone.now()
    ticket = open_ticket(customer, now=t0)
    services.ticket_reply_staff(ticket_id=ticket.pk, author=staff_user, message="Fixed.", now=t0)
    services.ticket_reply_customer(customer=customer, ticket_id=ticket.pk, message="Not yet",
                                   now=t0 + timedelta(days=1))
    assert services.tickets_autoclose(now=t0 + timedelta(days=30)) == 0
    ticket.refresh_from_db()
    assert ticket.state == Ticket.State.OPEN


def test_the_beat_schedule_runs_the_auto_close(settings):
    entries = [entry for entry in settings.CELERY_BEAT_SCHEDULE.values()
               if entry["task"] == "support.tasks.tickets_autoclose_task"]
    assert len(entries) == 1


def test_a_reply_mail_is_recorded_once_per_answer(customer, staff_user):
    ticket = open_ticket(customer)
    first = services.ticket_reply_staff(ticket_id=ticket.pk, author=staff_user, message="One")
    second = services.ticket_reply_staff(ticket_id=ticket.pk, author=staff_user, message="Two")
    keys = {k for k in mail_keys() if k.startswith("ticket_answered:")}
    assert keys == {f"ticket_answered:{first.pk}", f"ticket_answered:{second.pk}"}
    assert TicketMessage.objects.filter(ticket=ticket, is_staff=True).count() == 2


def test_the_pages_and_the_errors_speak_indonesian(customer_client, customer, staff_user, settings):
    # given: a customer who chose Indonesian, with an answered ticket
    customer_client.cookies["django_language"] = "id"
    ticket = open_ticket(customer, subject=Ticket.Subject.CANCEL)
    services.ticket_reply_staff(ticket_id=ticket.pk, author=staff_user, message="Sudah dibatalkan.")

    # then: the list, the thread, the new-ticket form and its errors are translated
    listing = customer_client.get(reverse("tickets")).content.decode()
    assert "Tiket baru" in listing and "Pembatalan" in listing and "Dijawab" in listing and "1 balasan baru" in listing
    thread = customer_client.get(reverse("ticket_detail", args=[ticket.pk])).content.decode()
    assert "Kirim balasan" in thread and "Tutup tiket" in thread
    settings.SUPPORT_MESSAGE_MAX_LENGTH = 100
    refused = customer_client.post(reverse("ticket_new"), {"subject": "api", "message": "x" * 101}).content.decode()
    assert "Pesan ini 101 karakter; batasnya 100." in refused
