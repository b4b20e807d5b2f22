"""The soak's upstream: the simulator in a process of its own, a fault schedule, and what it saw.

The simulator runs in its own process (an upstream is another machine, and it must not share the load
generator's GIL) and is driven over a pipe: `faults` switches the fault mix, `report` returns its own
record of what it was asked: every `add` it accepted (with the link, which is unique per soak order) and,
per request, the action and the number of ids it carried.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import threading
from collections import Counter
from dataclasses import dataclass

# A request that hangs lasts this long; the provider's timeout in the soak is shorter (soak_db.PROVIDER_TIMEOUT).
HANG_SECONDS = 6.0
NO_FAULTS = {"rate_limit_share": 0.0, "html_502_share": 0.0, "hang_share": 0.0}


@dataclass(frozen=True)
class Phase:
    """From `at` (share of the orders placed, 0..1) on, the upstream answers with this fault mix."""

    at: float
    name: str
    faults: dict


# The default schedule: calm, then 429s (with Retry-After), HTML 502 pages, hangs, and calm again so the
# soak drains. The worker is killed halfway through (soak.SoakPlan.kill_at).
FAULT_SCHEDULE = (
    Phase(0.0, "calm", {}),
    Phase(0.1, "429 Too Many Requests", {"rate_limit_share": 0.15}),
    Phase(0.3, "HTML 502", {"html_502_share": 0.03}),
    Phase(0.5, "hangs", {"hang_share": 0.01}),
    Phase(0.7, "calm", {}),
)


def _simulator_main(conn, seed: int, speed: float) -> None:
    from providers.simulator import DEMO_KEY, Simulator

    sim = Simulator(speed=speed, seed=seed, services_count=20, hang_seconds=HANG_SECONDS, retry_after="2").start()
    conn.send({"url": sim.url, "key": DEMO_KEY})
    while True:
        command, arg = conn.recv()
        if command == "faults":
            sim.config.set(**{**NO_FAULTS, **arg})
            conn.send(None)
        elif command == "report":
            with sim.state.lock:
                links = [add["fields"].get("link", "") for add in sim.accepted_adds]
            conn.send({"links": links, "requests": list(sim.request_log), "counts": dict(sim.request_counts)})
        else:
            sim.stop()
            conn.send(None)
            return


class UpstreamProcess:
    def __init__(self, *, seed: int = 16, speed: float = 30.0) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._lock = threading.Lock()  # the load threads switch faults while the main thread may ask
        self._process = context.Process(target=_simulator_main, args=(child, seed, speed), daemon=True)
        self._process.start()
        ready = self._conn.recv()
        self.url, self.key = ready["url"], ready["key"]

    def call(self, command: str, arg=None):
        with self._lock:
            self._conn.send((command, arg))
            return self._conn.recv()

    def stop(self) -> None:
        if self._process.is_alive():
            with contextlib.suppress(EOFError, OSError):
                self.call("stop")
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.kill()


def status_cycles(requests: list[tuple[float, str, int]], *, period_seconds: float) -> list[dict]:
    """Status requests by poll cycle: beat starts a poll every `period_seconds`, so a cycle is the window of
    that length from the first status request on. A cycle's minimum is one request per 100 ids it asked."""
    statuses = sorted(r for r in requests if r[1] == "status")
    if not statuses:
        return []
    start = statuses[0][0]
    by_window: dict[int, dict] = {}
    for at, _action, ids in statuses:
        cycle = by_window.setdefault(int((at - start) // period_seconds), {"requests": 0, "ids": 0, "sizes": []})
        cycle["requests"] += 1
        cycle["ids"] += ids
        cycle["sizes"].append(ids)
    cycles = [by_window[k] for k in sorted(by_window)]
    for cycle in cycles:
        cycle["minimum"] = math.ceil(cycle["ids"] / 100)
    return cycles


def upstream_figures(report: dict, *, period_seconds: float) -> dict:
    """The simulator's side of the soak: adds accepted, duplicates, status request sizes and cycles."""
    by_link = Counter(report["links"])
    statuses = [ids for _, action, ids in report["requests"] if action == "status"]
    cycles = status_cycles(report["requests"], period_seconds=period_seconds)
    over = [c for c in cycles if c["requests"] > c["minimum"]]
    worst = max(cycles, key=lambda c: c["requests"] - c["minimum"], default=None)
    return {
        "adds_accepted": len(report["links"]),
        "duplicate_upstream_orders": sum(n - 1 for n in by_link.values() if n > 1),
        "requests": report["counts"],
        "status_requests": len(statuses),
        "max_ids_per_status_request": max(statuses, default=0),
        "status_cycles": {
            "cycles": len(cycles),
            "requests": sum(c["requests"] for c in cycles),
            "minimum_requests": sum(c["minimum"] for c in cycles),
            "cycles_over_minimum": len(over),
            "worst": ({"requests": worst["requests"], "ids": worst["ids"], "minimum": worst["minimum"],
                       "sizes": worst["sizes"][:20]} if worst else None),
        },
    }
