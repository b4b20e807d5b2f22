"""JSON for /api/v2 even where the view never runs.

Some refusals happen before the view: a Host header that is not in ALLOWED_HOSTS (400), an exception in
a middleware (500). Django answers those with an HTML page; this middleware, first in MIDDLEWARE, turns
any such answer on /api/v2 into {"error": ...} with the same status.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from panel.api.actions import INCORRECT_REQUEST
from panel.api.views import INTERNAL_ERROR, REQUEST_TOO_LARGE, TOO_MANY_REQUESTS, json_response

API_PATHS = ("/api/v2", "/api/v2/")


def _error_for(status: int) -> str:
    if status >= 500:
        return INTERNAL_ERROR
    return {413: REQUEST_TOO_LARGE, 429: TOO_MANY_REQUESTS}.get(status, INCORRECT_REQUEST)


class ApiJsonErrorsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (response.status_code >= 400 and request.path_info in API_PATHS
                and not response.get("Content-Type", "").startswith("application/json")):
            replacement = json_response({"error": _error_for(response.status_code)}, status=response.status_code)
            if "Retry-After" in response:
                replacement["Retry-After"] = response["Retry-After"]
            return replacement
        return response
