"""Refusals of `add`: about the provider (an alternate may take the order) or about the order (it fails);
and the simulator honouring `request_id` when told to, as this panel's own /api/v2 does."""

from __future__ import annotations

import pytest

from providers.client import ProviderClient
from providers.client_refusals import ACCOUNT, FUNDS, ORDER, SERVICE, add_refusal_kind, is_low_balance
from tests.simulator_fixtures import sample_fields


@pytest.mark.parametrize(("message", "kind"), [
    ("Not enough funds on balance", FUNDS),
    ("Insufficient funds", FUNDS),
    ("Your balance is too low", FUNDS),
    ("Incorrect service ID", SERVICE),
    ("Service not found", SERVICE),
    ("This service is disabled", SERVICE),
    ("Service is inactive", SERVICE),
    ("service id not found", SERVICE),
    ("Invalid API key", ACCOUNT),
    ("Your account is suspended", ACCOUNT),
    ("New orders are paused for maintenance", ACCOUNT),
    ("Incorrect link", ORDER),
    ("Quantity less than minimal 100", ORDER),
    ("Drip-feed is not available for this service", ORDER),
    ("You have active order with this link. Please wait until order being completed.", ORDER),
    ("", ORDER),
])
def test_refusals_are_sorted_by_what_they_are_about(message, kind):
    assert add_refusal_kind(message) == kind
    assert is_low_balance(message) == (kind == FUNDS)


@pytest.mark.django_db
def test_the_simulator_honours_request_id_only_when_told(simulator, simulator_provider):
    service = simulator.catalogue.first_of_type("Default")
    fields = sample_fields(service)
    client = ProviderClient(simulator_provider)
    params = {"key": simulator_provider.api_key, "action": "add", "service": str(service.service_id), **fields,
              "request_id": "panel-1"}

    # given a panel that ignores the parameter: two orders
    first, second = simulator.api.handle(params), simulator.api.handle(params)
    assert first != second and len(simulator.accepted_adds) == 2

    # given one that honours it: the same order for the same id, charged once
    simulator.config.set(honour_request_id=True)
    balance = simulator.balance_of(simulator_provider.api_key)
    params["request_id"] = "panel-2"
    third, fourth = simulator.api.handle(params), simulator.api.handle(params)
    assert third == fourth and len(simulator.accepted_adds) == 3
    assert simulator.balance_of(simulator_provider.api_key) == balance - simulator.accepted_adds[-1]["charge"]

    # and an error for the same id with other parameters, another order for another id
    changed = simulator.api.handle({**params, "link": "https://instagram.com/p/other"})
    assert changed == {"error": "request_id already used with different parameters"}
    assert client.add(service_id=str(service.service_id), fields=fields) not in (third["order"], str(third["order"]))
