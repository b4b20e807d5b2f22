"""Per-provider limits shared by every worker: leases (at most N holders at once, each for a bounded time)
and a pace (at most R calls a second).

Redis holds them when the panel has one (REDIS_URL, or a redis:// Celery broker): a sorted set of
lease tokens scored by their end, and a "next free instant" key, each changed by one Lua script that
reads Redis's own clock. Without Redis (the embedded SQLite default, or PostgreSQL alone) a table holds
them: one row per slot, taken by a conditional UPDATE whose row count says who won.

A lease always ends: a worker that dies holding one (kill -9) frees its slot when the lease runs out,
so a dead worker can shrink a provider's capacity for at most one lease's length.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connection, transaction

from providers.models import ProviderLease

# How long a waiting caller sleeps between two tries for a slot (with jitter, so waiters do not march).
_RETRY_SECONDS = (0.005, 0.02)


class RedisCapacity:
    """Leases and paces in Redis; every change is one Lua script, atomic on the server."""

    _ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2]) * 1000) + 1000)
  return 1
end
return 0
"""
    _RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
if redis.call('ZSCORE', KEYS[1], ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[2])
  redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[1]) * 1000) + 1000)
  return 1
end
return 0
"""
    _PACE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local free = tonumber(redis.call('GET', KEYS[1]) or '0')
if free < now then free = now end
local after = free + tonumber(ARGV[1])
redis.call('SET', KEYS[1], tostring(after), 'PX', math.ceil((after - now) * 1000) + 1000)
return tostring(free - now)
"""

    def __init__(self, url: str) -> None:
        import redis

        self._client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._acquire = self._client.register_script(self._ACQUIRE)
        self._renew = self._client.register_script(self._RENEW)
        self._pace = self._client.register_script(self._PACE)

    @staticmethod
    def _key(provider, name: str) -> str:
        # The creation time tells apart two providers that had the same id in two databases (tests).
        born = int(provider.created_at.timestamp() * 1_000_000) if provider.created_at else 0
        return f"smm:capacity:{provider.pk}:{born}:{name}"

    def acquire(self, provider, name: str, *, limit: int, seconds: float, token: str) -> bool:
        return bool(self._acquire(keys=[self._key(provider, name)], args=[limit, seconds, token]))

    def renew(self, provider, name: str, *, seconds: float, token: str) -> bool:
        return bool(self._renew(keys=[self._key(provider, name)], args=[seconds, token]))

    def release(self, provider, name: str, *, token: str) -> None:
        self._client.zrem(self._key(provider, name), token)

    def holders(self, provider, name: str) -> int:
        key = self._key(provider, name)
        seconds, micros = self._client.time()
        return int(self._client.zcount(key, seconds + micros / 1_000_000, "+inf"))

    def pace(self, provider, name: str, *, interval: float) -> float:
        return float(self._pace(keys=[self._key(provider, f"{name}:pace")], args=[interval]))


class DatabaseCapacity:
    """Leases and paces in the ProviderLease table: one row per slot, created the first time it is needed."""

    def acquire(self, provider, name: str, *, limit: int, seconds: float, token: str) -> bool:
        if self._take(provider.pk, name, limit=limit, seconds=seconds, token=token):
            return True
        present = ProviderLease.objects.filter(provider_id=provider.pk, name=name, slot__lt=limit).count()
        if present >= limit:
            return False
        ProviderLease.objects.bulk_create([ProviderLease(provider_id=provider.pk, name=name, slot=slot)
                                           for slot in range(limit)], ignore_conflicts=True)
        return self._take(provider.pk, name, limit=limit, seconds=seconds, token=token)

    @staticmethod
    def _take(provider_id: int, name: str, *, limit: int, seconds: float, token: str) -> bool:
        now = time.time()
        table = connection.ops.quote_name(ProviderLease._meta.db_table)
        # PostgreSQL: SKIP LOCKED lets two takers pick different free slots; the outer `free_at < now`
        # is re-checked on the row as it is once locked, so of two takers of one slot only one wins.
        # SQLite has one writer at a time, so the statement alone is enough.
        lock = " FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET holder = %s, free_at = %s WHERE id = (SELECT id FROM {table}"
                f" WHERE provider_id = %s AND name = %s AND slot < %s AND free_at < %s ORDER BY slot LIMIT 1{lock})"
                f" AND free_at < %s",
                [token, now + seconds, provider_id, name, limit, now, now])
            return cursor.rowcount == 1

    def renew(self, provider, name: str, *, seconds: float, token: str) -> bool:
        return bool(ProviderLease.objects.filter(provider_id=provider.pk, name=name, holder=token)
                    .update(free_at=time.time() + seconds))

    def release(self, provider, name: str, *, token: str) -> None:
        ProviderLease.objects.filter(provider_id=provider.pk, name=name, holder=token).update(holder="", free_at=0)

    def holders(self, provider, name: str) -> int:
        return ProviderLease.objects.filter(provider_id=provider.pk, name=name, free_at__gte=time.time()).count()

    def pace(self, provider, name: str, *, interval: float) -> float:
        pace_name = f"{name}:pace"
        with transaction.atomic():
            ProviderLease.objects.bulk_create([ProviderLease(provider_id=provider.pk, name=pace_name, slot=0)],
                                              ignore_conflicts=True)
            row = ProviderLease.objects.select_for_update().get(provider_id=provider.pk, name=pace_name, slot=0)
            now = time.time()
            free = max(row.free_at, now)
            ProviderLease.objects.filter(pk=row.pk).update(free_at=free + interval)
        return free - now


_backend_lock = threading.Lock()
_backends: dict[str, RedisCapacity | DatabaseCapacity] = {}


def redis_url() -> str:
    """The Redis that holds the limits: the cache's, else the Celery broker's when it is Redis; "" for none."""
    broker = settings.CELERY_BROKER_URL
    return settings.REDIS_URL or (broker if broker.startswith(("redis://", "rediss://")) else "")


def backend() -> RedisCapacity | DatabaseCapacity:
    url = redis_url()
    with _backend_lock:
        found = _backends.get(url)
        if found is None:
            found = _backends[url] = RedisCapacity(url) if url else DatabaseCapacity()
        return found


def new_token() -> str:
    return uuid.uuid4().hex


@contextmanager
def lease(provider, name: str, *, limit: int, seconds: float, wait: float = 0.0,
          store: RedisCapacity | DatabaseCapacity | None = None) -> Iterator[str | None]:
    """Hold one of `limit` slots called `name` at `provider` for at most `seconds`; yields its token, or
    None when no slot came free within `wait` seconds. The slot is given back on leaving the block."""
    store = store or backend()
    token = new_token()
    give_up = time.monotonic() + wait
    while not store.acquire(provider, name, limit=limit, seconds=seconds, token=token):
        if time.monotonic() >= give_up:
            yield None
            return
        time.sleep(random.uniform(*_RETRY_SECONDS))
    try:
        yield token
    finally:
        store.release(provider, name, token=token)


def pace(provider, name: str, *, per_second: float, store: RedisCapacity | DatabaseCapacity | None = None) -> None:
    """Wait for this call's turn so that calls called `name` at `provider` go at most `per_second` a second,
    counted across all workers. No limit when `per_second` is 0."""
    if per_second <= 0:
        return
    wait = (store or backend()).pace(provider, name, interval=1.0 / per_second)
    if wait > 0:
        time.sleep(wait)
