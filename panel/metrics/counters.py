"""Counters of /api/v2 requests, by action and by how each was answered.

Label values come from fixed sets, never from what a client sends: an action outside the protocol's is
counted as "other", so a client cannot make the series grow without end.
"""

from __future__ import annotations

from prometheus_client import Counter

from panel.api.actions import ACTIONS

API_REQUESTS = Counter(
    "smm_api_requests", "Requests to /api/v2 by action and answer.", ["action", "answer"],
)
# ok: answered; error: a refusal in the protocol's words ({"error": ...} with HTTP 200, e.g. funds);
# invalid_key, incorrect_request, rate_limited (429), too_large (413), internal_error (500).
ANSWERS = frozenset({"ok", "error", "invalid_key", "incorrect_request", "rate_limited", "too_large",
                     "internal_error"})


def count_api_request(*, action: str, answer: str, status: int) -> None:
    if not action:
        action = "none"
    elif action not in ACTIONS:
        action = "other"
    if answer not in ANSWERS:
        answer = "internal_error" if status >= 500 else "error"
    API_REQUESTS.labels(action, answer).inc()
