"""Per-provider limits shared by every worker (leases and a pace), and the hard deadline of an `add` call."""

from __future__ import annotations

import socket
import threading
import time
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.db import connections

from providers import client_capacity
from providers.client import ProviderClient, UnknownOutcome
from providers.client_capacity import DatabaseCapacity, RedisCapacity
from tests.factories import ProviderFactory


def _store(kind: str):
    if kind == "database":
        return DatabaseCapacity()
    url = client_capacity.redis_url()
    if not url:
        pytest.skip("needs Redis: set REDIS_URL")
    return RedisCapacity(url)


BACKENDS = [pytest.param("database", marks=pytest.mark.postgres), "redis"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", BACKENDS)
def test_workers_never_hold_more_slots_than_the_cap(kind):
    # given: eight workers (threads, each with its own connection) wanting one of three slots, again and again
    store = _store(kind)
    provider = ProviderFactory()
    cap, holding, most = 3, [0], [0]
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker():
        try:
            for _ in range(12):
                with client_capacity.lease(provider, "send", limit=cap, seconds=30, wait=30, store=store) as token:
                    assert token is not None
                    with lock:
                        holding[0] += 1
                        most[0] = max(most[0], holding[0])
                    time.sleep(0.005)
                    with lock:
                        holding[0] -= 1
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    # when
    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    # then: the cap was reached, never passed, and every slot came back
    assert not errors, errors
    assert most[0] == cap
    assert store.holders(provider, "send") == 0


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["database", "redis"])
def test_a_lease_a_dead_worker_kept_comes_free_when_it_ends(kind):
    # given: a worker took the only slot for 0.3 s and died without giving it back
    store = _store(kind)
    provider = ProviderFactory()
    assert store.acquire(provider, "drain", limit=1, seconds=0.3, token="dead-worker")

    # when / then: taken until the lease ends, free after
    assert not store.acquire(provider, "drain", limit=1, seconds=30, token="next")
    time.sleep(0.4)
    assert store.acquire(provider, "drain", limit=1, seconds=30, token="next")
    assert not store.renew(provider, "drain", seconds=30, token="dead-worker")


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["database", "redis"])
def test_a_pace_spaces_calls_across_callers(kind):
    # given: 5 calls a second at most
    store = _store(kind)
    provider = ProviderFactory()

    # when: five callers ask for their turn one right after the other
    turns = []
    for _ in range(5):
        wait = store.pace(provider, "send", interval=1 / 5)
        turns.append(time.monotonic() + wait)

    # then: their turns follow each other, and the fifth comes four intervals after the first (give or take
    # how long the asking itself took)
    assert turns == sorted(turns)
    assert turns[4] - turns[0] == pytest.approx(0.8, abs=0.05)


@pytest.mark.django_db
def test_lease_without_a_free_slot_gives_none_after_waiting(settings):
    settings.REDIS_URL = ""
    settings.CELERY_BROKER_URL = "filesystem://"
    provider = ProviderFactory()
    with client_capacity.lease(provider, "send", limit=1, seconds=30) as first:
        started = time.monotonic()
        with client_capacity.lease(provider, "send", limit=1, seconds=30, wait=0.2) as second:
            assert first is not None and second is None
        assert time.monotonic() - started >= 0.2
    with client_capacity.lease(provider, "send", limit=1, seconds=30) as again:
        assert again is not None


class _DribblingServer:
    """Answers every request with a status line, then one byte of header every 0.1 s, never finishing:
    each read is quick, so only a deadline on the whole call ends it."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}/api/v2"
        self.requests = 0
        self._stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self._listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                continue
            threading.Thread(target=self._dribble, args=(conn,), daemon=True).start()

    def _dribble(self, conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            self.requests += 1
            try:
                conn.sendall(b"HTTP/1.1 200 OK\r\n")
                while not self._stop.is_set():
                    conn.sendall(b"X")
                    time.sleep(0.1)
            except OSError:
                return

    def stop(self) -> None:
        self._stop.set()
        self._listener.close()


def test_an_add_ends_by_the_timeout_even_when_the_server_dribbles():
    # given: a provider whose timeout is half a second and an upstream that never finishes its answer
    server = _DribblingServer()
    provider = SimpleNamespace(pk=None, name="dribbler", api_url=server.url, api_key="k", request_format="form",
                               timeout_seconds=Decimal("0.5"))
    try:
        # when
        started = time.monotonic()
        with pytest.raises(UnknownOutcome) as raised:
            ProviderClient(provider).add(service_id="1", fields={"link": "https://x.test/a", "quantity": 10})
        elapsed = time.monotonic() - started
    finally:
        server.stop()

    # then: unknown (it was sent), and over within the timeout, not whenever the server stops
    assert server.requests == 1
    assert 0.4 <= elapsed < 1.5
    assert "within the timeout" in str(raised.value)
