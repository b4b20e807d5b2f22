"""The sending side of `bench.pipeline`: sending at a provider's cap, status requests during a sending burst,
and how soon a dead worker's claim becomes unknown.

The worker is measured as docker compose starts it: 4 task slots (`--concurrency=4`, prefork), every order's
`order_send_task` queued once when the order is placed; here 4 forked processes run the queued tasks (the
burst's sender, beside the poll runs, uses 4 threads).
"""

from __future__ import annotations

import math
import os
import resource
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

SEND_ORDERS = int(os.environ.get("BENCH_PIPELINE_SEND_ORDERS", "2000"))
BURST_ORDERS = int(os.environ.get("BENCH_PIPELINE_BURST_ORDERS", "628"))
SEND_LATENCY_MS = 50
SEND_CAP = 8  # the provider's concurrency cap, where the panel has the setting
WORKER_SLOTS = 4  # `--concurrency=4` in run_local and docker-compose.yml
BEAT_SECONDS = 0.5  # how often the burst's poll runs start, as beat's dispatch would queue them


def load() -> float:
    return round(os.getloadavg()[0], 2)


def cpu_seconds() -> float:
    """CPU time of this process (all its threads) so far: on a machine shared with other work, what a
    figure cost the panel itself, whatever the wall clock says."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _provider(category, sim, name: str):
    from providers.models import Provider, Service

    capacity = {"send_concurrency": SEND_CAP} if hasattr(Provider, "send_concurrency") else {}
    provider = Provider.objects.create(name=name, api_url=sim.url, api_key="demo-key", **capacity)
    upstream = sim.upstream_service
    service = Service.objects.create(
        provider=provider, upstream_service_id=str(upstream.service_id), name=upstream.name, type="Default",
        category=category, upstream_rate=upstream.rate, rate=Decimal("1.5"), min=upstream.min, max=upstream.max)
    return provider, service


def _paid_orders(customer, provider, service, count: int) -> list[int]:
    from orders.models import Order, Stage

    orders = Order.objects.bulk_create(
        Order(customer=customer, service=service, provider=provider, link="https://bench.test/s",
              quantity=service.min, rate=service.rate, charge=Decimal(0), stage=Stage.PAID) for _ in range(count))
    return [o.pk for o in orders]


_in_flight = None  # the counter of the measurement under way, in whichever process runs the task


def _task_in_process(order_id: int) -> tuple[str, int]:
    from orders.tasks import order_send_task

    # The process keeps its connections from task to task, as a worker process does.
    return order_send_task(order_id), _in_flight.max if _in_flight is not None else 0


def _run_task_processes(ids: list[int]) -> tuple[list[str], int]:
    """The queued `order_send_task`s, run by WORKER_SLOTS worker processes (the worker's prefork pool)."""
    import multiprocessing

    from django.db import connections

    connections.close_all()  # the children must not share our database socket
    with multiprocessing.get_context("fork").Pool(WORKER_SLOTS) as pool:
        results = pool.map(_task_in_process, ids, chunksize=1)
    return [outcome for outcome, _ in results], max((most for _, most in results), default=0)


def _run_tasks(ids: list[int]) -> list[str]:
    """The queued `order_send_task`s, run by WORKER_SLOTS task slots (threads)."""
    from django.db import connections

    from orders.tasks import order_send_task

    def task(order_id):
        try:
            return order_send_task(order_id)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=WORKER_SLOTS) as pool:
        return list(pool.map(task, ids))


def _children_cpu() -> float:
    """CPU time of the worker processes ended so far (the send's, as the poll's were counted apart)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime - _CHILDREN_CPU_BEFORE[0]


_CHILDREN_CPU_BEFORE = [0.0]


class _InFlight:
    """Counts `add` calls in flight in this process (the provider's cap is per provider, across workers)."""

    def __init__(self) -> None:
        from providers.client import ProviderClient

        self._class = ProviderClient
        self._real = ProviderClient.add
        self._lock = threading.Lock()
        self.now = self.max = 0

    def __enter__(self):
        global _in_flight
        _in_flight = self
        real, counter = self._real, self

        def add(client, **kwargs):
            with counter._lock:
                counter.now += 1
                counter.max = max(counter.max, counter.now)
            try:
                return real(client, **kwargs)
            finally:
                with counter._lock:
                    counter.now -= 1

        self._class.add = add
        return self

    def __exit__(self, *exc) -> None:
        self._class.add = self._real


def send_at_cap(customer, category, tag: str, simulator_process) -> dict:
    from orders.models import Order, Stage

    sim = simulator_process(seed=5, latency_ms=SEND_LATENCY_MS)
    try:
        provider, service = _provider(category, sim, f"bench-pipeline-{tag}-send")
        ids = _paid_orders(customer, provider, service, SEND_ORDERS)
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        _CHILDREN_CPU_BEFORE[0] = usage.ru_utime + usage.ru_stime
        started_load = load()
        started = time.perf_counter()
        with _InFlight():
            outcomes, most_in_flight = _run_task_processes(ids)
        seconds = time.perf_counter() - started
        sent = Order.objects.filter(pk__in=ids, stage=Stage.SENT).count()
        return {"orders": len(ids), "latency_ms": SEND_LATENCY_MS, "worker_slots": WORKER_SLOTS,
                "provider_cap": SEND_CAP if hasattr(provider, "send_concurrency") else None,
                "seconds": round(seconds, 2), "orders_per_second": round(len(ids) / seconds, 1),
                "goal_orders_per_second": round(0.9 * SEND_CAP / (SEND_LATENCY_MS / 1000), 1),
                "sent": sent, "task_outcomes": {o: outcomes.count(o) for o in set(outcomes)},
                "upstream_orders": sim.call("accepted_adds"), "max_adds_in_flight_in_one_process": most_in_flight,
                "panel_cpu_seconds": round(_children_cpu(), 2), "load_average": started_load}
    finally:
        sim.stop()


class _StatusRequestSizes:
    """The number of ids in every status request, counted where the client sends them."""

    def __init__(self) -> None:
        from providers.client import ProviderClient

        self._class = ProviderClient
        self._real = ProviderClient._call
        self._lock = threading.Lock()
        self.sizes: list[int] = []

    def __enter__(self):
        real, counter = self._real, self

        def call(client, action, params, *, ids=0, creates=False):
            if action == "status" and ids:
                with counter._lock:
                    counter.sizes.append(ids)
            return real(client, action, params, ids=ids, creates=creates)

        self._class._call = call
        return self

    def __exit__(self, *exc) -> None:
        self._class._call = self._real


def status_requests_during_burst(customer, category, tag: str, simulator_process) -> dict:
    """BURST_ORDERS orders placed at once and sent at the provider's cap, while poll runs start every
    BEAT_SECONDS (side by side if a run lasts longer), until every order was sent and polled."""
    from django.db import connections

    from orders.models import Order, Stage
    from orders.pipeline import poll

    sim = simulator_process(seed=6, latency_ms=SEND_LATENCY_MS)
    try:
        provider, service = _provider(category, sim, f"bench-pipeline-{tag}-burst")
        ids = _paid_orders(customer, provider, service, BURST_ORDERS)
        summaries = []

        def poll_run():
            try:
                summaries.append(poll.provider_poll(provider_id=provider.pk))
            finally:
                connections.close_all()

        started_load = load()
        with _StatusRequestSizes() as counter:
            sender = threading.Thread(target=_run_tasks, args=(ids,))
            sender.start()
            runs: list[threading.Thread] = []
            quiet = 0
            while quiet < 2:
                runs.append(threading.Thread(target=poll_run))
                runs[-1].start()
                time.sleep(BEAT_SECONDS)
                unpolled = Order.objects.filter(pk__in=ids).exclude(stage=Stage.SENT, last_checked_at__isnull=False)
                quiet = quiet + 1 if not sender.is_alive() and not unpolled.exists() else 0
            sender.join()
            for run in runs:
                run.join()
        sizes = counter.sizes
        polling = [s for s in summaries if s.orders]
        return {"orders": len(ids), "poll_runs": len(runs), "runs_that_polled": len(polling),
                "status_requests": len(sizes), "ids_polled": sum(sizes),
                "expected_requests": sum(math.ceil(s.orders / 100) for s in polling),
                "ids_per_request": {"min": min(sizes, default=0), "max": max(sizes, default=0)},
                "requests_under_100_ids": sum(1 for size in sizes if size < 100), "load_average": started_load}
    finally:
        sim.stop()


def stale_claim(customer, category, tag: str, simulator_process) -> dict:
    """After how long the sweeper takes a claim (a worker killed mid-`add`) for unknown, with a set clock."""
    from django.conf import settings
    from django.utils import timezone

    from orders.models import Order, Stage
    from orders.pipeline import send

    sim = simulator_process(seed=7)
    try:
        provider, service = _provider(category, sim, f"bench-pipeline-{tag}-stale")
        (order_id,) = _paid_orders(customer, provider, service, 1)
        claimed_at = timezone.now()
        assert send.order_claim_for_sending(order_id=order_id, now=claimed_at)
        swept_after = None
        for seconds in range(1, settings.PIPELINE_SENDING_STALE_SECONDS + 2):
            send.orders_sweep_stale_sending(now=claimed_at + timedelta(seconds=seconds))
            if Order.objects.get(pk=order_id).stage == Stage.UNKNOWN:
                swept_after = seconds
                break
        return {"client_timeout_seconds": float(provider.timeout_seconds), "unknown_after_seconds": swept_after}
    finally:
        sim.stop()
