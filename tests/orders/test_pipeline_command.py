"""`manage.py run_pipeline --once`: one whole cycle, with a printed summary."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest
from django.core.management import call_command

from orders.models import Order, Stage
from providers import health
from providers import ordertypes as ot
from providers.models import Provider
from tests.factories import CustomerFactory
from tests.orders.pipeline_support import (
    ledger_checked_after,  # noqa: F401 - autouse
    place,
    sim_service,
)

pytestmark = pytest.mark.django_db


def test_run_pipeline_once_sends_polls_and_prints_a_summary(simulator, simulator_provider):
    # given
    customer = CustomerFactory(funds="10")
    service = sim_service(simulator, simulator_provider, ot.DEFAULT)
    order = place(customer, service, link="https://x.test/a", quantity=service.min)

    # when
    out = io.StringIO()
    call_command("run_pipeline", "--once", "--json", stdout=out)

    # then
    summary = json.loads(out.getvalue())
    assert summary["send"] == {"sent": 1}
    assert summary["providers"][simulator_provider.name]["poll"]["orders"] == 1
    assert Order.objects.get(pk=order.pk).stage == Stage.SENT

    # and the plain form names the provider
    out = io.StringIO()
    call_command("run_pipeline", "--once", stdout=out)
    assert simulator_provider.name in out.getvalue() and "nothing due" in out.getvalue()


def test_balance_check_warns_below_threshold_and_clears_when_topped_up(simulator, simulator_provider):
    Provider.objects.filter(pk=simulator_provider.pk).update(low_balance_threshold=Decimal("2000"))
    assert health.provider_balance_check(provider_id=simulator_provider.pk).amount == Decimal("1000")
    simulator_provider.refresh_from_db()
    assert simulator_provider.upstream_balance == Decimal("1000")
    assert simulator_provider.last_error.startswith(health.LOW_BALANCE_PREFIX)

    simulator.state.accounts[simulator_provider.api_key].balance = Decimal("5000")
    health.provider_balance_check(provider_id=simulator_provider.pk)
    simulator_provider.refresh_from_db()
    assert simulator_provider.last_error == "" and simulator_provider.upstream_balance == Decimal("5000")
