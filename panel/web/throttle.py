"""Limits on guessing and flooding: sign-in failures, second-factor codes, reset mails, signups, payments.

Every counter lives in the shared cache (Redis when REDIS_URL is set, so all web processes count on the
same number) and changes only through the cache's atomic add/incr/decr. A sign-in takes its place in
the counters *before* the password is hashed, and is refused when that place is over the limit: a
check that read the count, hashed, then wrote the failure let 50 concurrent guesses through a limit of
5, because all 50 read the count before any of them wrote it.

Who is counted, so that a guesser is slowed without being able to lock the owner out:

* failures per (username, client address), LOGIN_FAILURE_LIMIT: the guesser's own address locks;
* failures per client address, any username, LOGIN_IP_FAILURE_LIMIT: spraying many usernames;
* failures per username, all addresses, LOGIN_USERNAME_FAILURE_LIMIT: many addresses on one account.
  A browser that signed in to that account before (a signed "known device" cookie) is counted on its
  own instead and is not stopped by the other three, so guesses from elsewhere never lock the owner out
  of the browser they use; an account with two-factor sign-in is not locked by this count either (a
  password alone does not open it).

The client address is REMOTE_ADDR, or, behind TRUSTED_PROXY_COUNT reverse proxies, the address the
outermost of them saw (see client_ip). IPv6 addresses are counted per /64, which one client usually has.
Every lock ends LOGIN_LOCKOUT_SECONDS after the latest failure.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import secrets
from dataclasses import dataclass, field

from django.conf import settings
from django.core import signing
from django.core.cache import cache

from panel.addresses import client_address

HOUR = 3600
# Wrong second-factor codes for one account are counted over a day, not the lock's length: a 6-digit
# code has a million values, and a guesser who knows the password should get a few dozen tries a day.
OTP_USER_WINDOW_SECONDS = 24 * HOUR
KNOWN_DEVICE_COOKIE = "known_device"
KNOWN_DEVICE_SALT = "panel.web.throttle.known-device"
KNOWN_DEVICE_MAX_AGE = 180 * 24 * HOUR


# --- client address ---------------------------------------------------------------------------------


# The one rule for a client's address (TRUSTED_PROXY_COUNT), shared with the API's limits.
client_ip = client_address


def _address_bucket(ip: str) -> str:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _digest(*parts: object) -> str:
    return hashlib.sha256("|".join(str(part) for part in parts).encode()).hexdigest()[:32]


def _normal(username: str) -> str:
    return username.strip().lower()


# --- atomic counters --------------------------------------------------------------------------------


def _incr(key: str, timeout: int) -> int:
    """Add one to `key`, creating it with `timeout` when absent; atomic in Redis and in local memory."""
    cache.add(key, 0, timeout)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between the add and the incr
        cache.add(key, 0, timeout)
        count = cache.incr(key)
    if count == 1:
        cache.touch(key, timeout)  # a counter re-created by incr itself would otherwise never expire
    return count


def _decr(key: str) -> None:
    with contextlib.suppress(ValueError):  # already expired: nothing to give back
        cache.decr(key)


@dataclass(frozen=True)
class _Counter:
    key: str
    limit: int
    timeout: int
    reset_on_success: bool = False  # the guesser's own counter starts over; shared ones only give back


@dataclass
class Attempt:
    """A place taken in every counter of one sign-in step; refused when one of them was full.

    Call failed() or succeeded() once the password or code has been checked.
    """

    allowed: bool
    counters: list[_Counter] = field(default_factory=list)

    def failed(self) -> None:
        for counter in self.counters:
            cache.touch(counter.key, counter.timeout)  # the lock lasts from the latest failure

    def succeeded(self) -> None:
        for counter in self.counters:
            if counter.reset_on_success:
                cache.delete(counter.key)
            else:
                _decr(counter.key)


def _take(counters: list[_Counter]) -> Attempt:
    taken: list[_Counter] = []
    for counter in counters:
        if _incr(counter.key, counter.timeout) > counter.limit:
            _decr(counter.key)
            for earlier in taken:
                _decr(earlier.key)
            return Attempt(allowed=False)
        taken.append(counter)
    return Attempt(allowed=True, counters=taken)


def rate_hit(*, scope: str, subject: object, limit: int, seconds: int = HOUR) -> bool:
    """Count one event of `scope` for `subject`; False once `limit` were counted in the window.

    The window starts at the first event and lasts `seconds`; refused events are not counted.
    """
    key = f"rate:{scope}:{_digest(subject)}"
    if _incr(key, seconds) > limit:
        _decr(key)
        return False
    return True


# --- known devices ----------------------------------------------------------------------------------


def _known_device(request, username: str) -> str | None:
    """The id of this browser if it signed in to `username` before (a cookie we signed), else None."""
    if request is None:
        return None
    value = request.COOKIES.get(KNOWN_DEVICE_COOKIE)
    if not value:
        return None
    try:
        data = signing.loads(value, salt=KNOWN_DEVICE_SALT, max_age=KNOWN_DEVICE_MAX_AGE)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if not isinstance(data, dict) or data.get("u") != _normal(username) or not isinstance(data.get("d"), str):
        return None
    return data["d"]


def remember_device(request, response, username: str) -> None:
    """After a full sign-in: mark this browser as one `username` signs in from."""
    device = _known_device(request, username) or secrets.token_hex(8)
    value = signing.dumps({"u": _normal(username), "d": device}, salt=KNOWN_DEVICE_SALT)
    response.set_cookie(
        KNOWN_DEVICE_COOKIE, value, max_age=KNOWN_DEVICE_MAX_AGE,
        secure=settings.SESSION_COOKIE_SECURE, httponly=True, samesite="Lax",
    )


# --- sign-in steps ----------------------------------------------------------------------------------


def _key(*, username: str, ip: str) -> str:
    """The counter of failures for one username from one address."""
    return f"login-failures:{_digest(_normal(username), _address_bucket(ip))}"


def _ip_key(ip: str) -> str:
    return f"login-ip-failures:{_digest(_address_bucket(ip))}"


def lockout_minutes() -> int:
    """How long a lock lasts, in whole minutes, for the message shown to the customer."""
    return settings.LOGIN_LOCKOUT_SECONDS // 60


def login_attempt(*, request, username: str, second_factor: bool = False) -> Attempt:
    """Take a place for one password check of `username`; refused (allowed=False) when locked.

    `second_factor`: the account has two-factor sign-in, so the per-username count does not lock it.
    """
    lockout = int(settings.LOGIN_LOCKOUT_SECONDS)
    device = _known_device(request, username)
    if device is not None:
        return _take([_Counter(f"login-device-failures:{_digest(_normal(username), device)}",
                               settings.LOGIN_FAILURE_LIMIT, lockout, reset_on_success=True)])
    ip = client_ip(request)
    counters = [
        _Counter(_key(username=username, ip=ip), settings.LOGIN_FAILURE_LIMIT, lockout, reset_on_success=True),
        _Counter(_ip_key(ip), settings.LOGIN_IP_FAILURE_LIMIT, lockout),
    ]
    if not second_factor:
        counters.append(_Counter(f"login-user-failures:{_digest(_normal(username))}",
                                 settings.LOGIN_USERNAME_FAILURE_LIMIT, lockout))
    return _take(counters)


def otp_attempt(*, request, user) -> Attempt:
    """Take a place for one second-factor code of `user`: the same counts, keyed on the account."""
    lockout = int(settings.LOGIN_LOCKOUT_SECONDS)
    device = _known_device(request, user.get_username())
    if device is not None:
        return _take([_Counter(f"otp-device-failures:{_digest(user.pk, device)}",
                               settings.LOGIN_FAILURE_LIMIT, lockout, reset_on_success=True)])
    ip = client_ip(request)
    return _take([
        _Counter(f"otp-failures:{_digest(user.pk, _address_bucket(ip))}", settings.LOGIN_FAILURE_LIMIT, lockout,
                 reset_on_success=True),
        _Counter(_ip_key(ip), settings.LOGIN_IP_FAILURE_LIMIT, lockout),
        _Counter(f"otp-user-failures:{_digest(user.pk)}", settings.LOGIN_USERNAME_FAILURE_LIMIT,
                 OTP_USER_WINDOW_SECONDS),
    ])


# The (username, address) counter on its own, for callers and checks that name both.


def login_locked(*, username: str, ip: str) -> bool:
    return (cache.get(_key(username=username, ip=ip)) or 0) >= settings.LOGIN_FAILURE_LIMIT


def login_failed(*, username: str, ip: str) -> int:
    """Count one failure; the lock lasts LOGIN_LOCKOUT_SECONDS after the latest one. Returns the count."""
    key = _key(username=username, ip=ip)
    count = _incr(key, settings.LOGIN_LOCKOUT_SECONDS)
    cache.touch(key, settings.LOGIN_LOCKOUT_SECONDS)
    return count


def login_succeeded(*, username: str, ip: str) -> None:
    cache.delete(_key(username=username, ip=ip))
