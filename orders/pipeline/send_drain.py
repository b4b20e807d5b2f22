"""Sending a provider's due orders at its capacity: `send_concurrency` calls in flight, from threads.

A Celery task slot that sent one order at a time kept a provider answering in 50 ms at 20 orders a
second per slot. Here a task drains the provider: its threads each take the next due order and send
it through `send.order_send`, whose slots and pace are shared by every worker, so two workers draining
one provider still never exceed its cap. At most DRAINS_PER_PROVIDER drains per provider at a time (a
lease); an order placed meanwhile is taken by a running drain, which looks once more after giving its
lease back.

Every order is still claimed alone (paid -> sending, a conditional UPDATE) right before its own `add`,
and an `add` whose outcome is unknown is never repeated: the early-ack semantics of one order per task.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, deque
from datetime import datetime

from django.db import connection, connections

from orders.pipeline import send
from providers import client_capacity, health
from providers.models import Provider

# A drain stops taking orders after this long and leaves the rest to a new task, so that no task runs
# into its time limit (orders.tasks.SEND_LIMITS): calls in flight then end within the provider's timeout.
DRAIN_SECONDS = 60
# Due orders read per query.
_REFILL = 500
# Drains of one provider at a time, across all workers: each is one worker process, so a busy provider's
# sends use more than one core; together they still keep to the provider's cap.
DRAINS_PER_PROVIDER = 2
# How stale the drain's copy of its provider may be: a circuit opened or a 429 pause recorded by another
# worker stops this drain within this time (a 429 or an outage seen here stops it at once).
PROVIDER_READ_SECONDS = 0.5
# Outcomes after which the provider's other orders wait as well: it asked us to wait (429, down), or its
# balance with us is short.
_STOP_ON = (send.RETRY, send.HELD)


def provider_send_due(*, provider_id: int, now: datetime | None = None, threads: int | None = None,
                      seconds: float = DRAIN_SECONDS) -> Counter:
    """Send the provider's due orders, `threads` at once (default: its `send_concurrency`), for at most
    `seconds`; returns a count per outcome.

    Inside a transaction (a test's), other connections would not see its rows: one at a time, here.
    """
    provider = Provider.objects.get(pk=provider_id)
    threads = threads or provider.send_concurrency
    if threads <= 1 or connection.in_atomic_block:
        return Counter(send.order_send(order_id=pk, now=now)
                       for pk in send.orders_due_for_sending(now=now, provider_id=provider_id))
    return _Drain(provider_id=provider_id, now=now, seconds=seconds).run(threads)


class _Drain:
    def __init__(self, *, provider_id: int, now: datetime | None, seconds: float) -> None:
        self.provider_id = provider_id
        self.now = now
        self.give_up = time.monotonic() + seconds
        self.outcomes: Counter = Counter()
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._queue: deque[int] = deque()
        self._taken: set[int] = set()
        self.halted = False  # an outcome said the provider's other orders must wait
        self._provider_row: Provider | None = None
        self._read_at: float | None = None

    def _provider(self) -> Provider:
        """The provider as read at most PROVIDER_READ_SECONDS ago: its circuit, its pause, its settings."""
        with self._lock:
            if self._read_at is None or time.monotonic() - self._read_at > PROVIDER_READ_SECONDS:
                self._provider_row = Provider.objects.get(pk=self.provider_id)
                self._read_at = time.monotonic()
            return self._provider_row

    def _next(self) -> int | None:
        with self._lock:
            if not self._queue and not self.stop.is_set():
                if time.monotonic() >= self.give_up:
                    return None
                due = send.orders_due_for_sending(now=self.now, provider_id=self.provider_id,
                                                  limit=_REFILL + len(self._taken))
                # An order tried in this drain and still due (its slot wait ran out) waits for the next one.
                # Shuffled: two drains of one provider would otherwise race for the same orders one by one.
                fresh = [pk for pk in due if pk not in self._taken]
                random.shuffle(fresh)
                self._queue.extend(fresh)
            if not self._queue or self.stop.is_set():
                return None
            order_id = self._queue.popleft()
            self._taken.add(order_id)
            return order_id

    def _work(self) -> None:
        try:
            while not self.stop.is_set():
                order_id = self._next()
                if order_id is None:
                    return
                provider = self._provider()
                outcome = send.order_send(order_id=order_id, now=self.now, provider=provider)
                with self._lock:
                    self.outcomes[outcome] += 1
                if outcome in _STOP_ON or not health.provider_is_ready(provider, now=self.now):
                    self.halted = True
                    self.stop.set()
        finally:
            connections.close_all()

    def run(self, threads: int) -> Counter:
        workers = [threading.Thread(target=self._work, name=f"send-{self.provider_id}-{n}", daemon=True)
                   for n in range(threads)]
        for worker in workers:
            worker.start()
        try:
            for worker in workers:
                worker.join()
        finally:
            # A time limit interrupting the wait: the threads take no new order, and end their calls.
            self.stop.set()
        return self.outcomes


def order_send_and_drain(*, order_id: int) -> str:
    """What a send task does: send its order, then whatever else its provider has due, at the provider's
    capacity. Returns the order's own outcome (NOT_CLAIMED when another worker's drain takes it)."""
    provider = Provider.objects.filter(orders__pk=order_id).first()
    if provider is None:
        return send.NOT_CLAIMED
    outcome = None
    give_up = time.monotonic() + DRAIN_SECONDS
    lease_seconds = DRAIN_SECONDS + 2 * send.stale_after_seconds(provider)
    while True:
        with client_capacity.lease(provider, "drain", limit=DRAINS_PER_PROVIDER, seconds=lease_seconds) as token:
            if token is None:
                return outcome or send.NOT_CLAIMED  # drains are running there: they take this order too
            if outcome is None:
                outcome = send.order_send(order_id=order_id)
            if connection.in_atomic_block:
                provider_send_due(provider_id=provider.pk)
                return outcome
            drain = _Drain(provider_id=provider.pk, now=None, seconds=give_up - time.monotonic())
            drain.run(provider.send_concurrency)
        if drain.halted or not send.orders_due_for_sending(provider_id=provider.pk, limit=1):
            return outcome
        if time.monotonic() >= give_up:
            _continue_later(provider.pk)
            return outcome
        # Orders placed while the lease was held left themselves to this drain: it looks once more.


def _continue_later(provider_id: int) -> None:
    """The rest in a new task (for the oldest due order), so that no task outlives its time limit."""
    from orders.tasks import order_send_task

    due = send.orders_due_for_sending(provider_id=provider_id, limit=1)
    if due:
        order_send_task.delay(due[0])
