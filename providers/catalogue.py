"""The services catalogue as /api/v2 sends it, cached: one finished body per price level (discount).

A 2,000-service answer takes tens of milliseconds to read and encode, and resellers ask for it often;
it changes only when services or their prices do. Each body is kept, as bytes, in the shared cache
under the catalogue's current *version*, and in the process that built or fetched it (a body is some
hundreds of kilobytes: fetching it from Redis on every request would cost more than keeping it).

`catalogue_changed()` moves the catalogue to a new version: called by the sync, by every repricing
(markups, exchange rates, fixed prices, categories, a provider's settings) and when services are
switched on or off; the receivers below catch saves of a service, category or provider from anywhere
else. It takes effect at once and again when the transaction commits, so that no request rebuilds a
body from the rows as they were before the change. A discount change needs nothing here: it changes
which body the customer gets (accounts.keycache holds the discount and forgets it on change).

BODY_SECONDS bounds how long a body lives whatever happens, and so how stale a body can be where the
cache is not shared (no REDIS_URL: each process has its own, and a sync in the worker cannot reach
the web process's copy).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from decimal import Decimal

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from providers.models import Category, Provider, Service

BODY_SECONDS = 60
_VERSION_KEY = "catalogue:version"
# Provider saves that cannot change the catalogue: health and balance bookkeeping.
_PROVIDER_HEALTH_FIELDS = frozenset({
    "upstream_balance", "upstream_balance_checked_at", "consecutive_failures", "circuit_open_until",
    "retry_after_until", "last_error", "last_synced_at"})

_local_lock = threading.Lock()
_local: dict[str, tuple[float, bytes]] = {}  # body key -> (monotonic expiry, body), this process's copies


def version_cache_keys() -> list[str]:
    """The cache key `catalogue_body` reads first (for a caller reading it ahead)."""
    return [_VERSION_KEY]


def _version() -> str:
    version = cache.get(_VERSION_KEY)
    if version is None:
        # Random, never a counter: after the cache is emptied a restarted count would name old bodies.
        cache.add(_VERSION_KEY, uuid.uuid4().hex, None)
        version = cache.get(_VERSION_KEY) or "unversioned"
    return version


def catalogue_changed() -> None:
    """Services or prices changed: every cached body is out of date, now and once the change commits."""

    def bump() -> None:
        cache.set(_VERSION_KEY, uuid.uuid4().hex, None)

    bump()
    transaction.on_commit(bump)


def catalogue_body(*, discount_percent: Decimal, build: Callable[[], bytes]) -> bytes:
    """The body for customers at `discount_percent`: from this process, the shared cache, or `build()`."""
    key = f"catalogue:{_version()}:{Decimal(discount_percent).normalize():f}"
    now = time.monotonic()
    local = _local.get(key)
    if local is not None and local[0] > now:
        return local[1]
    body = cache.get(key)
    if body is None:
        body = build()
        cache.set(key, body, BODY_SECONDS)
    with _local_lock:
        # Only the current version's bodies are worth keeping; older ones go as soon as a new one arrives.
        version_prefix = key.rsplit(":", 1)[0] + ":"
        for stale in [k for k in _local if not k.startswith(version_prefix) or _local[k][0] <= now]:
            del _local[stale]
        _local[key] = (now + BODY_SECONDS, body)
    return body


def _saved(sender, update_fields=None, **kwargs) -> None:
    if sender is Provider and update_fields is not None and set(update_fields) <= _PROVIDER_HEALTH_FIELDS:
        return
    catalogue_changed()


for _model in (Service, Category, Provider):
    post_save.connect(_saved, sender=_model, dispatch_uid=f"catalogue_saved_{_model.__name__}")
    post_delete.connect(_saved, sender=_model, dispatch_uid=f"catalogue_deleted_{_model.__name__}")
