"""panel.cache.RedisCache: the API's counters in one round trip each, with Django's contract kept."""

from __future__ import annotations

import os
import uuid

import pytest
from freezegun import freeze_time

from panel.cache import RedisCache

REDIS_URL = os.environ.get("REDIS_URL", "")
pytestmark = pytest.mark.skipif(not REDIS_URL, reason="needs Redis: set REDIS_URL")


@pytest.fixture
def cache():
    backend = RedisCache(REDIS_URL, {"KEY_PREFIX": f"test-{uuid.uuid4().hex}"})
    yield backend
    backend.clear()


def test_incr_counts_an_existing_key_and_keeps_its_expiry(cache):
    # given
    cache.add("hits", 1, timeout=60)

    # when
    values = [cache.incr("hits"), cache.incr("hits", 5)]

    # then
    assert values == [2, 7] and cache.get("hits") == 7
    client = cache._cache.get_client(write=True)
    assert 0 < client.ttl(cache.make_key("hits")) <= 60


def test_incr_of_a_missing_key_raises_and_creates_nothing(cache):
    with pytest.raises(ValueError):
        cache.incr("missing")
    assert cache.get("missing") is None


def test_one_client_serves_every_call(cache):
    assert cache._cache.get_client(write=True) is cache._cache.get_client(write=True)


def test_the_api_rate_limit_counts_on_it(cache, settings, monkeypatch):
    # given: the rate limiter's window counter, as panel.api.ratelimit keeps it
    from panel.api import ratelimit

    monkeypatch.setattr(ratelimit, "cache", cache)
    settings.API_RATE_LIMIT_PER_SECOND, settings.API_RATE_LIMIT_BURST = 1, 2

    # when: all in one window
    with freeze_time("2026-01-01 00:00:00.5"):
        verdicts = [ratelimit.rate_limit_hit(digest="d" * 32).allowed for _ in range(3)]

    # then
    assert verdicts == [True, True, False]
