"""The order pipeline at scale: one poll cycle over 100,000 active orders at 3 simulated providers; sending
2,000 orders to an upstream answering in 50 ms; status requests during a sending burst; how soon a dead
worker's claim becomes unknown (bench/pipeline_send.py has the sending side).

Runs on the configured database (DATABASE_URL) and removes what it created. The active orders are
bulk-inserted as sent, each charged 1.00000 to one of 100 customers with its ledger row, so the orders that
end Partial or Canceled are refunded for real (ledger rows, balances). The simulators run in their own
processes, as an upstream would be another machine. `python -m bench.pipeline`; BENCH_PIPELINE_ORDERS,
BENCH_PIPELINE_SEND_ORDERS and BENCH_PIPELINE_BURST_ORDERS shrink it for a quick look.
"""

from __future__ import annotations

import json
import math
import os
import time
import uuid
from decimal import Decimal

from bench import pipeline_send

ACTIVE_ORDERS = int(os.environ.get("BENCH_PIPELINE_ORDERS", "100000"))
PROVIDERS = 3
CUSTOMERS = 100
ORDER_CHARGE = Decimal("1.00000")
INSERT_BATCH = 5_000


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "panel.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


class _QueryCounter:
    """Counts SQL statements of this thread's connection, for per-batch figures."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def _simulator_main(conn, seed: int, orders: int, latency_ms: int) -> None:
    """A simulator in its own process (an upstream is another machine; here it must not share our GIL)."""
    from providers.simulator import DEMO_KEY, Simulator

    sim = Simulator(speed=0, seed=seed, services_count=50, latency_ms=latency_ms).start()
    service = sim.catalogue.first_of_type("Default")
    account = sim.state.accounts[DEMO_KEY]
    quantity = service.min * 10
    ids = [sim.state.create_order(account=account, service=service, fields={"link": "x"}, quantity=quantity,
                                  charge=Decimal(0)).order_id for _ in range(orders)]
    conn.send({"url": sim.url, "service": service, "ids": ids, "quantity": quantity})
    while True:
        command, arg = conn.recv()
        if command == "advance":
            sim.advance(arg)
            conn.send(None)
        elif command == "counts":
            conn.send(dict(sim.request_counts))
        elif command == "accepted_adds":
            conn.send(len(sim.accepted_adds))
        else:
            sim.stop()
            conn.send(None)
            return


class SimulatorProcess:
    def __init__(self, *, seed: int, orders: int = 0, latency_ms: int = 0) -> None:
        import multiprocessing

        from django.db import connections

        connections.close_all()  # the child must not share our database socket
        context = multiprocessing.get_context("fork")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_simulator_main, args=(child, seed, orders, latency_ms),
                                        daemon=True)
        self._process.start()
        ready = self._conn.recv()
        self.url, self.upstream_service, self.upstream_ids = ready["url"], ready["service"], ready["ids"]
        self.quantity = ready["quantity"]

    def call(self, command: str, arg=None):
        self._conn.send((command, arg))
        return self._conn.recv()

    def stop(self) -> None:
        if self._process.is_alive():
            self.call("stop")
        self._process.join(timeout=10)


def _fixtures(tag: str, sims: list[SimulatorProcess]):
    from accounts.services import customer_create
    from providers.models import Category, Provider, Service

    customers = [customer_create(username=f"bench-pipeline-{tag}-{n}")[0] for n in range(CUSTOMERS)]
    category, _ = Category.objects.get_or_create(name=f"Bench pipeline {tag}")
    services = []
    for n, sim in enumerate(sims):
        upstream = sim.upstream_service
        provider = Provider.objects.create(name=f"bench-pipeline-{tag}-{n}", api_url=sim.url, api_key="demo-key",
                                           timeout_seconds=Decimal("30"))
        services.append(Service.objects.create(
            provider=provider, upstream_service_id=str(upstream.service_id), name=upstream.name, type="Default",
            category=category, upstream_rate=upstream.rate, rate=Decimal("1.5"), min=upstream.min, max=upstream.max,
        ))
    return customers, category, services


def _insert_active_orders(customers, services, sims: list[SimulatorProcess]) -> None:
    """Orders already sent: the simulators hold the upstream orders; ours are bulk-inserted as stage sent,
    each with its charge in the ledger (a deposit covers them all, so every balance ends at 0)."""
    from accounts.models import Customer, LedgerEntry
    from orders.models import Order, Stage

    orders = []
    for service, sim in zip(services, sims, strict=True):
        rows = (Order(customer=customers[n % CUSTOMERS], service=service, provider_id=service.provider_id,
                      upstream_id=upstream_id, link="https://bench.test/p", quantity=sim.quantity, rate=service.rate,
                      charge=ORDER_CHARGE, stage=Stage.SENT) for n, upstream_id in enumerate(sim.upstream_ids))
        orders.extend(Order.objects.bulk_create(rows, batch_size=INSERT_BATCH))
    per_customer: dict[int, list] = {}
    for order in orders:
        per_customer.setdefault(order.customer_id, []).append(order)
    entries = []
    for customer_id, own in per_customer.items():
        balance = ORDER_CHARGE * len(own)
        entries.append(LedgerEntry(customer_id=customer_id, amount=balance, kind=LedgerEntry.Kind.DEPOSIT,
                                   balance_after=balance, note="bench"))
        for order in own:
            balance -= ORDER_CHARGE
            entries.append(LedgerEntry(customer_id=customer_id, amount=-ORDER_CHARGE, kind=LedgerEntry.Kind.CHARGE,
                                       cause=LedgerEntry.Cause.ORDER, order_id=order.pk, balance_after=balance))
    LedgerEntry.objects.bulk_create(entries, batch_size=INSERT_BATCH)
    Customer.objects.filter(pk__in=list(per_customer)).update(balance=0)


def _poll_in_process(provider_id: int) -> tuple[dict, int, float]:
    """One provider's poll task in a worker process of its own (prefork, as the worker runs)."""
    from django.db import connection, connections

    from orders.pipeline import poll

    counter = _QueryCounter()
    cpu = pipeline_send.cpu_seconds()
    try:
        with connection.execute_wrapper(counter):
            summary = poll.provider_poll(provider_id=provider_id)
    finally:
        connections.close_all()
    return ({"orders": summary.orders, "final": summary.final, "refunds": summary.refunds}, counter.count,
            pipeline_send.cpu_seconds() - cpu)


def _poll_cycle(services, sims) -> dict:
    import multiprocessing

    from django.db import connections

    from accounts.models import LedgerEntry

    before = {id(sim): sim.call("counts").get("status", 0) for sim in sims}
    refunds_before = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFUND).count()
    started_load = pipeline_send.load()
    connections.close_all()  # the children must not share our database socket
    started = time.perf_counter()
    # One task per provider, as beat's dispatch queues them, each in a worker process of its own (the
    # worker's prefork pool): providers are polled side by side.
    with multiprocessing.get_context("fork").Pool(len(services)) as pool:
        results = pool.map(_poll_in_process, [s.provider_id for s in services])
    seconds = time.perf_counter() - started
    cpu = sum(r[2] for r in results)
    results = [(summary, queries) for summary, queries, _ in results]
    per_provider = []
    for (summary, queries), sim in zip(results, sims, strict=True):
        requests = sim.call("counts").get("status", 0) - before[id(sim)]
        per_provider.append({"orders": summary["orders"], "status_requests": requests,
                             "expected_requests": math.ceil(summary["orders"] / 100), "final": summary["final"],
                             "refunds": summary["refunds"], "queries": queries})
    requests = sum(p["status_requests"] for p in per_provider)
    queries = sum(p["queries"] for p in per_provider)
    return {"seconds": round(seconds, 2), "orders_per_second": round(sum(p["orders"] for p in per_provider) / seconds),
            "load_average": started_load, "panel_cpu_seconds": round(cpu, 2), "providers": per_provider,
            "refund_ledger_rows": LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFUND).count() - refunds_before,
            # Every statement of the run (claims, writes, settlement, health) over its 100-id status requests.
            "queries_per_100_order_batch": round(queries / requests, 2) if requests else None}


def run() -> dict:
    _setup()
    from django.db import connection

    from accounts.models import Customer, LedgerEntry
    from orders.models import Order
    from providers.models import Category, Provider

    tag = uuid.uuid4().hex[:8]
    sims: list[SimulatorProcess] = []
    customers: list = []
    category = None
    figures: dict = {}
    try:
        started = time.perf_counter()
        for n in range(PROVIDERS):
            share = ACTIVE_ORDERS // PROVIDERS + (1 if n < ACTIVE_ORDERS % PROVIDERS else 0)
            sims.append(SimulatorProcess(seed=20 + n, orders=share))
        customers, category, services = _fixtures(tag, sims)
        _insert_active_orders(customers, services, sims)
        setup_seconds = time.perf_counter() - started
        for sim in sims:
            sim.call("advance", 400)  # a realistic mix: pending, in progress, some finished
        figures["poll_cycle"] = _poll_cycle(services, sims)
        for sim in sims:
            sim.stop()
        for name in ("send_at_cap", "status_requests_during_burst", "stale_claim"):
            figures[name] = getattr(pipeline_send, name)(customers[0], category, tag, SimulatorProcess)
    finally:
        for sim in sims:
            sim.stop()
        if customers:
            LedgerEntry.objects.filter(customer__in=customers).delete()
            Order.objects.filter(customer__in=customers).delete()
            for provider in Provider.objects.filter(name__startswith=f"bench-pipeline-{tag}"):
                provider.services.all().delete()
                provider.delete()
            Category.objects.filter(pk=category.pk).delete()
            for customer in customers:
                user = customer.user
                Customer.objects.filter(pk=customer.pk).delete()
                user.delete()
    return {"database": connection.vendor, "active_orders": ACTIVE_ORDERS, "providers": PROVIDERS,
            "setup_seconds": round(setup_seconds, 1), **figures}


if __name__ == "__main__":
    print(json.dumps(run(), indent=2, default=str))
