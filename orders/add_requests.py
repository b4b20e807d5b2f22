"""`request_id` on `add`: a customer's own name for one order request, so that a request sent again (a lost
answer, a retry, a copy racing the first) gets the order the first one made, charged once.

The guarantee is the database's: one AddRequest per (customer, request_id) (a unique constraint), written in
the transaction that creates and charges the order (orders.services.order_create). An id is kept for
REQUEST_ID_DAYS; after that it names a new request.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime, timedelta

from django.utils import timezone

from orders.models import AddRequest, Order
from orders.validation import OrderInputError

REQUEST_ID_DAYS = 7
REQUEST_ID_MAX_LENGTH = 64
INCORRECT_REQUEST_ID = "Incorrect request_id: 1 to 64 visible ASCII characters"
REQUEST_ID_REUSED = "request_id already used with different parameters"
# Not part of what was asked for: who asks, how, and the id itself.
_NOT_PARAMETERS = frozenset(("key", "action", "request_id"))


class RequestIdReused(OrderInputError):
    """The customer's request_id names an earlier request with other parameters."""

    def __init__(self) -> None:
        super().__init__(REQUEST_ID_REUSED, field="request_id")


def clean_request_id(raw: object) -> str | None:
    """The request_id sent, or None when none was (an empty value is none). Raises OrderInputError unless it
    is 1 to 64 visible ASCII characters (letters, digits, punctuation; no space)."""
    if raw is None:
        return None
    text = str(raw)
    if text == "":
        return None
    if len(text) > REQUEST_ID_MAX_LENGTH or not all("!" <= char <= "~" for char in text):
        raise OrderInputError(INCORRECT_REQUEST_ID, field="request_id")
    return text


def fingerprint(data: Mapping[str, object]) -> str:
    """A digest of what an `add` asks for (the service and the order's fields, as sent)."""
    asked = sorted((str(name), str(value)) for name, value in data.items()
                   if name not in _NOT_PARAMETERS and value is not None and str(value) != "")
    return hashlib.sha256(json.dumps(asked, separators=(",", ":")).encode()).hexdigest()


def _window_start(now: datetime) -> datetime:
    return now - timedelta(days=REQUEST_ID_DAYS)


def add_request_replay(*, customer_id: int, request_id: str, fingerprint: str,
                       now: datetime | None = None) -> Order | None:
    """The order an earlier request with this id made within the window, or None. Raises RequestIdReused
    when that request asked for something else. One query."""
    now = now or timezone.now()
    earlier = (AddRequest.objects.filter(customer_id=customer_id, request_id=request_id,
                                         created_at__gte=_window_start(now))
               .select_related("order").first())
    if earlier is None:
        return None
    if earlier.fingerprint != fingerprint:
        raise RequestIdReused()
    return earlier.order


def add_request_record(*, customer_id: int, request_id: str, fingerprint: str, order: Order,
                       now: datetime | None = None) -> AddRequest:
    """Tie the id to the new order, inside the order's transaction. An expired use of the same id is
    dropped first; a copy that got here first makes the insert raise IntegrityError (the caller's whole
    transaction then rolls back, order and charge with it)."""
    now = now or timezone.now()
    AddRequest.objects.filter(customer_id=customer_id, request_id=request_id,
                              created_at__lt=_window_start(now)).delete()
    return AddRequest.objects.create(customer_id=customer_id, request_id=request_id, fingerprint=fingerprint,
                                     order=order, created_at=now)


def add_requests_purge(*, now: datetime | None = None) -> int:
    """Forget request ids older than the window (the orders stay). Returns how many."""
    deleted, _ = AddRequest.objects.filter(created_at__lt=_window_start(now or timezone.now())).delete()
    return deleted
