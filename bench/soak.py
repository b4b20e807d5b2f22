"""A soak of the whole engine, as production runs it: `python -m bench soak` (or `python -m bench.soak`).

PostgreSQL, Redis, gunicorn, Celery workers and beat as separate processes, the upstream simulator with a
fault schedule (429 with Retry-After, HTML 502 pages, hangs longer than the client's timeout; see
soak_upstream.FAULT_SCHEDULE). Orders are placed through `/api/v2` `add` by several customers from
many threads; halfway through, one worker is killed with SIGKILL (its whole process group, as when its
machine dies) and started again. Then the soak waits until every order rests (final, failed, unknown)
or is flagged for a person, and reports: orders by final stage, upstream adds versus orders sent,
duplicate upstream orders (from the simulator's own record), ledger rows per order, the largest status
request and status requests per poll cycle against one per 100 ids, unknown orders and the money held
on them, the drain time, and `check_ledger`.

Needs PostgreSQL (DATABASE_URL's server; the soak creates its own database, `<name>_soak`, dropped and
created again at each run) and Redis: SOAK_BROKER_URL and SOAK_REDIS_URL, else CELERY_BROKER_URL and
REDIS_URL. The soak drops the broker's queued messages before and after it runs: give it a Redis
database of its own. SOAK_ORDERS, SOAK_THREADS, SOAK_WORKERS shrink or grow it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.soak_stack import ROOT, Stack, redis_purge
from bench.soak_upstream import FAULT_SCHEDULE, Phase, UpstreamProcess, upstream_figures

MOVING_SQL = "SELECT count(*) FROM orders_order WHERE stage NOT IN ('final', 'failed', 'unknown') AND attention = ''"


@dataclass
class SoakPlan:
    orders: int = 3000
    threads: int = 20
    customers: int = 10
    workers: int = 3
    worker_concurrency: int = 2  # prefork children per worker, as `celery worker --concurrency`
    kill_at: float | None = 0.5  # share of the orders placed when one worker is killed (None: no kill)
    restart_after_seconds: float = 5.0
    poll_seconds: int = 3
    drain_timeout_seconds: float = 900.0
    faults: tuple[Phase, ...] = FAULT_SCHEDULE
    keep_logs: bool = True
    settings: dict[str, str] = field(default_factory=dict)  # extra environment for every process


def _redis_url(name: str, fallback: str) -> str:
    url = os.environ.get(name) or os.environ.get(fallback, "")
    if not url.startswith("redis://"):
        raise RuntimeError(f"the soak needs Redis: set {name} (or {fallback}) to a redis:// URL")
    return url


def _database_urls() -> tuple[str, str]:
    """(server URL, soak database URL) from DATABASE_URL, which must be PostgreSQL."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        raise RuntimeError("the soak needs PostgreSQL: set DATABASE_URL to a postgres:// URL")
    parts = urllib.parse.urlsplit(url)
    name = parts.path.lstrip("/") or "panel"
    server = urllib.parse.urlunsplit((parts.scheme, parts.netloc, "", "", ""))
    return server, f"{server}/{name}_soak"


def _recreate_database(server: str, database_url: str) -> None:
    import psycopg

    name = urllib.parse.urlsplit(database_url).path.lstrip("/")
    with psycopg.connect(server + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def soak_environment(plan: SoakPlan, *, database_url: str, broker_url: str, cache_url: str,
                     folder: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "panel.settings",
        "PYTHONUNBUFFERED": "1",
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker_url,
        "REDIS_URL": cache_url,
        "SECRET_KEY": "soak-only-secret-key",
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "0",
        "SECURE_COOKIES": "0",
        "STATIC_MANIFEST": "0",
        "PROVIDER_URLS_ALLOW_PRIVATE": "1",  # the simulator listens on loopback
        "PANEL_DATA_DIR": str(folder / "data"),
        "LOG_LEVEL": "INFO",
        "DB_CONN_MAX_AGE": "60",
        "API_RATE_LIMIT_PER_SECOND": "1000000",
        "API_RATE_LIMIT_BURST": "1000000",
        # Short periods, so that the soak drains in minutes: polls, retries after a 429, the circuit's
        # cool-off, the sweep of orders whose task was lost, and a killed worker's claim becoming unknown.
        "PANEL_POLL_SECONDS": str(plan.poll_seconds),
        "PIPELINE_SEND_BACKOFF_SECONDS": "2",
        "PIPELINE_SEND_BACKOFF_MAX_SECONDS": "10",
        "PIPELINE_CIRCUIT_COOLDOWN_SECONDS": "5",
        "PIPELINE_SEND_GRACE_SECONDS": "10",
        "CELERY_TASK_SOFT_TIME_LIMIT": "30",
        "CELERY_TASK_TIME_LIMIT": "40",
        "PIPELINE_SENDING_STALE_SECONDS": "41",
        **plan.settings,
    }


def _python(args: list[str], env: dict[str, str], timeout: float = 300) -> dict:
    done = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)
    if done.returncode:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


class Load:
    """`orders` adds from `threads` threads, each order with a link of its own (the duplicate check's key)."""

    def __init__(self, *, plan: SoakPlan, url: str, seed: dict, upstream: UpstreamProcess) -> None:
        self.plan, self.url, self.seed, self.upstream = plan, url, seed, upstream
        self.placed = 0
        self.answers: dict[str, int] = {}
        self._next = 0
        self._phase = 0
        self._lock = threading.Lock()

    def _take(self) -> int | None:
        with self._lock:
            if self._next >= self.plan.orders:
                return None
            self._next += 1
            return self._next - 1

    def _switch_faults(self, index: int) -> None:
        phases = self.plan.faults
        with self._lock:
            due = [n for n, phase in enumerate(phases) if n >= self._phase and index >= phase.at * self.plan.orders]
            if not due:
                return
            self._phase = due[-1] + 1
            phase = phases[due[-1]]
        self.upstream.call("faults", phase.faults)

    def _worker(self) -> None:
        import requests

        session = requests.Session()
        keys, service, quantity = self.seed["keys"], self.seed["service_id"], self.seed["quantity"]
        while (index := self._take()) is not None:
            self._switch_faults(index)
            body = {"key": keys[index % len(keys)], "action": "add", "service": service,
                    "link": f"https://soak.test/p/{index}", "quantity": quantity}
            try:
                answer = session.post(self.url + "/api/v2", data=body, timeout=60).json()
                outcome = "order" if "order" in answer else f"error: {answer.get('error')}"
            except (requests.RequestException, ValueError) as error:
                outcome = f"failed: {type(error).__name__}"
            with self._lock:
                self.answers[outcome] = self.answers.get(outcome, 0) + 1
                self.placed += 1

    def run(self, on_progress) -> None:
        # Daemons: should a process of the stack die mid-load, the soak stops without waiting for them.
        threads = [threading.Thread(target=self._worker, name=f"soak-load-{n}", daemon=True)
                   for n in range(self.plan.threads)]
        for thread in threads:
            thread.start()
        while any(thread.is_alive() for thread in threads):
            on_progress(self.placed)
            time.sleep(0.2)
        for thread in threads:
            thread.join()


def _moving(database_url: str) -> int:
    import psycopg

    with psycopg.connect(database_url) as conn:
        return conn.execute(MOVING_SQL).fetchone()[0]


def soak(plan: SoakPlan) -> dict:
    server, database_url = _database_urls()
    broker_url = _redis_url("SOAK_BROKER_URL", "CELERY_BROKER_URL")
    cache_url = _redis_url("SOAK_REDIS_URL", "REDIS_URL")
    folder = Path(tempfile.mkdtemp(prefix="panel-soak-"))
    env = soak_environment(plan, database_url=database_url, broker_url=broker_url, cache_url=cache_url,
                           folder=folder)
    _recreate_database(server, database_url)
    redis_purge(broker_url)
    upstream = UpstreamProcess()
    stack = Stack(env=env, folder=folder, worker_concurrency=plan.worker_concurrency)
    timings: dict[str, float] = {}
    events: list[str] = []
    try:
        started = time.monotonic()
        # Web and workers start while the database is migrated and seeded; beat, which queues work at
        # once, only after.
        seeding = subprocess.Popen(
            [sys.executable, "-m", "bench.soak_db", "seed", json.dumps(
                {"upstream_url": upstream.url, "upstream_key": upstream.key, "customers": plan.customers})],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        stack.start_web()
        for number in range(1, plan.workers + 1):
            stack.start_worker(number)
        out, err = seeding.communicate(timeout=600)
        if seeding.returncode:
            raise RuntimeError(f"seeding the soak database failed:\n{err[-3000:]}")
        seed = json.loads(out.strip().splitlines()[-1])
        stack.start_beat()
        stack.wait_until_up(workers=list(range(1, plan.workers + 1)))
        timings["setup_seconds"] = time.monotonic() - started

        load = Load(plan=plan, url=stack.url, seed=seed, upstream=upstream)
        killed_at: list[float] = []

        def on_progress(placed: int) -> None:
            stack.check_alive()
            if plan.kill_at is not None and not killed_at and placed >= plan.kill_at * plan.orders:
                stack.kill_worker(1)
                killed_at.append(time.monotonic())
                events.append(f"worker 1 killed with SIGKILL after {placed} orders placed")
            elif len(killed_at) == 1 and time.monotonic() - killed_at[0] >= plan.restart_after_seconds:
                stack.restart_worker(1)
                killed_at.append(time.monotonic())
                events.append(f"worker 1 started again after {plan.restart_after_seconds:.0f} s")

        load_started = time.monotonic()
        load.run(on_progress)
        load_ended = time.monotonic()
        while len(killed_at) == 1:  # a short load: the restart is still due
            on_progress(load.placed)
            time.sleep(0.2)
        timings["placing_seconds"] = load_ended - load_started
        timings["orders_per_second_placed"] = plan.orders / max(timings["placing_seconds"], 1e-6)

        left = _moving(database_url)
        while left and time.monotonic() - load_ended < plan.drain_timeout_seconds:
            stack.check_alive()
            time.sleep(1)
            left = _moving(database_url)
        timings["drain_seconds"] = time.monotonic() - load_ended
        drained = left == 0
    finally:
        upstream_report = upstream.call("report") if upstream else None
        stack.stop()
        upstream.stop()
        redis_purge(broker_url)
    database = _python(["-m", "bench.soak_db", "report"], env)
    seen = upstream_figures(upstream_report, period_seconds=plan.poll_seconds)
    figures = {
        "setup": {"orders": plan.orders, "threads": plan.threads, "customers": plan.customers,
                  "workers": plan.workers, "worker_concurrency": plan.worker_concurrency,
                  "poll_seconds": plan.poll_seconds, "cpus": os.cpu_count(),
                  "fault_schedule": [asdict(p) for p in plan.faults], "events": events,
                  "api_answers": load.answers},
        "drained": drained,
        "orders_by_final_stage": database["by_stage"],
        "upstream_adds": seen["adds_accepted"],
        "orders_sent": database["sent_upstream"],
        "duplicate_upstream_orders": seen["duplicate_upstream_orders"],
        "double_settlements": {**database["ledger_rows"], "refund_not_as_owed": database["refund_not_as_owed"]},
        "max_ids_per_status_request": seen["max_ids_per_status_request"],
        "status_requests_per_cycle": seen["status_cycles"],
        # Whether the upstream holds an order for them after all (the simulator's record), which an admin
        # resolving them would find out by asking the provider.
        "unknown_orders": {**database["unknown"], "placed_upstream_all_the_same": len(
            set(database["unknown_links"]) & set(upstream_report["links"]))},
        "flagged_orders": database["flagged"],
        "left_in_paid_sending_sent_without_flag": database["left_moving_without_flag"],
        "check_ledger": database["ledger_check"],
        "upstream_requests": seen["requests"],
        **{name: round(value, 1) for name, value in timings.items()},
        "logs": str(folder),
    }
    if not plan.keep_logs and drained:
        shutil.rmtree(folder, ignore_errors=True)
        figures["logs"] = None
    return figures


def plan_from_environment() -> SoakPlan:
    return SoakPlan(orders=int(os.environ.get("SOAK_ORDERS", "3000")),
                    threads=int(os.environ.get("SOAK_THREADS", "20")),
                    workers=int(os.environ.get("SOAK_WORKERS", "3")))


def run() -> dict:
    return soak(plan_from_environment())


if __name__ == "__main__":
    print(json.dumps(run(), indent=2, default=str))
