"""The order pipeline at scale: one poll cycle over 100,000 active orders at 3 simulated providers, and
sending 2,000 orders to an upstream answering in 50 ms.

Runs on the configured database (DATABASE_URL) and removes what it created. Orders are bulk-inserted with a
zero charge, so the ledger stays consistent without a ledger row per order (the pipeline's queries are the
same: refunds of Partial/Canceled orders find nothing to give back). The simulators run in their own
processes, as an upstream would be another machine. `python -m bench.pipeline`; BENCH_PIPELINE_ORDERS and
BENCH_PIPELINE_SEND_ORDERS shrink it for a quick look.

"Default worker settings" for sending: the worker as `make run` and docker compose start it, 4 concurrent
task slots (`--concurrency=4`), each running `order_send_task` one order at a time; measured here with
4 threads calling the task body.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

ACTIVE_ORDERS = int(os.environ.get("BENCH_PIPELINE_ORDERS", "100000"))
PROVIDERS = 3
SEND_ORDERS = int(os.environ.get("BENCH_PIPELINE_SEND_ORDERS", "2000"))
SEND_LATENCY_MS = 50
WORKER_CONCURRENCY = 4  # `--concurrency=4` in run_local and docker-compose.yml
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

    customer, _ = customer_create(username=f"bench-pipeline-{tag}")
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
    return customer, category, services


def _insert_active_orders(customer, services, sims: list[SimulatorProcess]) -> None:
    """Orders already sent: the simulators hold the upstream orders; ours are bulk-inserted as stage sent."""
    from orders.models import Order, Stage

    for service, sim in zip(services, sims, strict=True):
        rows = (Order(customer=customer, service=service, provider_id=service.provider_id, upstream_id=upstream_id,
                      link="https://bench.test/p", quantity=sim.quantity, rate=service.rate, charge=Decimal(0),
                      stage=Stage.SENT) for upstream_id in sim.upstream_ids)
        Order.objects.bulk_create(rows, batch_size=INSERT_BATCH)


def _poll_cycle(services, sims) -> dict:
    from django.db import connection, connections

    from orders.pipeline import poll
    from providers import health

    per_batch: list[int] = []
    lock = threading.Lock()
    real_client_for = health.client_for

    def counting_client(provider):
        client = real_client_for(provider)
        statuses = client.statuses
        state = {"last": None}

        def counted(ids):
            counter = getattr(threading.current_thread(), "query_counter", None)
            if counter is not None:
                if state["last"] is not None:
                    with lock:
                        per_batch.append(counter.count - state["last"])
                state["last"] = counter.count
            return statuses(ids)

        client.statuses = counted
        return client

    def poll_one(provider_id: int):
        counter = _QueryCounter()
        threading.current_thread().query_counter = counter
        try:
            with connection.execute_wrapper(counter):
                return poll.provider_poll(provider_id=provider_id), counter.count
        finally:
            connections.close_all()

    health.client_for = counting_client
    try:
        before = {id(sim): sim.call("counts").get("status", 0) for sim in sims}
        started = time.perf_counter()
        # One task per provider, as beat's dispatch queues them: providers are polled side by side.
        with ThreadPoolExecutor(max_workers=len(services)) as pool:
            results = list(pool.map(poll_one, [s.provider_id for s in services]))
        seconds = time.perf_counter() - started
    finally:
        health.client_for = real_client_for
    per_provider = []
    for (summary, queries), sim in zip(results, sims, strict=True):
        requests = sim.call("counts").get("status", 0) - before[id(sim)]
        per_provider.append({"orders": summary.orders, "status_requests": requests,
                             "expected_requests": math.ceil(summary.orders / 100), "batches": summary.batches,
                             "final": summary.final, "queries": queries})
    return {"seconds": round(seconds, 2), "orders_per_second": round(sum(p["orders"] for p in per_provider) / seconds),
            "providers": per_provider,
            "queries_per_batch": {"min": min(per_batch), "max": max(per_batch)} if per_batch else None}


def _send(customer, category, tag: str) -> dict:
    from django.db import connections

    from orders.models import Order, Stage
    from orders.tasks import order_send_task
    from providers.models import Provider, Service

    sim = SimulatorProcess(seed=5, latency_ms=SEND_LATENCY_MS)
    try:
        upstream = sim.upstream_service
        provider = Provider.objects.create(name=f"bench-pipeline-{tag}-send", api_url=sim.url, api_key="demo-key")
        service = Service.objects.create(
            provider=provider, upstream_service_id=str(upstream.service_id), name=upstream.name, type="Default",
            category=category, upstream_rate=upstream.rate, rate=Decimal("1.5"), min=upstream.min, max=upstream.max)
        orders = Order.objects.bulk_create(
            Order(customer=customer, service=service, provider=provider, link="https://bench.test/s",
                  quantity=service.min, rate=service.rate, charge=Decimal(0), stage=Stage.PAID)
            for _ in range(SEND_ORDERS))
        ids = [o.pk for o in orders]

        def send(order_id):
            try:
                return order_send_task(order_id)
            finally:
                connections.close_all()

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=WORKER_CONCURRENCY) as pool:
            outcomes = list(pool.map(send, ids))
        seconds = time.perf_counter() - started
        return {"orders": len(ids), "latency_ms": SEND_LATENCY_MS, "worker_slots": WORKER_CONCURRENCY,
                "seconds": round(seconds, 2), "orders_per_second": round(len(ids) / seconds, 1),
                "sent": outcomes.count("sent"), "upstream_orders": sim.call("accepted_adds")}
    finally:
        sim.stop()


def run() -> dict:
    _setup()
    from django.db import connection

    from accounts.models import Customer
    from orders.models import Order
    from providers.models import Category, Provider

    tag = uuid.uuid4().hex[:8]
    sims: list[SimulatorProcess] = []
    customer = category = None
    try:
        started = time.perf_counter()
        for n in range(PROVIDERS):
            share = ACTIVE_ORDERS // PROVIDERS + (1 if n < ACTIVE_ORDERS % PROVIDERS else 0)
            sims.append(SimulatorProcess(seed=20 + n, orders=share))
        customer, category, services = _fixtures(tag, sims)
        _insert_active_orders(customer, services, sims)
        setup_seconds = time.perf_counter() - started
        for sim in sims:
            sim.call("advance", 400)  # a realistic mix: pending, in progress, some finished
        poll_figures = _poll_cycle(services, sims)
        send_figures = _send(customer, category, tag)
    finally:
        for sim in sims:
            sim.stop()
        if customer is not None:
            Order.objects.filter(customer=customer).delete()
            for provider in Provider.objects.filter(name__startswith=f"bench-pipeline-{tag}"):
                provider.services.all().delete()
                provider.delete()
            Category.objects.filter(pk=category.pk).delete()
            user = customer.user
            Customer.objects.filter(pk=customer.pk).delete()
            user.delete()
    return {"database": connection.vendor, "active_orders": ACTIVE_ORDERS, "providers": PROVIDERS,
            "setup_seconds": round(setup_seconds, 1), "poll_cycle": poll_figures, "send": send_figures}


if __name__ == "__main__":
    print(json.dumps(run(), indent=2, default=str))
