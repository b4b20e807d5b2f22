"""/api/v2 before and after its view: the fast path, and JSON for every answer.

The fast path. Resellers poll /api/v2 many times a second; the browser's middleware (sessions, sign-in,
second factor, messages, CSRF, locale, the customer's time zone, static files) has nothing to do there: the
API authenticates by key, sets no cookie and speaks English. `ApiMiddleware`, first in MIDDLEWARE, hands
the API's paths to a short chain of its own instead — the host check of ALLOWED_HOSTS, the security
headers (HTTPS redirect, HSTS, nosniff, referrer and opener policies, CSP, frame options), then the view
— and every other path to the full stack.

JSON errors. Some refusals happen before the view: a Host header that is not in ALLOWED_HOSTS (400), an
exception in a middleware (500). Django answers those with an HTML page; any such answer on /api/v2
becomes {"error": ...} with the same status.
"""

from __future__ import annotations

from collections.abc import Callable

from csp.utils import build_policy
from django.conf import settings
from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.module_loading import import_string

from panel.api.actions import INCORRECT_REQUEST
from panel.api.views import INTERNAL_ERROR, REQUEST_TOO_LARGE, TOO_MANY_REQUESTS, api_v2, bench_floor, json_response

API_PATHS = ("/api/v2", "/api/v2/")
# The benchmark's trivial view served through the same short chain (PANEL_BENCH_FLOOR): the fast path's floor.
BENCH_FLOOR_FAST_PATH = "/api/bench-floor-fast"

# What the API keeps of settings.MIDDLEWARE, outermost first; the rest is the browser's. The headers of
# ContentSecurityPolicyMiddleware and XFrameOptionsMiddleware are set by `_fixed_headers` instead.
FAST_PATH_MIDDLEWARE = ("django.middleware.security.SecurityMiddleware",)

View = Callable[[HttpRequest], HttpResponse]


def _error_for(status: int) -> str:
    if status >= 500:
        return INTERNAL_ERROR
    return {413: REQUEST_TOO_LARGE, 429: TOO_MANY_REQUESTS}.get(status, INCORRECT_REQUEST)


def _fast_views() -> dict[str, View]:
    views: dict[str, View] = dict.fromkeys(API_PATHS, api_v2)
    if settings.PANEL_BENCH_FLOOR:
        views[BENCH_FLOOR_FAST_PATH] = bench_floor
    return views


def _fixed_headers() -> dict[str, str]:
    """The CSP and frame headers the full stack puts on an answer of the API, computed once.

    django-csp builds its header per answer because a page may carry a nonce or a policy of its own; an
    API answer carries neither, so its header is the settings' policy every time.
    """
    headers = {"X-Frame-Options": settings.X_FRAME_OPTIONS.upper()}
    for name, report_only in (("Content-Security-Policy", False), ("Content-Security-Policy-Report-Only", True)):
        policy = build_policy(report_only=report_only)
        if policy:
            headers[name] = policy
    return headers


def _fast_chain(views: dict[str, View]) -> View:
    fixed_headers = _fixed_headers()

    def endpoint(request: HttpRequest) -> HttpResponse:
        # CommonMiddleware's host check, which the full stack makes on every request: DisallowedHost is
        # answered 400 (then JSON, below) before the view reads anything.
        request.get_host()
        # The thread may have served a page in another language; the API's answers are English.
        translation.deactivate()
        response = views[request.path_info](request)
        # What CommonMiddleware adds: keep-alive clients need the length rather than a closed connection.
        if not response.streaming and not response.has_header("Content-Length"):
            response.headers["Content-Length"] = str(len(response.content))
        return response

    answer = convert_exception_to_response(endpoint)

    def with_headers(request: HttpRequest) -> HttpResponse:
        response = answer(request)
        for name, value in fixed_headers.items():
            response.headers.setdefault(name, value)
        return response

    chain: View = with_headers
    for path in reversed(FAST_PATH_MIDDLEWARE):
        chain = convert_exception_to_response(import_string(path)(chain))
    return chain


class ApiMiddleware:
    def __init__(self, get_response: View) -> None:
        self.get_response = get_response
        self.fast_views = _fast_views()
        self.fast = _fast_chain(self.fast_views)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        response = self.fast(request) if path in self.fast_views else self.get_response(request)
        if (response.status_code >= 400 and path in API_PATHS
                and not response.get("Content-Type", "").startswith("application/json")):
            replacement = json_response({"error": _error_for(response.status_code)}, status=response.status_code)
            for name, value in response.items():  # Retry-After, and the security headers
                if name.lower() not in ("content-type", "content-length", "set-cookie"):
                    replacement.headers.setdefault(name, value)
            return replacement
        return response

