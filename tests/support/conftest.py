"""Fixtures for support tickets: two customers with orders, a signed-in customer, a superuser in the admin."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from notify.models import SentMail
from support import services
from support.models import Ticket
from tests.factories import CustomerFactory, OrderFactory

STAFF_EMAIL = "support@panel.test"


@pytest.fixture(autouse=True)
def _support_mailbox(settings):
    settings.SUPPORT_EMAIL = STAFF_EMAIL


@pytest.fixture
def customer(db):
    return CustomerFactory(funds=Decimal("50"))


@pytest.fixture
def other_customer(db):
    return CustomerFactory(funds=Decimal("50"))


@pytest.fixture
def customer_client(client, customer):
    client.force_login(customer.user)
    return client


@pytest.fixture
def orders(customer):
    return [OrderFactory(customer=customer), OrderFactory(customer=customer)]


@pytest.fixture
def foreign_order(other_customer):
    return OrderFactory(customer=other_customer)


@pytest.fixture
def staff_user(db):
    return get_user_model().objects.create_superuser("agent", "agent@panel.test", "pw-agent-123")


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


def open_ticket(customer, *, orders=(), message: str = "My order has been pending for hours.",
                subject: str = Ticket.Subject.ORDER, now=None) -> Ticket:
    return services.ticket_open(customer=customer, subject=subject, message=message,
                                order_ids=[o.pk for o in orders], now=now)


def mail_keys() -> set[str]:
    return set(SentMail.objects.values_list("event_key", flat=True))
