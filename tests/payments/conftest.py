"""The gateway simulator as fixtures, and gateways pointing at it."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from accounts.gateways.simulator import GatewaySimulator
from accounts.models import Gateway

CREDENTIALS = {
    "stripe": {"secret_key": "sk_test_panel", "webhook_secret": "whsec_panel_test"},
    "paypal": {"client_id": "paypal-client", "client_secret": "paypal-secret", "webhook_id": "WH-PANEL-1"},
    "cryptomus": {"merchant": "c26b80a6-a0e7-4d3b-9d5c-4e1e0b7c1d11", "payment_key": "cryptomus-payment-key"},
}


@pytest.fixture
def gateway_simulator():
    sim = GatewaySimulator().start()
    yield sim
    sim.stop()


def make_gateway(sim: GatewaySimulator, kind: str, *, name: str | None = None, **fields) -> Gateway:
    """A gateway of `kind` at the simulator, with the simulator's credentials."""
    credentials = {**CREDENTIALS[kind], **fields.pop("credentials", {})}
    sim.kinds[kind].configure(credentials)
    return Gateway.objects.create(name=name or kind, kind=kind, api_base=sim.api_base(kind),
                                  credentials=credentials, **fields)


@pytest.fixture
def ledger_checked(db):
    """After the test, the money invariants still hold."""
    yield
    call_command("check_ledger", stdout=io.StringIO())
