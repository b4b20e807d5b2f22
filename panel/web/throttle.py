"""Login throttling: too many failed passwords for one username from one address locks it for a while.

Counted per (username, IP) in the cache, so a guesser is stopped without letting anyone lock a
customer out from elsewhere. The limit and the lock's length are settings (LOGIN_FAILURE_LIMIT,
LOGIN_LOCKOUT_SECONDS), read at each call.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache


def _key(*, username: str, ip: str) -> str:
    digest = hashlib.sha256(f"{username.strip().lower()}|{ip}".encode()).hexdigest()[:32]
    return f"login-failures:{digest}"


def lockout_minutes() -> int:
    """How long a lock lasts, in whole minutes, for the message shown to the customer."""
    return settings.LOGIN_LOCKOUT_SECONDS // 60


def login_locked(*, username: str, ip: str) -> bool:
    return cache.get(_key(username=username, ip=ip), 0) >= settings.LOGIN_FAILURE_LIMIT


def login_failed(*, username: str, ip: str) -> int:
    """Count one failure; the lock lasts LOGIN_LOCKOUT_SECONDS after the latest one. Returns the count."""
    key = _key(username=username, ip=ip)
    count = cache.get(key, 0) + 1
    cache.set(key, count, settings.LOGIN_LOCKOUT_SECONDS)
    return count


def login_succeeded(*, username: str, ip: str) -> None:
    cache.delete(_key(username=username, ip=ip))


def client_ip(request) -> str:
    # REMOTE_ADDR, not X-Forwarded-For: a guesser can write any X-Forwarded-For and get a fresh counter.
    return request.META.get("REMOTE_ADDR", "") or "unknown"
