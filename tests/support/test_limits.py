"""Tickets are private, bounded and escaped: isolation between customers, the caps, the length, HTML as text."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from support import services
from support.models import Ticket, TicketMessage
from support.services import TicketError
from tests.support.conftest import open_ticket

pytestmark = pytest.mark.django_db


# --- isolation ----------------------------------------------------------------------------------


def test_another_customers_ticket_is_a_404_like_a_missing_one(client, customer, other_customer):
    # given: a ticket of `customer`; `other_customer` signed in
    ticket = open_ticket(customer, message="Private question")
    client.force_login(other_customer.user)
    missing_id = ticket.pk + 1000

    # when / then: viewing, replying and closing all answer 404, the same page as for a missing ticket
    for url_name, method in (("ticket_detail", "get"), ("ticket_detail", "post"), ("ticket_close", "post")):
        theirs_url, missing_url = reverse(url_name, args=[ticket.pk]), reverse(url_name, args=[missing_id])
        theirs = getattr(client, method)(theirs_url, {"message": "let me in"})
        missing = getattr(client, method)(missing_url, {"message": "let me in"})
        assert theirs.status_code == missing.status_code == 404
        # the same page but for the address itself (the language switcher comes back to it)
        assert _without_tokens(theirs.content.replace(theirs_url.encode(), b"URL")) == \
            _without_tokens(missing.content.replace(missing_url.encode(), b"URL"))
        assert b"Private question" not in theirs.content

    # and nothing changed
    ticket.refresh_from_db()
    assert ticket.state == Ticket.State.OPEN and ticket.messages.count() == 1
    assert b"Private question" not in client.get(reverse("tickets")).content


def _without_tokens(content: bytes) -> bytes:
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", content)


def test_an_id_beyond_the_column_range_is_a_404(customer_client):
    assert customer_client.get("/tickets/99999999999999999999999/").status_code == 404
    assert customer_client.post("/tickets/99999999999999999999999/close/").status_code == 404


def test_signed_out_visitors_are_sent_to_log_in(client):
    response = client.get(reverse("tickets"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


# --- caps -----------------------------------------------------------------------------------------


def test_open_tickets_per_customer_are_capped(customer_client, customer, settings):
    # given: the cap is 2 and two tickets are open
    settings.SUPPORT_OPEN_TICKETS_PER_CUSTOMER = 2
    first = open_ticket(customer)
    open_ticket(customer)

    # when: a third one
    response = customer_client.post(reverse("ticket_new"), {"subject": "other", "message": "Third"})

    # then: refused with a message on the form, nothing stored
    assert response.status_code == 200
    assert "2 open tickets" in str(response.context["form"].non_field_errors())
    assert Ticket.objects.filter(customer=customer).count() == 2

    # once one is closed, a new one is allowed
    services.ticket_close_by_customer(customer=customer, ticket_id=first.pk)
    assert customer_client.post(reverse("ticket_new"), {"subject": "other", "message": "Third"}).status_code == 302


def test_messages_per_hour_are_capped(customer, settings):
    # given: 3 messages an hour, used by an opening message and two replies
    settings.SUPPORT_MESSAGES_PER_HOUR = 3
    t0 = timezone.now()
    ticket = open_ticket(customer, now=t0)
    services.ticket_reply_customer(customer=customer, ticket_id=ticket.pk, message="2", now=t0 + timedelta(minutes=1))
    services.ticket_reply_customer(customer=customer, ticket_id=ticket.pk, message="3", now=t0 + timedelta(minutes=2))

    # when / then: the fourth within the hour is refused, on a reply or a new ticket
    with pytest.raises(TicketError) as error:
        services.ticket_reply_customer(customer=customer, ticket_id=ticket.pk, message="4",
                                       now=t0 + timedelta(minutes=3))
    assert error.value.field == "message" and "3 messages an hour" in error.value.message
    with pytest.raises(TicketError):
        open_ticket(customer, now=t0 + timedelta(minutes=3))
    assert TicketMessage.objects.filter(ticket__customer=customer).count() == 3

    # and an hour after the first, one place is free again
    services.ticket_reply_customer(customer=customer, ticket_id=ticket.pk, message="4",
                                   now=t0 + timedelta(hours=1, seconds=1))


def test_staff_answers_do_not_count_against_the_customer(customer, staff_user, settings):
    settings.SUPPORT_MESSAGES_PER_HOUR = 1
    ticket = open_ticket(customer)
    for n in range(3):
        services.ticket_reply_staff(ticket_id=ticket.pk, author=staff_user, message=f"answer {n}")
    with pytest.raises(TicketError):
        services.ticket_reply_customer(customer=customer, ticket_id=ticket.pk, message="again")


def test_a_message_over_the_length_cap_is_refused_next_to_the_field(customer_client, settings):
    # given: the default cap
    assert settings.SUPPORT_MESSAGE_MAX_LENGTH == 5000
    page = customer_client.get(reverse("ticket_new"))
    textarea = re.search(rb"<textarea[^>]*>", page.content).group(0)
    maxlength = re.search(rb'maxlength="(\d+)"', textarea)
    assert maxlength is None or int(maxlength.group(1)) >= 5000

    # when: 5001 characters
    response = customer_client.post(reverse("ticket_new"), {"subject": "api", "message": "x" * 5001})

    # then: the server's words, next to the message field
    assert response.status_code == 200
    assert response.context["form"].errors["message"] == [
        "The message is 5001 characters long; the limit is 5000."]
    assert b"the limit is 5000" in response.content and Ticket.objects.count() == 0
    # and exactly 5000 is fine
    assert customer_client.post(reverse("ticket_new"), {"subject": "api", "message": "x" * 5000}).status_code == 302


def test_the_subject_and_the_message_are_required(customer_client):
    response = customer_client.post(reverse("ticket_new"), {"subject": "", "message": "  "})
    errors = response.context["form"].errors
    assert response.status_code == 200 and "subject" in errors and "message" in errors
    bad = customer_client.post(reverse("ticket_new"), {"subject": "refund-me", "message": "hello"})
    assert "subject" in bad.context["form"].errors
    assert Ticket.objects.count() == 0


def test_a_blank_reply_is_a_form_error(customer_client, customer):
    ticket = open_ticket(customer)
    response = customer_client.post(reverse("ticket_detail", args=[ticket.pk]), {"message": "   \n "})
    assert response.status_code == 200 and "message" in response.context["form"].errors
    assert ticket.messages.count() == 1


# --- escaping -------------------------------------------------------------------------------------


def test_html_in_a_message_shows_as_text_and_links_stay_plain(customer_client, customer, staff_user, client):
    # given: markup and a link from the customer, and a staff answer with markup too
    body = '<script>alert("x")</script> <b>bold</b>\nsee https://evil.example/page'
    response = customer_client.post(reverse("ticket_new"), {"subject": "other", "message": body})
    ticket = Ticket.objects.get(customer=customer)
    services.ticket_reply_staff(ticket_id=ticket.pk, author=staff_user, message='<img src=x onerror="alert(1)">')

    # when
    page = customer_client.get(response["Location"]).content.decode()

    # then: escaped, line breaks kept, no link made
    assert ("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &lt;b&gt;bold&lt;/b&gt;<br>"
            "see https://evil.example/page") in page
    assert "<script>alert" not in page and "<b>bold" not in page and "<img src=x" not in page
    assert 'href="https://evil.example' not in page

    # and in the admin too
    client.force_login(staff_user)
    admin_page = client.get(reverse("admin:support_ticket_change", args=[ticket.pk])).content.decode()
    assert "&lt;script&gt;" in admin_page and "<script>alert" not in admin_page and "<img src=x" not in admin_page
