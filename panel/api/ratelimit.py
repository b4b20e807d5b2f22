"""Per-key rate limit of the API: a fixed window that holds a burst, kept in the shared cache.

The window lasts BURST / PER_SECOND seconds and admits BURST requests, so the long-run rate stays at
PER_SECOND while a client may still send a burst at once. The counter lives in django.core.cache,
which is Redis when REDIS_URL is set, so every web process counts against the same number.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int = 0  # whole seconds until the window ends, when refused


def rate_limit_hit(*, key: str) -> Verdict:
    """Count one request for API key `key`; refuse it once the window's burst is spent."""
    per_second = max(1, int(settings.API_RATE_LIMIT_PER_SECOND))
    burst = max(1, int(settings.API_RATE_LIMIT_BURST))
    window = max(1.0, burst / per_second)
    now = time.time()
    window_index = int(now // window)
    # The digest keeps raw keys out of the cache and bounds the cache key's length.
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    cache_key = f"api-rate:{digest}:{window_index}"
    try:
        count = cache.incr(cache_key)
    except ValueError:
        # First request of the window; if another process created it meanwhile, count on theirs.
        count = 1 if cache.add(cache_key, 1, timeout=math.ceil(window) + 1) else cache.incr(cache_key)
    if count <= burst:
        return Verdict(allowed=True)
    window_end = (window_index + 1) * window
    return Verdict(allowed=False, retry_after=max(1, math.ceil(window_end - now)))
