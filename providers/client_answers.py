"""Reading upstream answers: numbers as strings or numbers, status words in any spelling, errors in any shape."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime

from providers.client_types import (
    CancelAccepted,
    ItemError,
    OrderStatus,
    RequestStatus,
    Unavailable,
    UpstreamService,
)

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

def read_decimal(value: object) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip().replace(",", "")
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def read_int(value: object) -> int | None:
    number = read_decimal(value)
    return int(number) if number is not None else None


def read_bool(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def read_id(value: object) -> str | None:
    """An upstream id as a string: 23501, "23501", 23501.0 and " ord_ab12 " all work."""
    if value is None or isinstance(value, (bool, dict, list)):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def error_text(value: object) -> str | None:
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


def retry_after_seconds(header: str | None) -> float | None:
    """Retry-After as seconds: either a number of seconds or an HTTP date."""
    if not header:
        return None
    number = read_decimal(header)
    if number is not None:
        return max(0.0, float(number))
    try:
        when = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


# Answer parsers ----------------------------------------------------------------------------------------------

def keyed(answer: object, id_field: str) -> dict[str, object]:
    """A multi answer as {id: item}: from an object keyed by id, or a list of items carrying `id_field`."""
    if isinstance(answer, Mapping):
        return {str(k).strip(): v for k, v in answer.items()}
    if isinstance(answer, list):
        keyed: dict[str, object] = {}
        for item in answer:
            if isinstance(item, Mapping):
                item_id = read_id(item.get(id_field, item.get("id")))
                if item_id is not None:
                    keyed[item_id] = item
        return keyed
    raise Unavailable("unreadable multi answer")


def parse_service(item: object) -> UpstreamService | None:
    if not isinstance(item, Mapping):
        return None
    service_id = read_id(item.get("service", item.get("id")))
    rate = read_decimal(item.get("rate"))
    low, high = read_int(item.get("min")), read_int(item.get("max"))
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
        refill=read_bool(item.get("refill")),
        cancel=read_bool(item.get("cancel")),
        dripfeed=read_bool(item.get("dripfeed")),
        description=str(item.get("description") or item.get("desc") or "").strip(),
    )


_STATUS_FIELDS = ("status", "charge", "start_count", "remains", "currency", "runs", "posts")


def status_item(value: object) -> OrderStatus | ItemError:
    """One id's part of a multi status answer: an order status, or the error the upstream gave for it."""
    if value is None:
        return ItemError("no answer for this id")
    if not isinstance(value, Mapping):
        return ItemError(error_text(value) or "unreadable status")
    word = value.get("status")
    if isinstance(word, Mapping):
        return ItemError(error_text(word) or "unreadable status")
    if value.get("error") or value.get("errors"):
        return ItemError(error_text(value) or "error")
    return parse_order_status(value)


def parse_order_status(item: Mapping) -> OrderStatus:
    raw = item.get("status")
    raw_text = "" if raw is None else str(raw)
    remains = read_int(item.get("remains"))
    currency = item.get("currency")
    return OrderStatus(
        status=normalize_order_status(raw),
        raw_status=raw_text,
        charge=read_decimal(item.get("charge")),
        start_count=read_int(item.get("start_count")),
        remains=None if remains is None else max(0, remains),
        currency=str(currency).strip().upper() if currency else None,
        runs_done=read_int(item.get("runs")),
        posts_done=read_int(item.get("posts")),
        extra={k: v for k, v in item.items() if k not in _STATUS_FIELDS},
    )


def child_order_ids(status: OrderStatus) -> list[str] | None:
    """A drip-feed's child order ids where the upstream lists them (`orders`: a list or a comma list)."""
    value = status.extra.get("orders")
    if value is None:
        return None
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list | tuple):
        return None
    ids = [read_id(item) for item in value]
    return [item for item in ids if item]


def parse_request_status(item: Mapping) -> RequestStatus | ItemError:
    # Some panels say `type` where `status` is expected (smmsend's refill_status).
    word = item.get("status", item.get("type"))
    if word is None and "error" in item:
        word = item
    message = error_text(word) if isinstance(word, Mapping) else None
    if message is not None or isinstance(word, Mapping):
        return ItemError(message or "unreadable status")
    status = normalize_request_status(word)
    if status is None and isinstance(word, str) and _looks_like_error(word):
        return ItemError(word.strip())  # {"refill": 3, "status": "Refill not found"}: an error as a bare string
    return RequestStatus(status, "" if word is None else str(word))


def _looks_like_error(text: str) -> bool:
    """Status words are one or two words; an error sent in their place is a sentence or says so."""
    return len(text.split()) >= 3 or bool(re.search(r"error|not found|incorrect|invalid", text, re.IGNORECASE))


def request_id_item(item: object, id_field: str) -> str | ItemError:
    if not isinstance(item, Mapping):
        return ItemError(error_text(item) or "no answer for this id")
    value = item.get(id_field)
    if isinstance(value, Mapping) or isinstance(value, str) and not id_like(value):
        return ItemError(error_text(value) or "unreadable answer")
    request_id = read_id(value)
    return request_id if request_id is not None else ItemError(error_text(item) or "unreadable answer")


def id_like(text: str) -> bool:
    """Ids are short tokens; an error sent as a bare string has spaces ("Incorrect order ID")."""
    return bool(re.fullmatch(r"[\w.:-]{1,64}", text.strip()))


def parse_cancel(item: object) -> CancelAccepted | ItemError:
    if not isinstance(item, Mapping):
        return ItemError(error_text(item) or "no answer for this id")
    value = item.get("cancel")
    if isinstance(value, Mapping) or (isinstance(value, str) and not id_like(value)):
        return ItemError(error_text(value) or "unreadable answer")
    if value is None or value is False:
        return ItemError(error_text(item) or "unreadable answer")
    kind = item.get("type")
    kind = str(kind).strip().lower() if kind else None
    cancel_id = read_id(value)
    if kind is None and (value is True or cancel_id == "1"):
        cancel_id = None  # a plain panel's "accepted" flag, not an id
    return CancelAccepted(cancel_id=cancel_id, type=kind)
