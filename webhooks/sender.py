"""The one place that POSTs to resellers' webhook URLs.

Connections go through the provider client's address guard (providers.client_connections): unless
PROVIDER_URLS_ALLOW_PRIVATE is on, the host is resolved once, every address must be public, and the socket
connects to that checked address only. Redirects are not followed, and no proxy from the environment is
used (through a proxy, the checked address would be the proxy's).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import requests
from django.conf import settings

from providers.client_connections import AddressRefused, CheckedAdapter

_session: requests.Session | None = None
_session_lock = threading.Lock()


@dataclass(frozen=True)
class Outcome:
    status: int | None  # the HTTP status, None when no answer came
    error: str = ""

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def _get_session() -> requests.Session:
    global _session
    with _session_lock:
        if _session is None:
            session = requests.Session()
            session.trust_env = False
            adapter = CheckedAdapter(pool_connections=4, pool_maxsize=8, max_retries=0)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            session.headers["User-Agent"] = f"{settings.PANEL_NAME} webhooks"
            _session = session
        return _session


def close_session() -> None:
    """Close the pooled session (tests, worker shutdown)."""
    global _session
    with _session_lock:
        if _session is not None:
            _session.close()
            _session = None


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending.extend([getattr(current, "reason", None), current.__cause__, current.__context__])
        pending.extend(a for a in getattr(current, "args", ()) if isinstance(a, BaseException))


def post(*, url: str, body: str, headers: dict[str, str]) -> Outcome:
    """POST `body` (JSON) to `url`. Any 2xx is a delivery; anything else, or no answer, is a failure."""
    try:
        response = _get_session().post(
            url, data=body.encode(), headers={"Content-Type": "application/json", **headers},
            timeout=settings.WEBHOOK_TIMEOUT_SECONDS, allow_redirects=False, stream=True,
        )
    except requests.RequestException as exc:
        refused = next((c for c in _causes(exc) if isinstance(c, AddressRefused)), None)
        if refused is not None:
            return Outcome(None, f"address refused: {refused.refusal}")
        kind = "timeout" if isinstance(exc, requests.Timeout) else "no connection"
        return Outcome(None, f"{kind}: {exc}"[:500])
    # The answer's body is not read: only its status counts, and a receiver could send a lot.
    response.close()
    if 200 <= response.status_code < 300:
        return Outcome(response.status_code)
    return Outcome(response.status_code, f"HTTP {response.status_code}")
