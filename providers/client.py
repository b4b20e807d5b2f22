"""The one place that speaks HTTP to upstream panels (API v2).

CONTRACT (other modules are written against it; keep names and shapes):

* `ProviderClient(provider)` — one pooled `requests.Session` per provider; a timeout on every call;
  the API key never appears in logs, exceptions or reprs.
* Unless PROVIDER_URLS_ALLOW_PRIVATE is on, every connection goes to a public address only: the host is
  resolved once, each address is checked (providers.client_addresses), the socket connects to those
  very addresses and its peer is checked again before a byte is written. A refused address, or a
  provider without a key, is `Unavailable`: nothing was sent.
* Failures are exactly three exception kinds:
  - `Rejected(message)` — the upstream answered with a definite error (`{"error": ...}`).
  - `Unavailable(reason, retry_after=None)` — nothing definite: refused connection, timeout before
    the request was sent, HTTP 5xx, HTML/non-JSON body, 429 (with Retry-After seconds).
  - `UnknownOutcome(reason)` — `add` only: the request was sent and no answer came; the order may
    exist upstream. Never retried by the client.
* Per-id errors inside a multi answer are returned as `ItemError(message)` values, not raised.
* Upstream ids (orders, refills, cancels, services) are always `str`.
* Status words are normalised by `normalize_order_status` / `normalize_request_status`; an unknown
  word gives `status=None` with `raw_status` kept, never a silent "Pending".
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote, quote_plus

import requests
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from providers import client_answers as wire
from providers.client_answers import normalize_order_status, normalize_request_status
from providers.client_connections import AddressRefused, CheckedAdapter, Deadline
from providers.client_metrics import observe_upstream_call
from providers.client_types import (
    Balance,
    CancelAccepted,
    ItemError,
    OrderStatus,
    Rejected,
    RequestStatus,
    Unavailable,
    UnknownOutcome,
    UpstreamError,
    UpstreamService,
)

__all__ = [
    "MAX_IDS_PER_REQUEST", "AddressRefused", "Balance", "CancelAccepted", "ItemError", "OrderStatus",
    "ProviderClient", "Rejected", "RequestStatus", "Unavailable", "UnknownOutcome", "UpstreamError",
    "UpstreamService", "close_sessions",
    "normalize_order_status", "normalize_request_status",
]

logger = logging.getLogger(__name__)

MAX_IDS_PER_REQUEST = 100  # the protocol's limit for orders=/refills=/cancels=
CONNECT_TIMEOUT_CAP = 5.0  # seconds; a panel that cannot take a connection this fast is down


def _chunks(ids: Sequence[str]) -> Iterator[list[str]]:
    unique = list(dict.fromkeys(str(i).strip() for i in ids if str(i).strip()))
    for start in range(0, len(unique), MAX_IDS_PER_REQUEST):
        yield unique[start:start + MAX_IDS_PER_REQUEST]



# Sessions and logging ----------------------------------------------------------------------------------------

_SESSIONS: dict[object, requests.Session] = {}
_SESSIONS_LOCK = threading.Lock()


def _session_for(provider) -> requests.Session:
    """One pooled session per provider, shared by every client built for it (a client is made per batch)."""
    cache_key = (provider.pk if getattr(provider, "pk", None) is not None else id(provider), provider.api_url)
    with _SESSIONS_LOCK:
        session = _SESSIONS.get(cache_key)
        if session is None:
            session = requests.Session()
            # No proxy from the environment: the address check is on the socket this client opens, and
            # through a proxy that would be the proxy's address, not the upstream's.
            session.trust_env = False
            adapter = CheckedAdapter(pool_connections=2, pool_maxsize=16, max_retries=0)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            session.headers["User-Agent"] = "smm-panel/0.1 (+api-v2 client)"
            _SESSIONS[cache_key] = session
        return session


def close_sessions() -> None:
    """Close every pooled session (tests, worker shutdown)."""
    with _SESSIONS_LOCK:
        for session in _SESSIONS.values():
            session.close()
        _SESSIONS.clear()


class _RedactQueryKey(logging.Filter):
    """urllib3 logs request lines at DEBUG; with GET requests they would carry `key=` in the query string."""

    _pattern = re.compile(r"([?&]key=)[^&\s\"']*")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(self._pattern.sub(r"\1***", a) if isinstance(a, str) else a
                                for a in (record.args if isinstance(record.args, tuple) else (record.args,)))
        if isinstance(record.msg, str):
            record.msg = self._pattern.sub(r"\1***", record.msg)
        return True


_urllib3_logger = logging.getLogger("urllib3.connectionpool")
if not any(isinstance(f, _RedactQueryKey) for f in _urllib3_logger.filters):
    _urllib3_logger.addFilter(_RedactQueryKey())


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and every exception it wraps (requests and urllib3 nest them as args, reason, cause)."""
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


def _never_sent(exc: requests.ConnectionError) -> bool:
    """True when the connection failed before any byte of the request left (refused, DNS, connect timeout)."""
    return any(isinstance(c, (NewConnectionError, ConnectTimeoutError, ConnectionRefusedError)) for c in _causes(exc))


def _address_refused(exc: requests.ConnectionError) -> AddressRefused | None:
    return next((c for c in _causes(exc) if isinstance(c, AddressRefused)), None)


# The client --------------------------------------------------------------------------------------------------

class ProviderClient:
    def __init__(self, provider) -> None:
        self.provider = provider
        self._key = provider.api_key
        self._url = provider.api_url
        self._name = provider.name
        self._format = (getattr(provider, "request_format", "form") or "form").lower()
        timeout = float(provider.timeout_seconds or 30)
        self._timeout = (min(CONNECT_TIMEOUT_CAP, timeout), timeout)
        self._session = _session_for(provider)

    def __repr__(self) -> str:
        return f"<ProviderClient {self._name!r} {self._format}>"

    # Transport ---------------------------------------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        for secret in {self._key, quote_plus(self._key), quote(self._key, safe="")}:
            if secret:
                text = text.replace(secret, "***")
        return text

    def _call(self, action: str, params: Mapping[str, object], *, ids: int = 0, creates: bool = False) -> Any:
        """One request; returns the decoded JSON answer, or raises Rejected / Unavailable / UnknownOutcome."""
        payload = {"key": self._key, "action": action, **{k: str(v) for k, v in params.items()}}
        started = time.monotonic()
        outcome, failure = "ok", None
        try:
            answer = self._send(payload, creates=creates)
            message = wire.error_text(answer) if isinstance(answer, Mapping) else None
            if (message is None and isinstance(answer, Mapping) and answer.get("message")
                    and str(answer.get("status", "")).lower() == "error"):
                message = str(answer["message"])  # {"status": "error", "message": ...}
            if message is not None:
                raise Rejected(self._scrub(message))
            return answer
        except UpstreamError as exc:
            outcome, failure = f"{type(exc).__name__}: {exc}", exc
            raise
        finally:
            seconds = time.monotonic() - started
            logger.info("upstream %s provider=%s ids=%d %.0fms %s", action, self._name, ids, seconds * 1000, outcome)
            observe_upstream_call(provider=self._name, action=action, seconds=seconds, error=failure)

    def _send(self, payload: dict[str, str], *, creates: bool) -> Any:
        lost = UnknownOutcome if creates else Unavailable  # what "sent, but no answer" means for this call
        if not self._key:
            # Changing a provider's URL clears its key: nothing goes out until the key is entered again.
            raise Unavailable("no API key: enter the provider's key again")
        # A call that creates something upstream ends by the timeout, whatever the server does (a Deadline):
        # a claim older than twice the timeout then belongs to a dead worker, never to a slow call.
        deadline = Deadline(self._timeout[1]) if creates else contextlib.nullcontext()
        try:
            with deadline:
                if self._format == "json":
                    response = self._session.post(self._url, json=payload, timeout=self._timeout)
                elif self._format == "get":
                    response = self._session.get(self._url, params=payload, timeout=self._timeout)
                else:
                    response = self._session.post(self._url, data=payload, timeout=self._timeout)
            if getattr(deadline, "cut", False):
                # The socket was shut under a reply still coming: what was read may look whole (headers end
                # at the cut) but is not the upstream's answer.
                raise lost("no whole answer within the timeout")
        except requests.ConnectTimeout:
            raise Unavailable("connect timeout") from None
        except requests.Timeout:
            raise lost("timed out waiting for the answer") from None
        except requests.ConnectionError as exc:
            refused = _address_refused(exc)
            if refused is not None:
                raise Unavailable(f"address refused: {refused.refusal} (PROVIDER_URLS_ALLOW_PRIVATE is off)") from None
            if getattr(deadline, "cut", False):
                raise lost("no whole answer within the timeout") from None
            if _never_sent(exc):
                raise Unavailable("connection refused or unreachable") from None
            raise lost("connection lost after the request was sent") from None
        except requests.RequestException as exc:
            if getattr(deadline, "cut", False):
                raise lost("no whole answer within the timeout") from None
            raise lost(f"transport error ({type(exc).__name__})") from None
        code = response.status_code
        if code == 429:
            retry_after = wire.retry_after_seconds(response.headers.get("Retry-After"))
            raise Unavailable("rate limited (HTTP 429)", retry_after=retry_after)
        if code >= 500:
            # A proxy's 5xx says nothing about whether the panel behind it acted on the request.
            raise lost(f"HTTP {code}")
        try:
            answer = response.json()
        except ValueError:
            kind = "HTML page" if b"<" in response.content[:200] else "non-JSON body"
            if 400 <= code < 500:
                raise Unavailable(f"HTTP {code} with a {kind}") from None
            raise lost(f"{kind} instead of JSON (HTTP {code})") from None
        return answer

    # Actions -----------------------------------------------------------------------------------------------

    def services(self) -> list[UpstreamService]:
        answer = self._call("services", {})
        if isinstance(answer, Mapping):
            # {} for an empty catalogue, or an object keyed by service id (the key is the id where items lack one).
            items = [{"service": k, **v} if isinstance(v, Mapping) else v for k, v in answer.items()]
        elif isinstance(answer, list):
            items = answer
        else:
            raise Unavailable("unreadable services answer")
        services = []
        for item in items:
            service = wire.parse_service(item)
            if service is not None:
                services.append(service)
        if len(services) < len(items):
            logger.warning("upstream services provider=%s skipped %d unreadable items", self._name,
                           len(items) - len(services))
        return services

    def add(self, *, service_id: str, fields: Mapping[str, object], request_id: str | None = None) -> str:
        """Create an order upstream; `fields` are the type's v2 fields (link, quantity, comments…); `request_id`
        our stable token of the order (a panel that honours it answers a repeat with the same order; others
        ignore it). Returns the upstream order id. Raises Rejected, Unavailable, or UnknownOutcome."""
        params: dict[str, object] = {"service": service_id, **({"request_id": request_id} if request_id else {})}
        for name, value in fields.items():
            if value is None or value == "":
                continue
            if isinstance(value, (list, tuple)):
                value = "\n".join(str(v) for v in value)
            params[name] = value
        answer = self._call("add", params, creates=True)
        order_id = wire.read_id(answer.get("order")) if isinstance(answer, Mapping) else None
        if order_id is None:
            raise UnknownOutcome("the answer carries no order id")
        return order_id

    def status(self, order_id: str) -> OrderStatus:
        answer = self._call("status", {"order": order_id}, ids=1)
        if not isinstance(answer, Mapping):
            raise Unavailable("unreadable status answer")
        if "status" not in answer and isinstance(answer.get(str(order_id)), Mapping):
            answer = answer[str(order_id)]  # some panels key even a single answer by the id
            if wire.error_text(answer):
                raise Rejected(self._scrub(wire.error_text(answer)))
        return wire.parse_order_status(answer)

    def statuses(self, order_ids: Sequence[str]) -> dict[str, OrderStatus | ItemError]:
        """Multi status, split into requests of at most 100 ids."""
        result: dict[str, OrderStatus | ItemError] = {}
        for chunk in _chunks(order_ids):
            answer = self._call("status", {"orders": ",".join(chunk)}, ids=len(chunk))
            by_id = wire.keyed(answer, "order")
            for order_id in chunk:
                result[order_id] = wire.status_item(by_id.get(order_id))
        return result

    def refill(self, order_id: str) -> str:
        answer = self._call("refill", {"order": order_id}, ids=1)
        value = answer.get("refill") if isinstance(answer, Mapping) else None
        message = None
        if isinstance(value, Mapping) or (isinstance(value, str) and not wire.id_like(value)):
            message = wire.error_text(value)
        if message:
            raise Rejected(self._scrub(message))
        refill_id = wire.read_id(value)
        if refill_id is None:
            raise Unavailable("the answer carries no refill id")
        return refill_id

    def refills(self, order_ids: Sequence[str]) -> dict[str, str | ItemError]:
        result: dict[str, str | ItemError] = {}
        for chunk in _chunks(order_ids):
            answer = self._call("refill", {"orders": ",".join(chunk)}, ids=len(chunk))
            by_id = wire.keyed(answer, "order")
            for order_id in chunk:
                result[order_id] = wire.request_id_item(by_id.get(order_id), "refill")
        return result

    def refill_status(self, refill_id: str) -> RequestStatus:
        answer = self._call("refill_status", {"refill": refill_id}, ids=1)
        if not isinstance(answer, Mapping):
            raise Unavailable("unreadable refill status answer")
        status = wire.parse_request_status(answer)
        if isinstance(status, ItemError):
            raise Rejected(self._scrub(status.message))
        return status

    def refill_statuses(self, refill_ids: Sequence[str]) -> dict[str, RequestStatus | ItemError]:
        return self._request_statuses("refill_status", "refills", "refill", refill_ids)

    def cancel(self, order_ids: Sequence[str]) -> dict[str, CancelAccepted | ItemError]:
        result: dict[str, CancelAccepted | ItemError] = {}
        for chunk in _chunks(order_ids):
            try:
                answer = self._call("cancel", {"orders": ",".join(chunk)}, ids=len(chunk))
            except Rejected as multi_error:
                if len(chunk) != 1:
                    raise
                result[chunk[0]] = self._cancel_one(chunk[0], multi_error)
                continue
            by_id = wire.keyed(answer, "order")
            for order_id in chunk:
                result[order_id] = wire.parse_cancel(by_id.get(order_id))
        return result

    def _cancel_one(self, order_id: str, multi_error: Rejected) -> CancelAccepted | ItemError:
        """Some panels take only `order=`: retry one id that way after a definite refusal of `orders=`."""
        try:
            answer = self._call("cancel", {"order": order_id}, ids=1)
        except Rejected as single_error:
            if single_error.message == multi_error.message:
                raise  # the same refusal both ways is about the request (the key, the action), not the id
            return ItemError(single_error.message)
        return wire.parse_cancel(answer)

    def cancel_statuses(self, cancel_ids: Sequence[str]) -> dict[str, RequestStatus | ItemError]:
        return self._request_statuses("cancel", "cancels", "cancel", cancel_ids)

    def _request_statuses(self, action: str, param: str, id_field: str,
                          request_ids: Sequence[str]) -> dict[str, RequestStatus | ItemError]:
        result: dict[str, RequestStatus | ItemError] = {}
        for chunk in _chunks(request_ids):
            answer = self._call(action, {param: ",".join(chunk)}, ids=len(chunk))
            by_id = wire.keyed(answer, id_field)
            for request_id in chunk:
                value = by_id.get(request_id)
                if isinstance(value, Mapping):
                    result[request_id] = wire.parse_request_status(value)
                else:
                    result[request_id] = ItemError(wire.error_text(value) or "no answer for this id")
        return result

    def balance(self) -> Balance:
        answer = self._call("balance", {})
        amount = wire.read_decimal(answer.get("balance")) if isinstance(answer, Mapping) else None
        if amount is None:
            raise Unavailable("unreadable balance answer")
        currency = answer.get("currency")
        return Balance(amount, str(currency).strip().upper() if currency else None)
