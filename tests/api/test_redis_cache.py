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


def test_count_and_read_ahead_counts_and_reads_in_one_go(cache):
    # given
    cache.set("entry", ("a", 1), 60)

    # when
    counts = [cache.count_and_read_ahead("window", 30, ["entry", "absent"]) for _ in range(3)]

    # then: counted as `incr` counts, the counter expiring with its window
    assert counts == [1, 2, 3] and cache.get("window") == 3
    assert 0 < cache._cache.get_client(write=True).ttl(cache.make_key("window")) <= 30
    cache.drop_read_ahead()


def test_what_was_read_ahead_answers_the_next_get_once(cache):
    # given: read ahead, then changed behind the reader's back
    cache.set("entry", "before", 60)
    cache.count_and_read_ahead("window", 30, ["entry", "absent"])
    cache._cache.get_client(write=True).delete(cache.make_key("entry"))

    # when
    first, second = cache.get("entry"), cache.get("entry")

    # then: the read answers once; then Redis is asked again
    assert (first, second) == ("before", None)
    assert cache.get("absent", "default") == "default"
    cache.drop_read_ahead()


def test_a_dropped_read_ahead_answers_nothing(cache):
    # given
    cache.set("entry", "before", 60)
    cache.count_and_read_ahead("window", 30, ["entry"])
    cache.set("entry", "after", 60)

    # when
    cache.drop_read_ahead()

    # then
    assert cache.get("entry") == "after"


def test_the_api_reads_the_key_entry_in_the_counting_round_trip(cache, settings, monkeypatch):
    # given: a key entry as accounts.keycache keeps it
    from panel.api import ratelimit

    monkeypatch.setattr(ratelimit, "cache", cache)
    settings.API_RATE_LIMIT_PER_SECOND, settings.API_RATE_LIMIT_BURST = 1, 2
    cache.set("api-key-customer:abc", (1, 2, "0"), 60)
    calls = []
    client = cache._cache.get_client(write=True)
    monkeypatch.setattr(client, "get", lambda *args, **kwargs: calls.append(args))  # a GET would show here

    # when
    with freeze_time("2026-01-01 00:00:00.5"):
        verdicts = [ratelimit.rate_limit_hit(digest="d" * 32, read_ahead=["api-key-customer:abc"]).allowed
                    for _ in range(3)]
        entry = cache.get("api-key-customer:abc")
    ratelimit.read_ahead_done()

    # then
    assert verdicts == [True, True, False]
    assert entry == (1, 2, "0") and calls == []
