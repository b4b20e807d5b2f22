"""Helpers for the pipeline tests: services that exist at the simulator, orders placed the real way."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.core.management import call_command

from orders.models import Order, Stage
from orders.pipeline.cycle import pipeline_cycle
from orders.services import order_create
from providers.models import Service
from tests.factories import ServiceFactory


def sim_service(simulator, provider, type_name: str, *, rate: str = "2.00", **where) -> Service:
    """Our service for the simulator's first service of `type_name` (with flags `where`, e.g. dripfeed=True)."""
    upstream = simulator.catalogue.first_of_type(type_name, **where)
    existing = Service.objects.filter(provider=provider, upstream_service_id=str(upstream.service_id)).first()
    if existing is not None:
        return existing
    return ServiceFactory(provider=provider, upstream_service_id=str(upstream.service_id), type=upstream.type,
                          name=upstream.name, upstream_rate=upstream.rate, rate=Decimal(rate), min=upstream.min,
                          max=upstream.max, refill=upstream.refill, cancel=upstream.cancel,
                          dripfeed=upstream.dripfeed)


def place(customer, service: Service, **data) -> Order:
    return order_create(customer=customer, service=service, data=data)


def cycle_until(simulator, order_ids, *, stage: str = Stage.FINAL, step: float = 120, max_cycles: int = 60) -> dict:
    """Run cycles, moving simulated time by `step` between them, until every order reaches `stage`."""
    summary: dict = {}
    for _ in range(max_cycles):
        summary = pipeline_cycle()
        if not Order.objects.filter(pk__in=order_ids).exclude(stage=stage).exists():
            return summary
        simulator.advance(step)
    stuck = list(Order.objects.filter(pk__in=order_ids).exclude(stage=stage).values("id", "stage", "status"))
    raise AssertionError(f"orders did not reach {stage}: {stuck}")


def ledger_ok() -> None:
    call_command("check_ledger")


@pytest.fixture(autouse=True)
def ledger_checked_after(db):
    """Import into a test module: after every test there, the money invariants still hold."""
    yield
    call_command("check_ledger", stdout=io.StringIO())
