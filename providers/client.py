"""The one place that speaks HTTP to upstream panels (API v2).

CONTRACT (other modules are written against it; keep names and shapes):

* `ProviderClient(provider)` — one pooled `requests.Session` per provider; a timeout on every call;
  the API key never appears in logs, exceptions or reprs.
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

import logging
import re
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, quote_plus

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

logger = logging.getLogger(__name__)

MAX_IDS_PER_REQUEST = 100  # the protocol's limit for orders=/refills=/cancels=
CONNECT_TIMEOUT_CAP = 5.0  # seconds; a panel that cannot take a connection this fast is down


class UpstreamError(Exception):
    """Base of the client's failures."""


class Rejected(UpstreamError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Unavailable(UpstreamError):
    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class UnknownOutcome(UpstreamError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ItemError:
    """An error for one id inside an otherwise good multi answer."""

    message: str


@dataclass(frozen=True)
class UpstreamService:
    service_id: str
    name: str
    type: str
    category: str
    rate: Decimal
    min: int
    max: int
    refill: bool = False
    cancel: bool = False
    dripfeed: bool = False
    description: str = ""


@dataclass(frozen=True)
class OrderStatus:
    # One of orders.models.Status values ("Pending", "In progress", "Processing", "Completed", "Partial",
    # "Canceled", "Active", "Paused", "Expired"), or None when the upstream word is unknown.
    status: str | None
    raw_status: str
    charge: Decimal | None = None
    start_count: int | None = None
    remains: int | None = None  # None when missing or "Unknown"; negative values clamped to 0
    currency: str | None = None
    runs_done: int | None = None  # drip-feed, where the upstream reports it
    posts_done: int | None = None  # subscriptions, where the upstream reports it
    extra: Mapping[str, object] = field(default_factory=dict)  # everything else the upstream sent


@dataclass(frozen=True)
class RequestStatus:
    """Status of a refill or a cancel request: "Pending", "In progress", "Completed", "Rejected" or None."""

    status: str | None
    raw_status: str


@dataclass(frozen=True)
class CancelAccepted:
    cancel_id: str | None  # the smmsend extension gives one; plain panels answer `1`
    type: str | None = None  # "order", "dripfeed", "subscription" where given


@dataclass(frozen=True)
class Balance:
    amount: Decimal
    currency: str | None


# Status words ----------------------------------------------------------------------------------------------

# Keys are the word lower-cased with everything but letters removed ("In Progress", "in_progress" → "inprogress").
# "Refunded" means the whole charge came back, which is what Canceled means. "Fail"/"Error" are left unknown on
# purpose: panels use them both for orders they refunded and for orders they will still retry, so turning them
# into Canceled would refund a customer for something the upstream may yet deliver and charge.
_ORDER_WORDS = {
    "pending": "Pending",
    "inprogress": "In progress",
    "processing": "Processing",
    "completed": "Completed",
    "complete": "Completed",
    "partial": "Partial",
    "partiallycompleted": "Partial",
    "canceled": "Canceled",
    "cancelled": "Canceled",
    "refunded": "Canceled",
    "active": "Active",
    "paused": "Paused",
    "expired": "Expired",
}
_REQUEST_WORDS = {
    "pending": "Pending",
    "inprogress": "In progress",
    "processing": "In progress",
    "completed": "Completed",
    "complete": "Completed",
    "rejected": "Rejected",
}


def _word_key(word: object) -> str | None:
    if not isinstance(word, str):
        return None
    return re.sub(r"[^a-z]", "", word.lower())


def normalize_order_status(word: object) -> str | None:
    return _ORDER_WORDS.get(_word_key(word) or "")


def normalize_request_status(word: object) -> str | None:
    return _REQUEST_WORDS.get(_word_key(word) or "")


# Value readers: every number may come as a string or a number ----------------------------------------------

def _decimal(value: object) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip().replace(",", "")
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _int(value: object) -> int | None:
    number = _decimal(value)
    return int(number) if number is not None else None


def _bool(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _id(value: object) -> str | None:
    """An upstream id as a string: 23501, "23501", 23501.0 and " ord_ab12 " all work."""
    if value is None or isinstance(value, (bool, dict, list)):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def _error_text(value: object) -> str | None:
    """The message of an error value ({"error": ...}, {"errors": [...]}, a bare string), else None."""
    if isinstance(value, str):
        return value.strip() or "error"
    if isinstance(value, Mapping):
        if value.get("error"):
            return _flatten(value["error"])
        if value.get("errors"):
            return _flatten(value["errors"])
    return None


def _flatten(value: object) -> str:
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {_flatten(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return "; ".join(_flatten(v) for v in value)
    return str(value)


def _retry_after(header: str | None) -> float | None:
    """Retry-After as seconds: either a number of seconds or an HTTP date."""
    if not header:
        return None
    number = _decimal(header)
    if number is not None:
        return max(0.0, float(number))
    try:
        when = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


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
            adapter = HTTPAdapter(pool_connections=2, pool_maxsize=16, max_retries=0)
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


def _never_sent(exc: requests.ConnectionError) -> bool:
    """True when the connection failed before any byte of the request left (refused, DNS, connect timeout)."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, (NewConnectionError, ConnectTimeoutError, ConnectionRefusedError)):
            return True
        pending.extend([getattr(current, "reason", None), current.__cause__, current.__context__])
        pending.extend(a for a in getattr(current, "args", ()) if isinstance(a, BaseException))
    return False


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
        outcome = "ok"
        try:
            answer = self._send(payload, creates=creates)
            message = _error_text(answer) if isinstance(answer, Mapping) else None
            if (message is None and isinstance(answer, Mapping) and answer.get("message")
                    and str(answer.get("status", "")).lower() == "error"):
                message = str(answer["message"])  # {"status": "error", "message": ...}
            if message is not None:
                raise Rejected(self._scrub(message))
            return answer
        except UpstreamError as exc:
            outcome = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            logger.info("upstream %s provider=%s ids=%d %.0fms %s", action, self._name, ids,
                        (time.monotonic() - started) * 1000, outcome)

    def _send(self, payload: dict[str, str], *, creates: bool) -> Any:
        lost = UnknownOutcome if creates else Unavailable  # what "sent, but no answer" means for this call
        try:
            if self._format == "json":
                response = self._session.post(self._url, json=payload, timeout=self._timeout)
            elif self._format == "get":
                response = self._session.get(self._url, params=payload, timeout=self._timeout)
            else:
                response = self._session.post(self._url, data=payload, timeout=self._timeout)
        except requests.ConnectTimeout:
            raise Unavailable("connect timeout") from None
        except requests.Timeout:
            raise lost("timed out waiting for the answer") from None
        except requests.ConnectionError as exc:
            if _never_sent(exc):
                raise Unavailable("connection refused or unreachable") from None
            raise lost("connection lost after the request was sent") from None
        except requests.RequestException as exc:
            raise lost(f"transport error ({type(exc).__name__})") from None
        code = response.status_code
        if code == 429:
            raise Unavailable("rate limited (HTTP 429)", retry_after=_retry_after(response.headers.get("Retry-After")))
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
            items = list(answer.values())  # {} for an empty catalogue, or an object keyed by service id
        elif isinstance(answer, list):
            items = answer
        else:
            raise Unavailable("unreadable services answer")
        services = []
        for item in items:
            service = _parse_service(item)
            if service is not None:
                services.append(service)
        if len(services) < len(items):
            logger.warning("upstream services provider=%s skipped %d unreadable items", self._name,
                           len(items) - len(services))
        return services

    def add(self, *, service_id: str, fields: Mapping[str, object]) -> str:
        """Create an order upstream; `fields` are the type's v2 fields (link, quantity, comments…).
        Returns the upstream order id. Raises Rejected, Unavailable, or UnknownOutcome."""
        params: dict[str, object] = {"service": service_id}
        for name, value in fields.items():
            if value is None or value == "":
                continue
            if isinstance(value, (list, tuple)):
                value = "\n".join(str(v) for v in value)
            params[name] = value
        answer = self._call("add", params, creates=True)
        order_id = _id(answer.get("order")) if isinstance(answer, Mapping) else None
        if order_id is None:
            raise UnknownOutcome("the answer carries no order id")
        return order_id

    def status(self, order_id: str) -> OrderStatus:
        answer = self._call("status", {"order": order_id}, ids=1)
        if not isinstance(answer, Mapping):
            raise Unavailable("unreadable status answer")
        return _parse_order_status(answer)

    def statuses(self, order_ids: Sequence[str]) -> dict[str, OrderStatus | ItemError]:
        """Multi status, split into requests of at most 100 ids."""
        result: dict[str, OrderStatus | ItemError] = {}
        for chunk in _chunks(order_ids):
            answer = self._call("status", {"orders": ",".join(chunk)}, ids=len(chunk))
            by_id = _keyed(answer, "order")
            for order_id in chunk:
                result[order_id] = _status_item(by_id.get(order_id))
        return result

    def refill(self, order_id: str) -> str:
        answer = self._call("refill", {"order": order_id}, ids=1)
        value = answer.get("refill") if isinstance(answer, Mapping) else None
        message = None
        if isinstance(value, Mapping) or (isinstance(value, str) and not _id_like(value)):
            message = _error_text(value)
        if message:
            raise Rejected(self._scrub(message))
        refill_id = _id(value)
        if refill_id is None:
            raise Unavailable("the answer carries no refill id")
        return refill_id

    def refills(self, order_ids: Sequence[str]) -> dict[str, str | ItemError]:
        result: dict[str, str | ItemError] = {}
        for chunk in _chunks(order_ids):
            answer = self._call("refill", {"orders": ",".join(chunk)}, ids=len(chunk))
            by_id = _keyed(answer, "order")
            for order_id in chunk:
                result[order_id] = _request_id(by_id.get(order_id), "refill")
        return result

    def refill_status(self, refill_id: str) -> RequestStatus:
        answer = self._call("refill_status", {"refill": refill_id}, ids=1)
        if not isinstance(answer, Mapping):
            raise Unavailable("unreadable refill status answer")
        status = _parse_request_status(answer)
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
            by_id = _keyed(answer, "order")
            for order_id in chunk:
                result[order_id] = _parse_cancel(by_id.get(order_id))
        return result

    def _cancel_one(self, order_id: str, multi_error: Rejected) -> CancelAccepted | ItemError:
        """Some panels take only `order=`: retry one id that way after a definite refusal of `orders=`."""
        try:
            answer = self._call("cancel", {"order": order_id}, ids=1)
        except Rejected as single_error:
            if single_error.message == multi_error.message:
                raise  # the same refusal both ways is about the request (the key, the action), not the id
            return ItemError(single_error.message)
        return _parse_cancel(answer)

    def cancel_statuses(self, cancel_ids: Sequence[str]) -> dict[str, RequestStatus | ItemError]:
        return self._request_statuses("cancel", "cancels", "cancel", cancel_ids)

    def _request_statuses(self, action: str, param: str, id_field: str,
                          request_ids: Sequence[str]) -> dict[str, RequestStatus | ItemError]:
        result: dict[str, RequestStatus | ItemError] = {}
        for chunk in _chunks(request_ids):
            answer = self._call(action, {param: ",".join(chunk)}, ids=len(chunk))
            by_id = _keyed(answer, id_field)
            for request_id in chunk:
                value = by_id.get(request_id)
                if isinstance(value, Mapping):
                    result[request_id] = _parse_request_status(value)
                else:
                    result[request_id] = ItemError(_error_text(value) or "no answer for this id")
        return result

    def balance(self) -> Balance:
        answer = self._call("balance", {})
        amount = _decimal(answer.get("balance")) if isinstance(answer, Mapping) else None
        if amount is None:
            raise Unavailable("unreadable balance answer")
        currency = answer.get("currency")
        return Balance(amount, str(currency).strip().upper() if currency else None)


# Answer parsers ----------------------------------------------------------------------------------------------

def _keyed(answer: object, id_field: str) -> dict[str, object]:
    """A multi answer as {id: item}: from an object keyed by id, or a list of items carrying `id_field`."""
    if isinstance(answer, Mapping):
        return {str(k).strip(): v for k, v in answer.items()}
    if isinstance(answer, list):
        keyed: dict[str, object] = {}
        for item in answer:
            if isinstance(item, Mapping):
                item_id = _id(item.get(id_field, item.get("id")))
                if item_id is not None:
                    keyed[item_id] = item
        return keyed
    raise Unavailable("unreadable multi answer")


def _parse_service(item: object) -> UpstreamService | None:
    if not isinstance(item, Mapping):
        return None
    service_id = _id(item.get("service", item.get("id")))
    rate = _decimal(item.get("rate"))
    low, high = _int(item.get("min")), _int(item.get("max"))
    if service_id is None or rate is None or low is None or high is None or rate < 0:
        return None
    return UpstreamService(
        service_id=service_id,
        name=str(item.get("name") or "").strip(),
        type=str(item.get("type") or "Default").strip(),
        category=str(item.get("category") or "").strip(),
        rate=rate,
        min=max(0, low),
        max=max(0, high),
        refill=_bool(item.get("refill")),
        cancel=_bool(item.get("cancel")),
        dripfeed=_bool(item.get("dripfeed")),
        description=str(item.get("description") or item.get("desc") or "").strip(),
    )


_STATUS_FIELDS = ("status", "charge", "start_count", "remains", "currency", "runs", "posts")


def _status_item(value: object) -> OrderStatus | ItemError:
    """One id's part of a multi status answer: an order status, or the error the upstream gave for it."""
    if value is None:
        return ItemError("no answer for this id")
    if not isinstance(value, Mapping):
        return ItemError(_error_text(value) or "unreadable status")
    word = value.get("status")
    if isinstance(word, Mapping):
        return ItemError(_error_text(word) or "unreadable status")
    if value.get("error") or value.get("errors"):
        return ItemError(_error_text(value) or "error")
    return _parse_order_status(value)


def _parse_order_status(item: Mapping) -> OrderStatus:
    raw = item.get("status")
    raw_text = "" if raw is None else str(raw)
    remains = _int(item.get("remains"))
    currency = item.get("currency")
    return OrderStatus(
        status=normalize_order_status(raw),
        raw_status=raw_text,
        charge=_decimal(item.get("charge")),
        start_count=_int(item.get("start_count")),
        remains=None if remains is None else max(0, remains),
        currency=str(currency).strip().upper() if currency else None,
        runs_done=_int(item.get("runs")),
        posts_done=_int(item.get("posts")),
        extra={k: v for k, v in item.items() if k not in _STATUS_FIELDS},
    )


def _parse_request_status(item: Mapping) -> RequestStatus | ItemError:
    # Some panels say `type` where `status` is expected (smmsend's refill_status).
    word = item.get("status", item.get("type"))
    if word is None and "error" in item:
        word = item
    message = _error_text(word) if isinstance(word, Mapping) else None
    if message is not None or isinstance(word, Mapping):
        return ItemError(message or "unreadable status")
    return RequestStatus(normalize_request_status(word), "" if word is None else str(word))


def _request_id(item: object, id_field: str) -> str | ItemError:
    if not isinstance(item, Mapping):
        return ItemError(_error_text(item) or "no answer for this id")
    value = item.get(id_field)
    if isinstance(value, Mapping) or isinstance(value, str) and not _id_like(value):
        return ItemError(_error_text(value) or "unreadable answer")
    request_id = _id(value)
    return request_id if request_id is not None else ItemError(_error_text(item) or "unreadable answer")


def _id_like(text: str) -> bool:
    """Ids are short tokens; an error sent as a bare string has spaces ("Incorrect order ID")."""
    return bool(re.fullmatch(r"[\w.:-]{1,64}", text.strip()))


def _parse_cancel(item: object) -> CancelAccepted | ItemError:
    if not isinstance(item, Mapping):
        return ItemError(_error_text(item) or "no answer for this id")
    value = item.get("cancel")
    if isinstance(value, Mapping) or (isinstance(value, str) and not _id_like(value)):
        return ItemError(_error_text(value) or "unreadable answer")
    if value is None or value is False:
        return ItemError(_error_text(item) or "unreadable answer")
    kind = item.get("type")
    kind = str(kind).strip().lower() if kind else None
    cancel_id = _id(value)
    if kind is None and (value is True or cancel_id == "1"):
        cancel_id = None  # a plain panel's "accepted" flag, not an id
    return CancelAccepted(cancel_id=cancel_id, type=kind)
