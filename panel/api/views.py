"""The /api/v2 endpoint: one dispatcher over `action`.

A plain Django view rather than DRF: the answers are fixed JSON shapes, and the view sits on the
hot path that resellers poll, so it does no more than parse, authenticate, limit and dispatch.
Whatever arrives, the answer is JSON: `{"error": ...}` for anything that is not a valid call.
"""

from __future__ import annotations

import logging

import orjson
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from accounts.selectors import api_key_cache_keys, customer_by_api_key, customer_by_cached_api_key
from panel.addresses import client_address
from panel.api.actions import ACTIONS, INCORRECT_REQUEST
from panel.api.parsing import IncorrectRequest, RequestTooLarge, request_params
from panel.api.ratelimit import (
    KeyLookup,
    Verdict,
    key_digest,
    key_lookup_begin,
    key_lookup_end,
    rate_limit_hit,
    read_ahead_done,
)
from panel.metrics.counters import count_api_request
from providers.catalogue import version_cache_keys

logger = logging.getLogger(__name__)

INVALID_API_KEY = "Invalid API key"
TOO_MANY_REQUESTS = "Too many requests"
REQUEST_TOO_LARGE = "Request too large"
INTERNAL_ERROR = "Internal error; try again later"
MAX_KEY_LENGTH = 200


def json_response(answer: object, *, status: int = 200) -> HttpResponse:
    """`answer` as JSON; bytes are sent as they are (a body encoded once and cached, the services list)."""
    # orjson: the 2,000-service list encodes in well under a millisecond, where json takes several.
    body = answer if isinstance(answer, bytes) else orjson.dumps(answer)
    return HttpResponse(body, content_type="application/json", status=status)


def _too_many(verdict: Verdict | KeyLookup) -> HttpResponse:
    response = json_response({"error": TOO_MANY_REQUESTS}, status=429)
    response["Retry-After"] = str(verdict.retry_after)
    return response


def _plausible_key(key: str) -> bool:
    """Printable ASCII of a sane length: anything else (a NUL, a surrogate...) cannot be a key, and is
    not sent to the database, which would refuse some of it with an error of its own."""
    return len(key) <= MAX_KEY_LENGTH and key.isascii() and key.isprintable() and " " not in key


def _declared_length(request: HttpRequest) -> int:
    try:
        return max(0, int(request.META.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


@csrf_exempt
def api_v2(request: HttpRequest) -> HttpResponse:
    """Every answer is JSON with HTTP 200, errors included, except rate limiting (429), a body too
    large to read (413) and a fault of ours (500)."""
    call = _Call()
    try:
        response = _dispatch(request, call)
    except Exception:
        logger.exception("API request failed")
        response = json_response({"error": INTERNAL_ERROR}, status=500)
        call.answer = "internal_error"
    finally:
        read_ahead_done()
    count_api_request(action=call.action, answer=call.answer, status=response.status_code)
    return response


class _Call:
    """What the metrics count of one request: the action asked for and how it was answered."""

    __slots__ = ("action", "answer")

    def __init__(self) -> None:
        self.action = ""
        self.answer = "ok"


def _refusal(call: _Call, answer: str, message: str, *, status: int = 200) -> HttpResponse:
    call.answer = answer
    return json_response({"error": message}, status=status)


def _dispatch(request: HttpRequest, call: _Call) -> HttpResponse:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if limit is not None and _declared_length(request) > limit:
        # Refused unread: neither parsed nor kept, whatever it holds and whoever sends it.
        return _refusal(call, "too_large", REQUEST_TOO_LARGE, status=413)
    try:
        params = request_params(request)
    except RequestTooLarge:
        return _refusal(call, "too_large", REQUEST_TOO_LARGE, status=413)
    except IncorrectRequest:
        return _refusal(call, "incorrect_request", INCORRECT_REQUEST)
    call.action = params.get("action", "").strip().lower()
    key = params.get("key", "").strip()
    if not key or not _plausible_key(key):
        return _refusal(call, "invalid_key", INVALID_API_KEY)
    # Counted before the key is looked up, so a flood from one key never reaches the database.
    digest = key_digest(key)
    # The key's cache entry, and the catalogue's version for `services`, are read in the counting's round trip.
    verdict = rate_limit_hit(digest=digest, read_ahead=api_key_cache_keys(key)
                             + (version_cache_keys() if call.action == "services" else []))
    if not verdict.allowed:
        call.answer = "rate_limited"
        return _too_many(verdict)
    # A key found lately is a customer's: no failure to count, and no database. Any other key may be a
    # guess: a new key for every guess escapes the per-key limit, not this one (failed lookups per address).
    customer = customer_by_cached_api_key(key)
    if customer is None:
        lookup = key_lookup_begin(digest=digest, address=client_address(request))
        if not lookup.allowed:
            call.answer = "rate_limited"
            return _too_many(lookup)
        customer = customer_by_api_key(key)
        key_lookup_end(lookup, found=customer is not None)
        if customer is None:
            return _refusal(call, "invalid_key", INVALID_API_KEY)
    handler = ACTIONS.get(call.action)
    if handler is None:
        return _refusal(call, "incorrect_request", INCORRECT_REQUEST)
    try:
        answer = handler(customer, params)
    except IncorrectRequest:
        return _refusal(call, "incorrect_request", INCORRECT_REQUEST)
    except Exception:
        # A fault of ours, not a refusal: HTTP 500 tells a v2 client the outcome is unknown (an `add`
        # must not be blindly resent), while the body stays JSON.
        logger.exception("API action %r failed", params.get("action"))
        return _refusal(call, "internal_error", INTERNAL_ERROR, status=500)
    if isinstance(answer, dict) and "error" in answer:
        call.answer = "error"  # a refusal in the protocol's words (funds, a service id, an order id...)
    return json_response(answer)


def bench_floor(request: HttpRequest) -> HttpResponse:
    """The cheapest JSON answer the stack can give: the yardstick the benchmark divides by."""
    return json_response({"status": "ok"})
