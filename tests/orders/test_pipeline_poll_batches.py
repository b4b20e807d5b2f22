"""Polling at scale: a fixed number of queries per database batch, full 100-id requests, a bounded number of
requests in flight, and orders sent mid-run left to the next run."""

from __future__ import annotations

import datetime as dt
import math
import threading

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Customer, LedgerEntry
from orders.models import Order, OrderStatusChange, Stage, Status
from orders.pipeline import poll
from providers import client_capacity
from providers import ordertypes as ot
from providers.client import ProviderClient
from providers.models import Provider
from providers.pricing import charge_for as price_for
from tests.factories import CustomerFactory
from tests.orders.pipeline_support import (
    ledger_checked_after,  # noqa: F401 - autouse
    ledger_ok,
    sim_service,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def status_sizes(monkeypatch):
    """The number of ids in each status request, and the most requests that were in flight at once."""
    record = {"sizes": [], "in_flight": 0, "max_in_flight": 0}
    lock = threading.Lock()
    real = ProviderClient._call

    def call(client, action, params, *, ids=0, creates=False):
        if action != "status":
            return real(client, action, params, ids=ids, creates=creates)
        with lock:
            record["sizes"].append(ids)
            record["in_flight"] += 1
            record["max_in_flight"] = max(record["max_in_flight"], record["in_flight"])
        try:
            return real(client, action, params, ids=ids, creates=creates)
        finally:
            with lock:
                record["in_flight"] -= 1

    monkeypatch.setattr(ProviderClient, "_call", call)
    return record


def _sent_upstream(simulator, provider, n: int, *, customers: int = 3) -> list[Order]:
    """`n` orders placed at the simulator and stored as sent, each charged through the ledger: inserted in
    bulk, as placing them one by one would take most of the test's time."""
    # Amounts that binary floats hold exactly: SQLite sums the ledger in floats for check_ledger.
    service = sim_service(simulator, provider, ot.DEFAULT, rate="2.00")
    quantity = 250
    charge = price_for(rate=service.rate, units=quantity)
    buyers = [CustomerFactory(funds=str(charge * n)) for _ in range(customers)]
    account = simulator.state.accounts[provider.api_key]
    upstream = simulator.catalogue.first_of_type(ot.DEFAULT)
    sent_at = timezone.now() - dt.timedelta(minutes=1)
    orders = Order.objects.bulk_create(
        Order(customer=buyers[i % customers], service=service, provider=provider, link=f"https://x.test/{i}",
              quantity=quantity, rate=service.rate, charge=charge, stage=Stage.SENT, sent_at=sent_at,
              upstream_id=simulator.state.create_order(account=account, service=upstream, fields={"link": "x"},
                                                       quantity=quantity, charge=charge).order_id)
        for i in range(n))
    balances = {buyer.pk: buyer.balance for buyer in buyers}
    entries = []
    for order in orders:
        balances[order.customer_id] -= charge
        entries.append(LedgerEntry(customer_id=order.customer_id, order_id=order.pk, amount=-charge,
                                   kind=LedgerEntry.Kind.CHARGE, cause=LedgerEntry.Cause.ORDER,
                                   balance_after=balances[order.customer_id]))
    LedgerEntry.objects.bulk_create(entries)
    for customer_id, balance in balances.items():
        Customer.objects.filter(pk=customer_id).update(balance=balance)
    return orders


@pytest.mark.postgres
def test_a_batch_costs_at_most_four_queries_per_hundred_orders_refunds_included(simulator, simulator_provider,
                                                                              status_sizes):
    # given: 1,000 sent orders of three customers, a third Partial, a third Canceled upstream
    orders = _sent_upstream(simulator, simulator_provider, 1000)
    for i, order in enumerate(orders):
        if i % 3 == 0:
            simulator.force(order.upstream_id, status="Partial", remains=order.quantity // 2)
        elif i % 3 == 1:
            simulator.force(order.upstream_id, status="Canceled")

    # when
    with CaptureQueriesContext(connection) as captured:
        summary = poll.provider_poll(provider_id=simulator_provider.pk)

    # then: ten full requests; every statement of the run, settlement and its mails included, within 4 per
    # request (savepoints are the test's transaction, not the poll's)
    queries = [q["sql"] for q in captured if "SAVEPOINT" not in q["sql"]]
    assert status_sizes["sizes"] == [100] * 10
    assert (summary.orders, summary.final, summary.refunds) == (1000, 667, 667)
    assert len(queries) <= 4 * len(status_sizes["sizes"]), [q[:80] for q in queries]
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFUND, order__in=orders).count() == 667
    assert OrderStatusChange.objects.filter(order__in=orders, status__in=[Status.PARTIAL, Status.CANCELED]).count() \
        == 667
    ledger_ok()


@pytest.mark.postgres  # SQLite splits statements under its parameter limit
def test_queries_per_run_do_not_grow_with_the_batch(simulator, simulator_provider):
    # given: two providers' worth of orders in one database batch each, 120 and 480
    small = _sent_upstream(simulator, simulator_provider, 120)
    for order in small:
        simulator.force(order.upstream_id, status="Partial", remains=125)
    with CaptureQueriesContext(connection) as first:
        poll.provider_poll(provider_id=simulator_provider.pk)
    large = _sent_upstream(simulator, simulator_provider, 480)
    for order in large:
        simulator.force(order.upstream_id, status="Partial", remains=125)

    # when
    with CaptureQueriesContext(connection) as second:
        poll.provider_poll(provider_id=simulator_provider.pk)

    # then: the same statements for four times the orders (the lease's slot exists by the second run)
    assert len(second) <= len(first)
    ledger_ok()


def test_a_burst_of_628_due_orders_goes_out_in_7_requests(simulator, simulator_provider, status_sizes):
    # given
    _sent_upstream(simulator, simulator_provider, 628)

    # when
    summary = poll.provider_poll(provider_id=simulator_provider.pk)

    # then: ⌈628/100⌉ requests, none under 100 ids but the last
    assert len(status_sizes["sizes"]) == math.ceil(628 / 100) == summary.batches
    assert status_sizes["sizes"][:-1] == [100] * 6 and status_sizes["sizes"][-1] == 28


def test_orders_sent_after_the_run_started_wait_for_the_next_run(simulator, simulator_provider, status_sizes):
    # given: 150 orders sent before the run's start, 30 sent after it (as a burst of sends would)
    orders = _sent_upstream(simulator, simulator_provider, 180)
    started = timezone.now()
    late = [o.pk for o in orders[150:]]
    Order.objects.filter(pk__in=late).update(sent_at=started + dt.timedelta(seconds=1))

    # when
    first = poll.provider_poll(provider_id=simulator_provider.pk, now=started)
    second = poll.provider_poll(provider_id=simulator_provider.pk, now=started + dt.timedelta(seconds=60))

    # then: no small request for the late ones in the first run; they go in the next
    assert (first.orders, first.batches) == (150, 2)
    assert status_sizes["sizes"][:2] == [100, 50]
    assert second.orders == 180 and Order.objects.filter(pk__in=late, last_checked_at__isnull=False).count() == 30


def test_requests_in_flight_stay_within_the_providers_setting(simulator, simulator_provider, status_sizes):
    # given: a provider that takes 3 status requests at once, answering in 50 ms
    Provider.objects.filter(pk=simulator_provider.pk).update(poll_concurrency=3)
    simulator.config.set(latency_ms=50)
    _sent_upstream(simulator, simulator_provider, 1000, customers=1)

    # when
    summary = poll.provider_poll(provider_id=simulator_provider.pk)

    # then: ten requests, three at a time at most, and really side by side
    assert summary.batches == 10 and summary.orders == 1000
    assert status_sizes["max_in_flight"] == 3


def test_a_second_run_on_a_provider_being_polled_leaves_at_once(simulator, simulator_provider, status_sizes):
    # given: another worker's run holds the provider's poll lease
    _sent_upstream(simulator, simulator_provider, 10)
    with client_capacity.lease(simulator_provider, "poll", limit=1, seconds=60) as token:
        assert token is not None

        # when
        summary = poll.provider_poll(provider_id=simulator_provider.pk)

    # then
    assert summary.busy and summary.orders == 0 and status_sizes["sizes"] == []
    assert poll.provider_poll(provider_id=simulator_provider.pk).orders == 10  # once it is free
