"""Profit that adds up: a day's upstream cost is what the provider's balance really dropped by, revenue is what
the customers paid less our refunds, on Completed, Partial and Canceled orders alike."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from accounts.models import Customer, LedgerEntry
from orders import reports
from orders.models import Order, Stage, Status
from orders.pipeline.cycle import pipeline_cycle
from panel import admin_home
from tests.factories import CustomerFactory, UserFactory
from tests.orders.pipeline_support import cycle_until, ledger_checked_after, place  # noqa: F401
from tests.orders.sim_services import own_sim_service

pytestmark = pytest.mark.django_db

# An explicit clock: the orders are dated to it, and "today" is its day.
NOW = dt.datetime(2031, 3, 14, 15, 30, tzinfo=dt.UTC)
STARTING_BALANCE = Decimal("1000")  # the simulator_provider fixture's key


def _three_orders_final(simulator, provider):
    """One order Completed, one Partial, one Canceled at the simulator, all final and settled here."""
    simulator.config.set(partial_share=0, canceled_share=0)
    # Rates with odd digits, so a rounding or a refund counted twice shows in the fifth decimal.
    service = own_sim_service(simulator, provider, rate="2.35", upstream_rate="1.37")
    customer = CustomerFactory(funds="100")
    orders = {
        "completed": place(customer, service, link="https://instagram.com/p/one", quantity=1234),
        "partial": place(customer, service, link="https://instagram.com/p/two", quantity=2500),
        "canceled": place(customer, service, link="https://instagram.com/p/three", quantity=777),
    }
    pipeline_cycle()  # all three sent
    upstream = dict(Order.objects.filter(pk__in=[o.pk for o in orders.values()]).values_list("pk", "upstream_id"))
    simulator.force(upstream[orders["partial"].pk], status="Partial", remains=913)
    simulator.force(upstream[orders["canceled"].pk], status="Canceled")
    cycle_until(simulator, [o.pk for o in orders.values()], stage=Stage.FINAL)
    pipeline_cycle()  # settle whatever the last poll made final
    # Dated to the test's clock: the orders and the customer's deposit happened "today".
    Order.objects.filter(pk__in=[o.pk for o in orders.values()]).update(created_at=NOW - dt.timedelta(hours=2))
    LedgerEntry.objects.filter(customer=customer).update(created_at=NOW - dt.timedelta(hours=3))
    return customer, {name: Order.objects.get(pk=o.pk) for name, o in orders.items()}


def test_a_days_cost_is_the_providers_balance_drop_and_revenue_what_customers_paid(simulator, simulator_provider):
    # given: three orders of one day at the simulator, ending Completed, Partial and Canceled
    customer, orders = _three_orders_final(simulator, simulator_provider)
    assert [orders[name].status for name in ("completed", "partial", "canceled")] == [
        Status.COMPLETED, Status.PARTIAL, Status.CANCELED]
    assert orders["partial"].refunded > 0 and orders["canceled"].refunded == orders["canceled"].charge

    # when: the day's figures are read
    [today] = [row for row in reports.money_per_day(now=NOW) if row["day"] == NOW.date()]

    # then: the upstream cost is exactly what the provider's balance dropped by (its refunds counted once)
    balance_drop = STARTING_BALANCE - simulator.balance_of(simulator_provider.api_key)
    assert balance_drop > 0
    assert today["cost"] == balance_drop
    # and revenue is what the customer's balance dropped by: charges less our refunds
    paid = Decimal("100") - Customer.objects.get(pk=customer.pk).balance
    assert today["revenue"] == paid == sum(o.charge - o.refunded for o in orders.values())
    assert today["profit"] == paid - balance_drop
    assert (today["orders"], today["cost_known"]) == (3, True)


def test_a_canceled_order_neither_earns_nor_costs_and_a_partial_one_costs_what_was_delivered(simulator,
                                                                                              simulator_provider):
    # given
    _customer, orders = _three_orders_final(simulator, simulator_provider)
    canceled, partial = orders["canceled"], orders["partial"]

    # then: the canceled order was refunded in full on both sides: no loss of its upstream charge
    assert canceled.upstream_charge == 0
    assert reports.order_profit(canceled) == 0
    # and the Partial one costs the delivered part at the upstream rate (1.37 per 1000), earns it at ours
    assert partial.upstream_charge == Decimal("1.37") * (2500 - 913) / 1000
    assert reports.order_profit(partial) == Decimal("2.35") * (2500 - 913) / 1000 - partial.upstream_charge


def test_the_admin_homes_figures_for_the_day_are_the_same(simulator, simulator_provider):
    # given
    customer, orders = _three_orders_final(simulator, simulator_provider)
    balance_drop = STARTING_BALANCE - simulator.balance_of(simulator_provider.api_key)
    paid = Decimal("100") - Customer.objects.get(pk=customer.pk).balance
    staff = UserFactory(is_staff=True, is_superuser=True)

    # when
    money = admin_home.home_context(user=staff, now=NOW)["money"]

    # then: today's cards, and the last bar of each chart, show the same day
    figures = {figure["key"]: figure["value"] for figure in money["figures"]}
    assert figures == {"revenue": paid, "cost": balance_drop, "profit": paid - balance_drop,
                       "deposits": Decimal("100")}
    assert money["orders_today"] == 3
    charts = {chart["key"]: chart for chart in money["charts"]}
    assert charts["revenue"]["total"] == paid and charts["profit"]["total"] == paid - balance_drop
    assert charts["deposits"]["total"] == Decimal("100") and charts["orders"]["total"] == 3
