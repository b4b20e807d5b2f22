"""Benchmark: multi-status of 10,000 upstream orders against the simulator over loopback HTTP.

The protocol allows 100 ids per request, so 10,000 ids must cost exactly 100 requests.
"""

from __future__ import annotations

import time
from decimal import Decimal
from types import SimpleNamespace

from providers import ordertypes as ot
from providers.client import ItemError, ProviderClient, close_sessions
from providers.simulator import DEMO_KEY, Simulator

ORDERS = 10_000


def run(orders: int = ORDERS) -> dict:
    sim = Simulator(speed=0, seed=42)
    # Orders are placed straight into the simulated panel: the benchmark measures polling, not `add`.
    service = sim.catalogue.first_of_type(ot.DEFAULT)
    account = sim.state.accounts[DEMO_KEY]
    ids = [sim.state.create_order(account=account, service=service, fields={}, quantity=1000,
                                  charge=Decimal("1")).order_id for _ in range(orders)]
    sim.advance(sim.config.pending_seconds)  # a mix of Pending and In progress
    sim.start()
    provider = SimpleNamespace(pk=None, name="bench-simulator", api_url=sim.url, api_key=DEMO_KEY,
                               request_format="form", timeout_seconds=Decimal("30"))
    try:
        client = ProviderClient(provider)
        started = time.perf_counter()
        result = client.statuses(ids)
        wall = time.perf_counter() - started
    finally:
        sim.stop()
        close_sessions()
    errors = sum(isinstance(r, ItemError) for r in result.values())
    return {
        "benchmark": "upstream multi-status",
        "ids": orders,
        "answered": len(result) - errors,
        "requests": sim.request_counts["status"],
        "connections": sim.connections,
        "wall_seconds": round(wall, 3),
        "ids_per_second": round(orders / wall) if wall else None,
    }


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name}: {value}")
