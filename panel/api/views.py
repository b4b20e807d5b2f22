"""The /api/v2 endpoint: one dispatcher over `action`.

A plain Django view rather than DRF: the answers are fixed JSON shapes, and the view sits on the
hot path that resellers poll, so it does no more than parse, authenticate, limit and dispatch.
"""

from __future__ import annotations

import logging

import orjson
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from accounts.selectors import customer_by_api_key
from panel.api.actions import ACTIONS, INCORRECT_REQUEST
from panel.api.parsing import IncorrectRequest, request_params
from panel.api.ratelimit import rate_limit_hit

logger = logging.getLogger(__name__)

INVALID_API_KEY = "Invalid API key"
TOO_MANY_REQUESTS = "Too many requests"
INTERNAL_ERROR = "Internal error; try again later"


def json_response(answer: object, *, status: int = 200) -> HttpResponse:
    # orjson: the 2,000-service list encodes in well under a millisecond, where json takes several.
    return HttpResponse(orjson.dumps(answer), content_type="application/json", status=status)


@csrf_exempt
def api_v2(request: HttpRequest) -> HttpResponse:
    """Every answer is JSON with HTTP 200, errors included, except rate limiting (429)."""
    try:
        params = request_params(request)
    except IncorrectRequest:
        return json_response({"error": INCORRECT_REQUEST})
    key = params.get("key", "").strip()
    if not key:
        return json_response({"error": INVALID_API_KEY})
    # Counted before the key is looked up, so a flood from one key never reaches the database.
    verdict = rate_limit_hit(key=key)
    if not verdict.allowed:
        response = json_response({"error": TOO_MANY_REQUESTS}, status=429)
        response["Retry-After"] = str(verdict.retry_after)
        return response
    customer = customer_by_api_key(key)
    if customer is None:
        return json_response({"error": INVALID_API_KEY})
    handler = ACTIONS.get(params.get("action", "").strip().lower())
    if handler is None:
        return json_response({"error": INCORRECT_REQUEST})
    try:
        answer = handler(customer, params)
    except IncorrectRequest:
        answer = {"error": INCORRECT_REQUEST}
    except Exception:
        # A fault of ours, not a refusal: HTTP 500 tells a v2 client the outcome is unknown (an `add`
        # must not be blindly resent), while the body stays JSON.
        logger.exception("API action %r failed", params.get("action"))
        return json_response({"error": INTERNAL_ERROR}, status=500)
    return json_response(answer)


def bench_floor(request: HttpRequest) -> HttpResponse:
    """The cheapest JSON answer the stack can give: the yardstick the benchmark divides by."""
    return json_response({"status": "ok"})
