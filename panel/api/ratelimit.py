"""Rate limits of the API, kept in the shared cache.

Two limits, both fixed windows counted with the cache's atomic increment:

* per key: the window lasts BURST / PER_SECOND seconds and admits BURST requests, so the long-run rate
  stays at PER_SECOND while a client may still send a burst at once;
* per client address, for key lookups that fail: API_KEY_FAILURE_LIMIT in API_KEY_FAILURE_WINDOW_SECONDS.
  Without it every made-up key would get a fresh per-key window, and guessing keys would be limited
  only by the server's speed. Keys that found their customer lately are exempt, so a guesser cannot
  shut out the customers who share its address.

The counters live in django.core.cache, which is Redis when REDIS_URL is set, so every web process
counts against the same numbers.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

# How long a key that found its customer is exempt from its address's failure limit.
KNOWN_KEY_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int = 0  # whole seconds until the window ends, when refused


@dataclass(frozen=True)
class KeyLookup:
    """What `key_lookup_begin` decided, for `key_lookup_end` to settle once the lookup is done."""

    allowed: bool
    retry_after: int = 0
    counter: str = ""  # the address's failure counter for this window
    reserved: bool = False  # a failure is counted on it already, handed back if the key is found
    marker: str = ""  # present in the cache while the key is known to be a customer's


def _count(cache_key: str, window: float) -> int:
    """Add one to the window's counter and return the new count."""
    try:
        return cache.incr(cache_key)
    except ValueError:
        # First request of the window; if another process created it meanwhile, count on theirs.
        return 1 if cache.add(cache_key, 1, timeout=math.ceil(window) + 1) else cache.incr(cache_key)


def _retry_after(window_index: int, window: float, now: float) -> int:
    return max(1, math.ceil((window_index + 1) * window - now))


def key_digest(key: str) -> str:
    """What the limits count a key as: the digest keeps raw keys out of the cache and bounds its keys' length."""
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def rate_limit_hit(*, digest: str, read_ahead: list[str] = ()) -> Verdict:
    """Count one request for the API key of `digest`; refuse it once the window's burst is spent.

    `read_ahead`: cache keys the request reads next, read in the same round trip where the cache can
    (panel.cache); the caller drops what it did not use with `read_ahead_done`."""
    per_second = max(1, int(settings.API_RATE_LIMIT_PER_SECOND))
    burst = max(1, int(settings.API_RATE_LIMIT_BURST))
    window = max(1.0, burst / per_second)
    now = time.time()
    window_index = int(now // window)
    counter = f"api-rate:{digest}:{window_index}"
    if read_ahead and hasattr(cache, "count_and_read_ahead"):
        count = cache.count_and_read_ahead(counter, math.ceil(window) + 1, list(read_ahead))
    else:
        count = _count(counter, window)
    if count <= burst:
        return Verdict(allowed=True)
    return Verdict(allowed=False, retry_after=_retry_after(window_index, window, now))


def read_ahead_done() -> None:
    """Forget what `rate_limit_hit` read ahead: the next request on this thread reads afresh."""
    if hasattr(cache, "drop_read_ahead"):
        cache.drop_read_ahead()


def key_lookup_begin(*, digest: str, address: str) -> KeyLookup:
    """May the key of `digest`, sent from `address`, be looked up? Settle the answer with `key_lookup_end`.

    A key that found its customer within KNOWN_KEY_SECONDS always may: a guesser cannot send one without
    knowing it, so the customer keeps working from an address someone else is guessing from (one NAT,
    or a proxy that TRUSTED_PROXY_COUNT does not account for). Any other key reserves one failure on
    the address's counter before it is looked up, not after the lookup fails: fifty guesses sent at once
    would otherwise all read a count under the limit and all be evaluated.
    """
    window = float(settings.API_KEY_FAILURE_WINDOW_SECONDS)
    now = time.time()
    window_index = int(now // window)
    counter = f"api-key-failures:{address}:{window_index}"
    marker = f"api-key-known:{digest}"
    if cache.get(marker):
        return KeyLookup(allowed=True, counter=counter, marker=marker)
    if _count(counter, window) <= settings.API_KEY_FAILURE_LIMIT:
        return KeyLookup(allowed=True, counter=counter, reserved=True, marker=marker)
    return KeyLookup(allowed=False, retry_after=_retry_after(window_index, window, now))


def key_lookup_end(lookup: KeyLookup, *, found: bool) -> None:
    if found and lookup.reserved:
        # Not a failure after all; and from now on the key is known.
        with contextlib.suppress(ValueError):  # the window expired meanwhile, and its count with it
            cache.decr(lookup.counter)
        cache.set(lookup.marker, 1, KNOWN_KEY_SECONDS)
    elif not found and not lookup.reserved:
        # A known key that no longer works (regenerated, or its customer disabled): a failure like any other.
        cache.delete(lookup.marker)
        _count(lookup.counter, float(settings.API_KEY_FAILURE_WINDOW_SECONDS))
