"""Fixtures for the customer pages: a signed-in customer, services of a few types, orders in a given state."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orders.models import Order, Source
from orders.services import order_create
from tests.factories import CategoryFactory, CustomerFactory, ServiceFactory

PASSWORD = "correct-horse-battery"


@pytest.fixture
def customer(db):
    return CustomerFactory(funds=Decimal("100"))


@pytest.fixture
def customer_client(client, customer):
    client.force_login(customer.user)
    return client


@pytest.fixture
def category(db):
    return CategoryFactory(name="Instagram")


@pytest.fixture
def default_service(category):
    return ServiceFactory(name="Instagram Followers HQ", category=category, rate=Decimal("2.00"), min=10, max=5000)


@pytest.fixture
def comments_service(category):
    return ServiceFactory(name="Instagram Custom Comments", type="Custom Comments", category=category,
                          rate=Decimal("10.00"), min=1, max=100, refill=False, cancel=False)


def place_order(*, customer, service, django_capture_on_commit_callbacks, status: str | None = None,
                upstream_id: str = "", **data) -> Order:
    """An order placed through the real service; optionally moved on as the pipeline would."""
    with django_capture_on_commit_callbacks(execute=False):
        order = order_create(customer=customer, service=service, data=data, source=Source.WEB)
    if status:
        Order.objects.filter(pk=order.pk).update(status=status, upstream_id=upstream_id)
        order.refresh_from_db()
    return order


@pytest.fixture
def make_order(django_capture_on_commit_callbacks):
    def make(*, customer, service, status: str | None = None, upstream_id: str = "", **data) -> Order:
        data.setdefault("link", "https://instagram.com/p/abc")
        if service.type == "Default":
            data.setdefault("quantity", "100")
        return place_order(customer=customer, service=service, status=status, upstream_id=upstream_id,
                           django_capture_on_commit_callbacks=django_capture_on_commit_callbacks, **data)

    return make
