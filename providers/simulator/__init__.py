"""An upstream SMM panel speaking API v2 on a loopback port, for tests, benchmarks and the demo.

    sim = Simulator(speed=100, seed=7)
    sim.start()                      # 127.0.0.1, a free port, a daemon thread
    sim.url                          # http://127.0.0.1:PORT/api/v2
    sim.add_key("k", balance=50)
    sim.config.html_502_share = 0.5  # faults and quirks: see SimConfig
    sim.config.honour_request_id = True  # `add` answers a repeated request_id with the same order
    sim.request_counts["status"], sim.accepted_adds, sim.transports, sim.connections
    sim.request_log                  # (monotonic time, action, ids in the request) of the latest requests
    sim.advance(600)                 # move simulated time; speed=0 makes time move only this way
    sim.force(order_id, status="Partial", remains=157)
    sim.catalogue.first_of_type("Default", dripfeed=True), .set_rate(id, rate), .remove(id), .add(...)
    sim.stop()

Orders progress lazily from the simulated clock: Pending → In progress → Completed, or Partial/Canceled
for shares set in `sim.config`; refunds and per-post subscription charges land on the key's balance, and a
refunded order's status answers its `charge` less the refund (what it cost the key).
Drip-feed orders report `runs` started (with `dripfeed_child_orders`, their runs' ids in `orders`).
Subscriptions get new posts at `config.subscription_posts_per_hour` (old posts at once), each charged
as it arrives, and report `posts` (old ones included): Active, Paused while the key cannot pay the next
post, Completed once old_posts + posts are delivered, Expired after the end of the `expiry` day,
Canceled after a cancel.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from decimal import Decimal

from providers.simulator.api import Api
from providers.simulator.catalogue import Catalogue, SimService
from providers.simulator.config import SimConfig
from providers.simulator.server import SimulatorServer
from providers.simulator.state import Clock, Order, PanelState

__all__ = ["DEMO_KEY", "Simulator", "SimConfig", "SimService"]

DEMO_KEY = "demo-key"
DEMO_BALANCE = Decimal("1000000")
# Requests kept in `request_log`: a long-running demo must not grow it without end.
REQUEST_LOG_SIZE = 200_000


class Simulator:
    def __init__(self, *, speed: float = 1.0, seed: int = 1, host: str = "127.0.0.1", port: int = 0,
                 path: str = "/api/v2", **switches) -> None:
        self.config = SimConfig()
        self.config.set(**switches)
        self.seed = seed
        self.host, self.port, self.path = host, port, path
        self.clock = Clock(speed)
        self.catalogue = Catalogue(seed=seed, config=self.config)
        self.state = PanelState(config=self.config, clock=self.clock, seed=seed)
        self.api = Api(state=self.state, catalogue=self.catalogue, config=self.config)
        self.request_counts: Counter[str] = Counter()  # by action ("cancels" for cancel status requests)
        self.transports: Counter[str] = Counter()  # "form", "json", "get"
        self.connections = 0  # TCP connections accepted: shows whether clients pool them
        # Per request: when, which action, how many ids it carried (orders=, refills=, cancels=).
        self.request_log: deque[tuple[float, str, int]] = deque(maxlen=REQUEST_LOG_SIZE)
        self.stopping = threading.Event()
        self._counts_lock = threading.Lock()
        self._server: SimulatorServer | None = None
        self._thread: threading.Thread | None = None
        self.add_key(DEMO_KEY, DEMO_BALANCE)

    # Lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> Simulator:
        self._server = SimulatorServer((self.host, self.port), self)
        self.port = self._server.server_address[1]
        # A short poll interval so stop() returns quickly; the accept loop itself is select()-driven.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name=f"simulator:{self.port}", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread (the management command)."""
        self._server = SimulatorServer((self.host, self.port), self)
        self.port = self._server.server_address[1]
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()

    def stop(self) -> None:
        self.stopping.set()  # wakes hanging handlers so they drop their connections
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{self.path}"

    # Keys, orders, time ----------------------------------------------------------------------------------

    def add_key(self, key: str, balance: Decimal | str | int = 0, currency: str = "USD") -> None:
        self.state.add_key(key, balance, currency)

    def balance_of(self, key: str) -> Decimal:
        self.state.settle_all(key)
        return self.state.accounts[key].balance

    def order(self, order_id: str) -> Order:
        return self.state.orders[str(order_id)]

    def order_status(self, order_id: str) -> str:
        """The status the panel would answer now (in its own spelling), for assertions."""
        return self.state.view(self.order(order_id)).status

    def force(self, order_id: str, *, status: str, remains: int | None = None) -> None:
        """Decide an order's fate now, e.g. force(id, status="Partial", remains=157)."""
        self.state.force(str(order_id), status=status, remains=remains)

    def advance(self, seconds: float) -> None:
        """Move simulated time forward, so tests need not sleep."""
        with self.state.lock:
            self.clock.advance(seconds)

    @property
    def accepted_adds(self) -> list[dict]:
        return self.state.accepted_adds

    # Faults ----------------------------------------------------------------------------------------------

    def count_request(self, action: str, transport: str, ids: int = 0) -> None:
        with self._counts_lock:
            self.request_counts[action] += 1
            self.transports[transport] += 1
            self.request_log.append((time.monotonic(), action, ids))

    def count_connection(self) -> None:
        with self._counts_lock:
            self.connections += 1

    def draw_fault(self) -> str | None:
        """One draw per request, from the seeded generator: "429", "502", "hang" or None."""
        cfg = self.config
        if cfg.latency_ms:
            self.stopping.wait(cfg.latency_ms / 1000)
        if not (cfg.rate_limit_share or cfg.html_502_share or cfg.hang_share):
            return None
        roll = self.state.rand()
        for fault, share in (("429", cfg.rate_limit_share), ("502", cfg.html_502_share), ("hang", cfg.hang_share)):
            if roll < share:
                return fault
            roll -= share
        return None
