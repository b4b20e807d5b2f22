"""The upstream client's results and failures (see providers.client for the contract)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal


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

