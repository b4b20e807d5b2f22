"""No query per row: the customer's list, the nav count, the admin inbox and a ticket's page."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from support import services
from tests.factories import CustomerFactory, OrderFactory
from tests.support.conftest import open_ticket

pytestmark = pytest.mark.django_db


def _queries(client, url: str, **params) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params)
    assert response.status_code == 200
    return len(captured)


def _tickets_for(customer, staff_user, count: int) -> None:
    for n in range(count):
        ticket = open_ticket(customer, message=f"question {n}")
        services.ticket_reply_staff(ticket_id=ticket.pk, author=staff_user, message=f"answer {n}")
        services.ticket_reply_customer(customer=customer, ticket_id=ticket.pk, message=f"follow-up {n}")


def test_the_customer_list_runs_the_same_queries_for_3_and_30_tickets(customer_client, customer, staff_user,
                                                                      settings):
    settings.SUPPORT_OPEN_TICKETS_PER_CUSTOMER = 100
    settings.SUPPORT_MESSAGES_PER_HOUR = 1000
    _tickets_for(customer, staff_user, 3)
    few = _queries(customer_client, reverse("tickets"))
    _tickets_for(customer, staff_user, 27)
    many = _queries(customer_client, reverse("tickets"))
    assert few == many
    assert many <= 10  # session, user, customer, nav count, page count and rows, messages...


def test_the_admin_inbox_runs_the_same_queries_for_3_and_30_tickets(staff_client, staff_user):
    # given: each ticket from its own customer (the customer filter lists them all), with orders and replies
    def tickets(count: int) -> None:
        for _ in range(count):
            customer = CustomerFactory()
            ticket = open_ticket(customer, orders=[OrderFactory(customer=customer)])
            services.ticket_reply_staff(ticket_id=ticket.pk, author=staff_user, message="On it")

    tickets(3)
    few = _queries(staff_client, reverse("admin:support_ticket_changelist"))
    tickets(27)
    many = _queries(staff_client, reverse("admin:support_ticket_changelist"))
    assert few == many
    filtered = _queries(staff_client, reverse("admin:support_ticket_changelist"), state="answered")
    assert filtered <= many + 1


def test_a_tickets_admin_page_does_not_grow_with_its_orders_and_messages(staff_client, customer, staff_user,
                                                                         settings):
    settings.SUPPORT_MESSAGES_PER_HOUR = 1000

    def ticket_with(count: int):
        ticket = open_ticket(customer, orders=[OrderFactory(customer=customer) for _ in range(count)])
        for n in range(count):
            services.ticket_reply_staff(ticket_id=ticket.pk, author=staff_user, message=f"a{n}", internal=n % 2 == 0)
            services.ticket_reply_customer(customer=customer, ticket_id=ticket.pk, message=f"c{n}")
        return ticket

    small, large = ticket_with(2), ticket_with(15)
    url = "admin:support_ticket_change"
    assert _queries(staff_client, reverse(url, args=[small.pk])) == _queries(staff_client,
                                                                             reverse(url, args=[large.pk]))
    customer_url = "ticket_detail"
    staff_client.force_login(customer.user)
    assert _queries(staff_client, reverse(customer_url, args=[small.pk])) == _queries(
        staff_client, reverse(customer_url, args=[large.pk]))
