"""Caps hold under concurrency, and a reply racing the auto-close leaves one consistent state (PostgreSQL)."""

from __future__ import annotations

import contextlib
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from support import services
from support.models import Ticket, TicketMessage
from support.services import TicketError
from tests.factories import CustomerFactory
from tests.support.conftest import open_ticket

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _at_once(count: int, work) -> list[str]:
    start = threading.Barrier(count)
    outcomes: list[str] = []
    lock = threading.Lock()

    def run(n: int) -> None:
        try:
            start.wait()
            work(n)
            result = "ok"
        except TicketError:
            result = "refused"
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(outcomes)


def test_ten_tickets_at_once_against_a_cap_of_three(settings):
    settings.SUPPORT_OPEN_TICKETS_PER_CUSTOMER = 3
    customer = CustomerFactory()

    outcomes = _at_once(10, lambda n: open_ticket(customer, message=f"ticket {n}"))

    assert outcomes == ["ok"] * 3 + ["refused"] * 7
    assert Ticket.objects.filter(customer=customer).count() == 3


def test_ten_replies_at_once_against_the_hourly_cap(settings):
    settings.SUPPORT_MESSAGES_PER_HOUR = 4
    customer = CustomerFactory()
    ticket = open_ticket(customer)  # the first of the four

    outcomes = _at_once(10, lambda n: services.ticket_reply_customer(customer=customer, ticket_id=ticket.pk,
                                                                      message=f"reply {n}"))

    assert outcomes == ["ok"] * 3 + ["refused"] * 7
    assert TicketMessage.objects.filter(ticket=ticket).count() == 4


def test_a_customer_reply_racing_the_auto_close_never_lands_on_a_closed_ticket():
    # given: tickets answered long ago
    customer = CustomerFactory()
    old = timezone.now() - timedelta(days=30)
    tickets = [open_ticket(customer, message=f"t{n}", now=old) for n in range(4)]
    for ticket in tickets:
        services.ticket_reply_staff(ticket_id=ticket.pk, author=None, message="answer", now=old)

    # when: the customer replies to each while the auto-close runs
    def work(n: int) -> None:
        if n == 0:
            services.tickets_autoclose()
        else:
            for ticket in tickets:
                with contextlib.suppress(TicketError):
                    services.ticket_reply_customer(customer=customer, ticket_id=ticket.pk, message="still there?")

    _at_once(2, work)

    # then: each ticket is either closed with no customer message after the close, or open with the reply
    for ticket in Ticket.objects.filter(pk__in=[t.pk for t in tickets]):
        replies = ticket.messages.filter(body="still there?")
        if ticket.state == Ticket.State.CLOSED:
            assert not replies.filter(created_at__gt=ticket.closed_at).exists()
        else:
            assert ticket.state == Ticket.State.OPEN and replies.count() == 1
