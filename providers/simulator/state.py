"""The simulated panel's model: API keys with balances, orders, refills and cancel requests.

Progress is computed lazily from a clock (real time × `speed`, plus whatever a test advanced it by), so
no background thread is needed and a seed makes every order's fate repeatable.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from providers import ordertypes as ot
from providers.simulator.catalogue import SimService
from providers.simulator.config import SimConfig

CENTS = Decimal("0.00001")
FINAL = ("Completed", "Partial", "Canceled", "Expired")


def price(rate: Decimal, units: int) -> Decimal:
    return (rate * units / 1000).quantize(CENTS, rounding=ROUND_HALF_UP)


class Clock:
    """Simulated seconds: real seconds × speed, plus manual advances."""

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self._origin = time.monotonic()
        self._wall_origin = datetime.now()
        self._offset = 0.0

    def now(self) -> float:
        return (time.monotonic() - self._origin) * self.speed + self._offset

    def advance(self, seconds: float) -> None:
        self._offset += seconds

    def date_at(self, sim_seconds: float) -> datetime:
        return self._wall_origin + timedelta(seconds=sim_seconds)


@dataclass
class Account:
    key: str
    balance: Decimal
    currency: str = "USD"


@dataclass
class Order:
    order_id: str
    key: str
    service: SimService
    fields: dict[str, str]
    quantity: int  # units in all (drip-feed: quantity × runs); 1 for packages
    charge: Decimal
    created: float
    start_count: int
    pending_for: float
    duration: float
    fate: str  # "Completed", "Partial" or "Canceled"
    fate_remains: int
    runs: int | None = None
    interval: int | None = None
    # Subscriptions.
    sub: dict | None = None
    posts_charged: int = 0
    paused: bool = False
    # What happened since: a forced fate, a cancel taking effect, refunds made.
    forced: dict | None = None
    canceled_at: float | None = None
    canceled_remains: int | None = None
    refunded: Decimal = Decimal(0)
    settled: bool = False
    child_ids: list[str] | None = None  # drip-feed: one order id per run, listed once the run started


@dataclass
class Request:
    """A refill or a cancel request."""

    request_id: str
    key: str
    order_id: str
    created: float
    done_at: float
    fate: str  # "Completed" or "Rejected"
    kind: str = "refill"


@dataclass
class View:
    status: str
    remains: int
    delivered: int
    runs_done: int | None = None
    posts_done: int | None = None


class PanelState:
    """Everything the simulated panel knows; every public method holds the one lock."""

    def __init__(self, *, config: SimConfig, clock: Clock, seed: int) -> None:
        self.config = config
        self.clock = clock
        self.seed = seed
        self.lock = threading.RLock()
        self.accounts: dict[str, Account] = {}
        self.orders: dict[str, Order] = {}
        self.refills: dict[str, Request] = {}
        self.cancels: dict[str, Request] = {}
        self._rng = random.Random(seed)
        self._counters = {"order": 1000, "refill": 0, "cancel": 0}
        self.accepted_adds: list[dict] = []
        self.requests: dict[tuple[str, str], str] = {}  # (key, request_id) -> order id, when honoured

    # Keys and ids ----------------------------------------------------------------------------------------

    def add_key(self, key: str, balance: Decimal | str | int = 0, currency: str = "USD") -> Account:
        with self.lock:
            account = Account(key, Decimal(str(balance)), currency)
            self.accounts[key] = account
            return account

    def next_id(self, kind: str) -> str:
        with self.lock:
            self._counters[kind] += 1
            number = self._counters[kind]
            if self.config.non_numeric_ids:
                prefix = {"order": "ord", "refill": "rf", "cancel": "cn"}[kind]
                return f"{prefix}_{number * 2654435761 % 0xFFFFF:05x}{number:x}"
            return str(number)

    def rand(self) -> float:
        with self.lock:
            return self._rng.random()

    # Orders ----------------------------------------------------------------------------------------------

    def create_order(self, *, account: Account, service: SimService, fields: dict[str, str], quantity: int,
                     charge: Decimal, runs: int | None = None, interval: int | None = None,
                     sub: dict | None = None, request_id: str = "", remember: bool = False) -> Order:
        with self.lock:
            rng = self._rng
            roll = rng.random()
            cfg = self.config
            if sub is not None or runs:
                fate = "Completed"
            elif roll < cfg.canceled_share:
                fate = "Canceled"
            elif roll < cfg.canceled_share + cfg.partial_share:
                fate = "Partial"
            else:
                fate = "Completed"
            fate_remains = 0
            if fate == "Partial":
                fate_remains = max(1, int(quantity * rng.uniform(0.05, 0.6))) if quantity > 1 else 1
            elif fate == "Canceled":
                fate_remains = quantity
            order = Order(
                order_id=self.next_id("order"), key=account.key, service=service, fields=dict(fields),
                quantity=quantity, charge=charge, created=self.clock.now(), start_count=rng.randint(0, 50_000),
                pending_for=cfg.pending_seconds * rng.uniform(0.5, 1.5),
                duration=cfg.order_seconds * rng.uniform(0.5, 1.5), fate=fate, fate_remains=fate_remains,
                runs=runs, interval=interval, sub=sub,
            )
            if runs:
                order.child_ids = [self.next_id("order") for _ in range(runs)]
            account.balance -= charge
            self.orders[order.order_id] = order
            self.accepted_adds.append({"key": account.key, "service": service.service_id, "fields": dict(fields),
                                       "order": order.order_id, "charge": charge, "request_id": request_id})
            if remember:  # the request_id is honoured: the same one again gets this order
                self.requests[(account.key, request_id)] = order.order_id
            return order

    def order_for_request(self, key: str, request_id: str) -> Order | None:
        """The order an earlier `add` with this request_id made for this key (when request ids are honoured)."""
        with self.lock:
            order_id = self.requests.get((key, request_id))
            return self.orders[order_id] if order_id is not None else None

    def find_order(self, key: str, order_id: str) -> Order | None:
        order = self.orders.get(str(order_id).strip())
        return order if order is not None and order.key == key else None

    def view(self, order: Order) -> View:
        """The order as it stands now; settles refunds and subscription charges on the way."""
        with self.lock:
            now = self.clock.now()
            if order.sub is not None:
                return self._view_subscription(order, now)
            view = self._view_order(order, now)
            if view.status in FINAL and not order.settled:
                self._settle(order, view)
            return view

    def _view_order(self, order: Order, now: float) -> View:
        q = order.quantity
        if order.forced is not None:
            remains = order.forced.get("remains", 0 if order.forced["status"] == "Completed" else q)
            status = order.forced["status"]
            if status == "Canceled":
                remains = q
            return View(status, remains, q - remains, order.runs if order.runs else None)
        start = order.created + order.pending_for
        if order.runs:
            end = start + (order.runs - 1) * order.interval * 60 + order.duration / order.runs
        else:
            end = start + order.duration
        fate_end = end if order.fate != "Canceled" else start
        if order.canceled_at is not None and order.canceled_at < fate_end and now >= order.canceled_at:
            delivered = self._delivered(order, order.canceled_at)
            remains = q - delivered
            return View("Partial" if delivered else "Canceled", remains, delivered,
                        self._runs_done(order, order.canceled_at))
        if now < start:
            return View("Pending", q, 0, 0 if order.runs else None)
        if order.fate == "Canceled":
            return View("Canceled", q, 0, 0 if order.runs else None)
        if now >= end:
            remains = order.fate_remains
            return View(order.fate, remains, q - remains, order.runs)
        delivered = self._delivered(order, now)
        return View("In progress", q - delivered, delivered, self._runs_done(order, now))

    def children(self, order: Order, view: View) -> list[str] | None:
        """The drip-feed's child orders started so far (none before the first run)."""
        if not order.child_ids:
            return None
        return order.child_ids[:view.runs_done or 0]

    def _delivered(self, order: Order, at: float) -> int:
        start = order.created + order.pending_for
        if at <= start:
            return 0
        target = order.quantity - order.fate_remains
        if order.runs:
            per_run = order.quantity // order.runs
            return min(target, self._runs_done(order, at) * per_run)
        return min(target, int(order.quantity * (at - start) / order.duration))

    def _runs_done(self, order: Order, at: float) -> int | None:
        if not order.runs:
            return None
        start = order.created + order.pending_for
        if at < start:
            return 0
        return min(order.runs, int((at - start) // (order.interval * 60)) + 1)

    def _settle(self, order: Order, view: View) -> None:
        account = self.accounts[order.key]
        if view.status == "Canceled":
            refund = order.charge
        elif view.status == "Partial":
            refund = min(order.charge, price(order.service.rate, view.remains))
            if order.service.type in (ot.PACKAGE, ot.CUSTOM_COMMENTS_PACKAGE):
                refund = order.charge if view.remains else Decimal(0)
        else:
            refund = Decimal(0)
        account.balance += refund - order.refunded
        order.refunded = refund
        order.settled = True

    def _view_subscription(self, order: Order, now: float) -> View:
        sub = order.sub
        account = self.accounts[order.key]
        forced = order.forced["status"] if order.forced else None
        stop = now
        if order.canceled_at is not None:
            stop = min(stop, order.canceled_at)
        expiry_at = sub.get("expiry_at")
        if expiry_at is not None:
            stop = min(stop, expiry_at)
        elapsed = max(0.0, stop - order.created)
        new_posts = int(elapsed * self.config.subscription_posts_per_hour / 3600)
        # `posts` limits the new posts; the old ones come on top, and the status counts both.
        if sub["posts"] is not None:
            new_posts = min(new_posts, sub["posts"])
        due = sub["old_posts"] + new_posts
        # Each post is charged when it is delivered; a balance too low pauses the subscription.
        while order.posts_charged < due and forced is None:
            cost = price(order.service.rate, self._post_quantity(order, order.posts_charged))
            if account.balance < cost:
                order.paused = True
                break
            account.balance -= cost
            order.charge += cost
            order.posts_charged += 1
        else:
            order.paused = False
        posts = order.posts_charged
        if forced:
            status = forced
        elif order.canceled_at is not None and now >= order.canceled_at:
            status = "Canceled"
        elif sub["posts"] is not None and posts >= sub["old_posts"] + sub["posts"]:
            status = "Completed"
        elif expiry_at is not None and now >= expiry_at:
            status = "Expired"
        elif order.paused:
            status = "Paused"
        else:
            status = "Active"
        return View(status, 0, posts, None, posts)

    def _post_quantity(self, order: Order, post_number: int) -> int:
        rng = random.Random(f"{self.seed}:{order.order_id}:{post_number}")
        return rng.randint(order.sub["min"], order.sub["max"])

    def force(self, order_id: str, *, status: str, remains: int | None = None) -> None:
        with self.lock:
            order = self.orders[str(order_id)]
            order.forced = {"status": status}
            if remains is not None:
                order.forced["remains"] = remains
            order.settled = False
            self.view(order)

    def settle_all(self, key: str) -> None:
        with self.lock:
            for order in self.orders.values():
                if order.key == key and not order.settled:
                    self.view(order)

    # Refills and cancels ---------------------------------------------------------------------------------

    def create_refill(self, order: Order) -> Request | str:
        """A refill request, or the error message."""
        with self.lock:
            if not order.service.refill:
                return "Refill is disabled for this service"
            view = self.view(order)
            if view.status not in ("Completed", "Partial"):
                return "Order is not completed"
            now = self.clock.now()
            for refill in self.refills.values():
                if refill.order_id == order.order_id and now < refill.done_at:
                    return "Refill request already exists"
            fate = "Rejected" if self._rng.random() < self.config.refill_rejected_share else "Completed"
            refill = Request(self.next_id("refill"), order.key, order.order_id, now,
                             now + self.config.refill_seconds, fate)
            self.refills[refill.request_id] = refill
            return refill

    def create_cancel(self, order: Order) -> Request | str:
        with self.lock:
            if not order.service.cancel:
                return "Cancel is not available for this service"
            if order.canceled_at is not None:
                return "Cancellation request was sent earlier"
            if self.view(order).status in FINAL:
                return "Order is already finished"
            now = self.clock.now()
            cancel = Request(self.next_id("cancel"), order.key, order.order_id, now,
                             now + self.config.cancel_seconds, "Completed", kind="cancel")
            order.canceled_at = cancel.done_at
            self.cancels[cancel.request_id] = cancel
            return cancel

    def request_status(self, request: Request) -> str:
        with self.lock:
            now = self.clock.now()
            if request.kind == "cancel":
                order = self.orders[request.order_id]
                view = self.view(order)
                if now < request.done_at:
                    return "Pending"
                return "Completed" if view.status in ("Canceled", "Partial") else "Rejected"
            span = request.done_at - request.created
            if now < request.created + span / 3:
                return "Pending"
            if now < request.done_at:
                return "In progress"
            return request.fate
