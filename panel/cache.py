"""Django's Redis cache, with fewer round trips on the API's hot path.

* One client per connection pool instead of one per call. Django's RedisCacheClient builds a new
  `redis.Redis` for every cache operation, and each one copies the table of reply callbacks (a couple of
  hundred entries): on /api/v2, which makes a few cache calls per request (rate limits, the API key, the
  services catalogue), that was a visible share of the request. A `redis.Redis` is safe to share between
  threads (each command takes a connection from the pool), and the pool reconnects after a fork.
* `incr` in one round trip. Django's asks EXISTS, then INCR: two round trips, and a key that expires
  between them comes back from INCR without an expiry. A short script does both at once, atomically,
  with the same contract (ValueError for a missing key).
* Counting and reading ahead in one round trip (`count_and_read_ahead`): an API request counts itself
  against its rate limit, then reads its key's entry and the catalogue's version, three round trips
  that cost more than the rest of a `services` answer. The script counts and reads at once; the next
  `get` of each key read, in the same thread, is answered from what was read (once: a second `get`
  asks Redis), until `drop_read_ahead`.
"""

from __future__ import annotations

import threading

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient

_INCR_IF_EXISTS = """
if redis.call('EXISTS', KEYS[1]) == 1 then
    return redis.call('INCRBY', KEYS[1], ARGV[1])
end
return false
"""

# KEYS[1] the counter, KEYS[2..] the keys to read; ARGV[1] the counter's life from its first count.
_COUNT_AND_READ = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then
    redis.call('EXPIRE', KEYS[1], ARGV[1])
end
if #KEYS == 1 then
    return {count}
end
local values = redis.call('MGET', unpack(KEYS, 2))
table.insert(values, 1, count)
return values
"""


class _SharedClientRedisCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}
        self._incr_scripts: dict[int, object] = {}
        self._count_scripts: dict[int, object] = {}

    def incr(self, key, delta):
        client = self.get_client(key, write=True)
        script = self._incr_scripts.get(id(client))
        if script is None:
            script = self._incr_scripts[id(client)] = client.register_script(_INCR_IF_EXISTS)
        value = script(keys=[key], args=[delta])
        if value is None:
            raise ValueError(f"Key '{key}' not found.")
        return value

    def count_and_read(self, counter: str, timeout: int, keys: list[str]) -> tuple[int, dict]:
        client = self.get_client(counter, write=True)
        script = self._count_scripts.get(id(client))
        if script is None:
            script = self._count_scripts[id(client)] = client.register_script(_COUNT_AND_READ)
        reply = script(keys=[counter, *keys], args=[timeout])
        return int(reply[0]), {key: None if value is None else self._serializer.loads(value)
                               for key, value in zip(keys, reply[1:], strict=True)}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            client = self._clients[index] = self._client(connection_pool=self._get_connection_pool(index))
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = _SharedClientRedisCacheClient

    def count_and_read_ahead(self, counter_key: str, timeout: int, keys: list[str]) -> int:
        """Add one to `counter_key` (created expiring in `timeout` seconds) and read `keys`, in one round
        trip; returns the count. Until `drop_read_ahead`, this thread's next `get` of each key is
        answered from what was read."""
        made = {self.make_and_validate_key(key): key for key in keys}
        count, values = self._cache.count_and_read(self.make_and_validate_key(counter_key), timeout, list(made))
        _ahead.values = values
        return count

    def drop_read_ahead(self) -> None:
        _ahead.values = None

    def get(self, key, default=None, version=None):
        ahead = getattr(_ahead, "values", None)
        if ahead:
            made = self.make_and_validate_key(key, version=version)
            if made in ahead:
                value = ahead.pop(made)
                return default if value is None else value
        return super().get(key, default, version)


_ahead = threading.local()  # keys read ahead in this thread: made key -> value (None: absent)
