"""Calls to the upstream simulator over real HTTP, as a v2 client makes them."""

from __future__ import annotations

import requests

from providers import ordertypes as ot
from providers.simulator import DEMO_KEY, Simulator
from tests.simulator_fixtures import sample_fields


def call(sim: Simulator, key: str = DEMO_KEY, **params) -> object:
    return requests.post(sim.url, data={"key": key, **params}, timeout=5).json()


def place(sim: Simulator, service, key: str = DEMO_KEY, **overrides) -> str:
    answer = call(sim, key, action="add", service=service.service_id, **{**sample_fields(service), **overrides})
    assert "order" in answer, answer
    return str(answer["order"])


def default_service(sim: Simulator, **where):
    return sim.catalogue.first_of_type(ot.DEFAULT, **where)
