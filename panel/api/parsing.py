"""Turn an API request, in any of the three encodings v2 clients use, into plain parameters.

Clients post form fields (the documents' PHP sample), a JSON body, or GET query parameters; all
three end up as one `dict[str, str]` so the actions never care which was used.
"""

from __future__ import annotations

import json
from decimal import Decimal

from django.http import HttpRequest, QueryDict

MAX_IDS = 100
MAX_ID = 2**63 - 1  # ids beyond a bigint are malformed, not merely unknown
ID_LIST_FIELDS = ("orders", "refills", "cancels")


class IncorrectRequest(ValueError):
    """The request itself is malformed; answered as {"error": "Incorrect request"}."""


def _flatten(name: str, value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, list | tuple):
        # A JSON list: ids joined by commas, list fields (comments, usernames...) one per line.
        separator = "," if name in ID_LIST_FIELDS else "\n"
        return separator.join(str(item) for item in value if item is not None)
    return str(value)


def request_params(request: HttpRequest) -> dict[str, str]:
    """Query parameters, overridden by the POST body (form-encoded, multipart or JSON)."""
    params: dict[str, str] = {name: request.GET[name] for name in request.GET}
    if request.method != "POST":
        return params
    content_type = (request.content_type or "").lower()
    body_is_json = content_type == "application/json" or (
        content_type not in ("application/x-www-form-urlencoded", "multipart/form-data")
        and request.body[:1] in (b"{", b"[")
    )
    if body_is_json:
        if not request.body.strip():
            return params
        try:
            data = json.loads(request.body, parse_float=Decimal)
        except (ValueError, UnicodeDecodeError):
            raise IncorrectRequest("The body is not valid JSON") from None
        if not isinstance(data, dict):
            raise IncorrectRequest("The JSON body must be an object")
        for name, value in data.items():
            flat = _flatten(name, value)
            if flat is not None:
                params[str(name)] = flat
        return params
    form = request.POST
    if not form and content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        # Form fields sent under a wrong or missing Content-Type (text/plain from some scripts).
        form = QueryDict(request.body, encoding=request.encoding)
    for name in form:
        params[name] = form[name]
    return params


def parse_id(raw: str) -> int:
    """One id: a positive whole number. Raises IncorrectRequest."""
    text = raw.strip()
    if not text.isascii() or not text.isdigit():
        raise IncorrectRequest(f"Malformed id: {raw[:20]!r}")
    value = int(text)
    if not 1 <= value <= MAX_ID:
        raise IncorrectRequest(f"Id out of range: {raw[:20]!r}")
    return value


def parse_id_list(raw: str) -> list[int]:
    """Comma-separated ids (a comma may arrive still percent-encoded), at most MAX_IDS, order kept."""
    text = raw.replace("%2C", ",").replace("%2c", ",")
    parts = [part for part in text.split(",") if part.strip()]
    if not parts:
        raise IncorrectRequest("No ids")
    if len(parts) > MAX_IDS:
        raise IncorrectRequest(f"More than {MAX_IDS} ids")
    # A repeated id is asked once: one refill or cancel per order, one answer per id.
    return list(dict.fromkeys(parse_id(part) for part in parts))


def plain_decimal(value: Decimal) -> str:
    """A decimal as clients expect it: no exponent, trailing zeros trimmed to at least two places."""
    text = str(value)  # fast, and exponent-free for the fixed 5-place money values the database returns
    if "E" in text or "e" in text:
        text = format(value, "f")
    dot = text.find(".")
    if dot < 0:
        return text + ".00"
    text = text.rstrip("0")
    return text if len(text) - dot > 2 else text.ljust(dot + 3, "0")
