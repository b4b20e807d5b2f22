"""Throughput and latency of /api/v2 under gunicorn on PostgreSQL, against a trivial JSON view.

`python -m bench.api` (or `python bench/api.py`). Creates and migrates the database `<name>_api` (the
database of DATABASE_URL, panel_bench_api without one) on the PostgreSQL server of DATABASE_URL (default
postgres://postgres@127.0.0.1:5432), seeds 2,000 services and 100 orders, serves the panel with two
gunicorn processes on free loopback ports and loads them with `wrk` (Debian package `wrk`) at 16
connections, 8 each: `status` with
100 ids, `add` (spread over 16 customers), `services`, and two floors (`PANEL_BENCH_FLOOR=1`): the same
trivial JSON view behind the full middleware stack (`floor`, the yardstick the API's goals were set
against) and behind the API's fast path (`floor_fast`: the cheapest answer the stack can give at all),
both served by the same gunicorns. Each endpoint runs ROUNDS times between measurements of the floor, and
its figures are those of the round with the median ratio to the floor around it. REDIS_URL, when set,
is the cache (rate limits, API keys, the services catalogue), as in production. Takes about two minutes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVICES = 2_000
STATUS_IDS = 100
CONNECTIONS = 16
DURATION_SECONDS = 4
WARMUP_SECONDS = 1
ROUNDS = 3
# Two processes keep both cores busy; threads let one process wait on PostgreSQL while another
# request runs, and (unlike sync workers) keep connections alive as real clients do.
GUNICORN_WORKERS = 2
GUNICORN_THREADS = 8
# The same trivial view behind the full middleware stack, and behind the API's fast path (panel.api.middleware).
FLOOR_PATH = "/api/bench-floor"
FLOOR_FAST_PATH = "/api/bench-floor-fast"


def _server_url_and_database() -> tuple[str, str]:
    """The server of DATABASE_URL, and this benchmark's own database there: one that the benchmark may
    drop, named after DATABASE_URL's so that two people's runs on one server do not collide."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        url = "postgres://postgres@127.0.0.1:5432/postgres"
    parts = urllib.parse.urlsplit(url)
    name = re.sub(r"\W", "", parts.path.lstrip("/")) or "panel_bench"
    if name == "postgres":
        name = "panel_bench"
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, "", "", "")), f"{name}_api"


def _create_database(server_url: str, database: str) -> None:
    import psycopg

    with psycopg.connect(server_url + "/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {database}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _seed() -> dict:
    """Runs in a child process whose environment points Django at the bench database."""
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from decimal import Decimal

    from accounts.services import customer_create
    from orders.models import Order, Stage, Status
    from providers.models import Category, Provider, Service

    provider = Provider.objects.create(name="bench", api_url="http://127.0.0.1:9/api/v2", api_key="bench")
    categories = [Category.objects.create(name=f"Category {i:02d}", sort_order=i) for i in range(20)]
    Service.objects.bulk_create(
        Service(provider=provider, upstream_service_id=str(i), name=f"Service {i} followers, high quality",
                category=categories[i % len(categories)], upstream_rate=Decimal("0.9"),
                rate=Decimal("1.2") + Decimal(i) / 1000, min=10, max=100_000, refill=i % 2 == 0,
                cancel=i % 3 == 0, dripfeed=i % 5 == 0)
        for i in range(SERVICES)
    )
    customer, key = customer_create(username="bench", balance="1000000")
    # `add` is spread over several customers, as real traffic is: one customer's orders queue on its
    # balance row lock by design, which would measure the lock rather than the endpoint.
    add_keys = [customer_create(username=f"bench-add-{i}", balance="1000000")[1] for i in range(CONNECTIONS)]
    service = Service.objects.order_by("id").first()
    statuses = [Status.PENDING, Status.IN_PROGRESS, Status.COMPLETED, Status.PARTIAL]
    orders = Order.objects.bulk_create(
        Order(customer=customer, service=service, provider=provider, link="https://example.com/p", quantity=1000,
              rate=service.rate, charge=Decimal("1.2"), status=statuses[i % 4], stage=Stage.SENT,
              upstream_id=str(i), start_count=100 + i, remains=i * 3)
        for i in range(STATUS_IDS)
    )
    return {"key": key, "add_keys": add_keys, "order_ids": [o.pk for o in orders], "service_id": service.pk}


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(number) * _UNITS[unit]


def _wrk_command(url: str, bodies: list[str] | None, seconds: int, connections: int,
                 script: str) -> list[str]:
    with open(script, "w") as lua:
        if bodies:
            lua.write("local bodies = {" + ", ".join(json.dumps(b) for b in bodies) + "}\n")
            lua.write("local n = 0\n")
            lua.write('local headers = {["Content-Type"] = "application/x-www-form-urlencoded"}\n')
            lua.write("request = function()\n  n = n + 1\n"
                      '  return wrk.format("POST", nil, headers, bodies[(n % #bodies) + 1])\nend\n')
    return ["wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds}s", "--latency", "-s", script, url]


def _wrk_figures(out: str) -> dict:
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", out, re.MULTILINE))
    if set(latency) != {"50", "99"} or "Requests/sec" not in out:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)$", out, re.MULTILINE)
    return {
        "requests_per_second": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": _ms(latency["50"]),
        "p99_ms": _ms(latency["99"]),
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "non_2xx": int(errors.group(1)) if errors else 0,
        **({"socket_errors": socket_errors.group(1)} if socket_errors else {}),
    }


def _wrk(bases: list[str], path: str, bodies: list[str] | None, seconds: int) -> dict:
    """wrk at CONNECTIONS connections in all, shared evenly by the servers at `bases` and run at the same
    time; GET without bodies, else form POSTs cycling through `bodies`. Request rates add up; the
    latencies given are the mean median and the worst 99th percentile."""
    with tempfile.TemporaryDirectory() as scripts:
        runs = [subprocess.Popen(_wrk_command(base + path, bodies, seconds, CONNECTIONS // len(bases),
                                              f"{scripts}/{n}.lua"), stdout=subprocess.PIPE, text=True)
                for n, base in enumerate(bases)]
        outs = [run.communicate(timeout=seconds + 30)[0] for run in runs]
    if any(run.returncode for run in runs):
        raise RuntimeError(f"wrk failed:\n{outs}")
    each = [_wrk_figures(out) for out in outs]
    return {
        "requests_per_second": round(sum(f["requests_per_second"] for f in each), 2),
        "p50_ms": round(sum(f["p50_ms"] for f in each) / len(each), 3),
        "p99_ms": round(max(f["p99_ms"] for f in each), 3),
        "requests": sum(f["requests"] for f in each),
        "non_2xx": sum(f["non_2xx"] for f in each),
        **({"socket_errors": [f["socket_errors"] for f in each if "socket_errors" in f]}
           if any("socket_errors" in f for f in each) else {}),
    }


def _post(url: str, body: str) -> object:
    request = urllib.request.Request(url, data=body.encode(),
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _serves(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=10):
            return True
    except urllib.error.HTTPError:
        return False


def _wait_until_up(url: str, server: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"the panel answers HTTP {exc.code} on {url}: it is up but broken") from exc
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not start in time")


def _against_the_floor(bases: list[str], body: list[str], floor: dict) -> tuple[dict, dict]:
    """The endpoint's figures from the median of ROUNDS rounds, each round's req/s divided by the mean of
    the floor's req/s measured right before and right after it: the host's load drifts during a run (this
    machine shares its host), and weighs alike on both sides of each ratio. Returns the last floor."""
    _wrk(bases, "/api/v2", body, WARMUP_SECONDS)
    rounds = []
    for _ in range(ROUNDS):
        result = _wrk(bases, "/api/v2", body, DURATION_SECONDS)
        after = _wrk(bases, FLOOR_PATH, None, DURATION_SECONDS)
        alongside = (floor["requests_per_second"] + after["requests_per_second"]) / 2
        result["floor_rps_alongside"] = round(alongside, 2)
        result["rps_vs_floor"] = round(result["requests_per_second"] / alongside, 3)
        result["p50_vs_floor"] = round(result["p50_ms"] / ((floor["p50_ms"] + after["p50_ms"]) / 2), 2)
        rounds.append(result)
        floor = after
    rounds.sort(key=lambda r: r["rps_vs_floor"])
    median = rounds[len(rounds) // 2]
    median["rps_vs_floor_each_round"] = [r["rps_vs_floor"] for r in rounds]
    return median, floor


def run() -> dict:
    if shutil.which("wrk") is None:
        raise RuntimeError("the load generator `wrk` is missing: apt-get install -y wrk")
    server_url, database = _server_url_and_database()
    _create_database(server_url, database)
    data_dir = tempfile.mkdtemp(prefix="panel-bench-api-")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "panel.settings",
        "DATABASE_URL": f"{server_url}/{database}",
        "SECRET_KEY": "bench-only",
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DB_CONN_MAX_AGE": "600",
        "PANEL_BENCH_FLOOR": "1",
        "PANEL_DATA_DIR": data_dir,
        # In-memory broker: `add` is measured without the broker's own write (the file transport's fsync,
        # a Redis round trip), and no shared broker receives bench orders. BENCH_API_BROKER overrides it.
        "CELERY_BROKER_URL": os.environ.get("BENCH_API_BROKER", "memory://"),
        "SECURE_SSL_REDIRECT": "0",  # plain HTTP on loopback: no TLS proxy in front
        "API_RATE_LIMIT_PER_SECOND": "1000000000",
        "API_RATE_LIMIT_BURST": "1000000000",
        "LOG_LEVEL": "WARNING",
    }
    seeded = subprocess.run([sys.executable, "-m", "bench.api", "--seed"], cwd=ROOT, env=env,
                            capture_output=True, text=True)
    if seeded.returncode:
        raise RuntimeError(f"seeding failed:\n{seeded.stderr[-2000:]}")
    seed = json.loads(seeded.stdout.strip().splitlines()[-1])
    # One single-worker gunicorn per port, each loaded by its share of the connections: behind one shared
    # socket, a worker may accept all 16 keep-alive connections of a run while the other idles (seen here:
    # one run in eight), which halves that run's figure whatever the code does.
    bases = [f"http://127.0.0.1:{_free_port()}" for _ in range(GUNICORN_WORKERS)]
    servers = [subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "panel.wsgi", "--bind", base.removeprefix("http://"), "--workers", "1",
         "--worker-class", "gthread", "--threads", str(GUNICORN_THREADS), "--log-level", "warning",
         "--keep-alive", "30"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    ) for base in bases]
    base = bases[0]
    try:
        for server_base, server in zip(bases, servers, strict=True):
            _wait_until_up(server_base + FLOOR_PATH, server)
        key = seed["key"]
        bodies = {
            "status_100_ids": [urllib.parse.urlencode(
                {"key": key, "action": "status", "orders": ",".join(map(str, seed["order_ids"]))})],
            "add": [urllib.parse.urlencode({"key": add_key, "action": "add", "service": seed["service_id"],
                                            "link": "https://example.com/p", "quantity": 1000})
                    for add_key in seed["add_keys"]],
            "services_2000": [urllib.parse.urlencode({"key": key, "action": "services"})],
        }
        # Every body is answered as intended before it is timed: errors are fast and would flatter.
        checks = {name: _post(base + "/api/v2", body[0]) for name, body in bodies.items()}
        assert len(checks["status_100_ids"]) == STATUS_IDS and "error" not in checks["status_100_ids"], checks
        assert "order" in checks["add"], checks["add"]
        assert len(checks["services_2000"]) == SERVICES, len(checks["services_2000"])

        # A build without the fast path (an older commit measured for comparison) has no fast floor.
        fast_floor = _serves(base + FLOOR_FAST_PATH)
        figures: dict[str, dict] = {}
        _wrk(bases, FLOOR_PATH, None, WARMUP_SECONDS)
        figures["floor"] = floor = _wrk(bases, FLOOR_PATH, None, DURATION_SECONDS)
        if fast_floor:
            _wrk(bases, FLOOR_FAST_PATH, None, WARMUP_SECONDS)
            figures["floor_fast"] = _wrk(bases, FLOOR_FAST_PATH, None, DURATION_SECONDS)
        for name, body in bodies.items():
            figures[name], floor = _against_the_floor(bases, body, floor)
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(data_dir, ignore_errors=True)
    return {
        "setup": {"connections": CONNECTIONS, "seconds_each": DURATION_SECONDS, "rounds": ROUNDS,
                  "cpus": os.cpu_count(),
                  "gunicorn": f"{GUNICORN_WORKERS} servers x 1 worker x {GUNICORN_THREADS} threads (gthread)",
                  "cache": "redis" if os.environ.get("REDIS_URL") else "local memory",
                  "broker": env["CELERY_BROKER_URL"]},
        **figures,
    }


if __name__ == "__main__":
    if sys.argv[1:] == ["--seed"]:
        print(json.dumps(_seed()))
    else:
        print(json.dumps(run(), indent=2))
