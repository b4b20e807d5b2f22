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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

MAX_IDS_PER_REQUEST = 100  # the protocol's limit for orders=/refills=/cancels=


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


def normalize_order_status(word: object) -> str | None:
    raise NotImplementedError


def normalize_request_status(word: object) -> str | None:
    raise NotImplementedError


class ProviderClient:
    def __init__(self, provider) -> None:
        raise NotImplementedError

    def services(self) -> list[UpstreamService]:
        raise NotImplementedError

    def add(self, *, service_id: str, fields: Mapping[str, object]) -> str:
        """Create an order upstream; `fields` are the type's v2 fields (link, quantity, comments…).
        Returns the upstream order id. Raises Rejected, Unavailable, or UnknownOutcome."""
        raise NotImplementedError

    def status(self, order_id: str) -> OrderStatus:
        raise NotImplementedError

    def statuses(self, order_ids: Sequence[str]) -> dict[str, OrderStatus | ItemError]:
        """Multi status, split into requests of at most 100 ids."""
        raise NotImplementedError

    def refill(self, order_id: str) -> str:
        raise NotImplementedError

    def refills(self, order_ids: Sequence[str]) -> dict[str, str | ItemError]:
        raise NotImplementedError

    def refill_status(self, refill_id: str) -> RequestStatus:
        raise NotImplementedError

    def refill_statuses(self, refill_ids: Sequence[str]) -> dict[str, RequestStatus | ItemError]:
        raise NotImplementedError

    def cancel(self, order_ids: Sequence[str]) -> dict[str, CancelAccepted | ItemError]:
        raise NotImplementedError

    def cancel_statuses(self, cancel_ids: Sequence[str]) -> dict[str, RequestStatus | ItemError]:
        raise NotImplementedError

    def balance(self) -> Balance:
        raise NotImplementedError
