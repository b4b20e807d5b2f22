"""Fixtures for the webhook tests: a receiver on loopback and a customer with an endpoint pointing at it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.factories import CustomerFactory
from tests.webhooks.receiver import Receiver
from webhooks import sender
from webhooks.services import endpoint_create


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _fresh_session():
    """No connection pooled from an earlier test (whose address rules may have differed)."""
    sender.close_session()
    yield
    sender.close_session()


@pytest.fixture
def reseller(db):
    return CustomerFactory(funds=Decimal("100"))


@pytest.fixture
def endpoint(reseller, receiver):
    created = endpoint_create(customer=reseller, url=receiver.url)
    receiver.secret = created.secret  # shown once on the API page, pasted into the receiver's settings
    return created
