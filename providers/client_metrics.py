"""What the upstream client counts: each call's latency and outcome, by provider and action.

providers.client records every call here (one line in ProviderClient._call); panel.metrics shows them.
The provider label is its name (one series per provider), the action one of the protocol's.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from providers.client_types import Rejected, Unavailable, UnknownOutcome

UPSTREAM_SECONDS = Histogram(
    "smm_upstream_request_seconds", "Latency of calls to upstream panels.", ["provider", "action"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
UPSTREAM_REQUESTS = Counter(
    "smm_upstream_requests", "Calls to upstream panels by outcome: ok, rejected (a definite error), "
    "unavailable (nothing definite: refused, 5xx, HTML, 429), unknown (an `add` sent without an answer).",
    ["provider", "action", "outcome"],
)


def outcome_of(error: BaseException | None) -> str:
    if error is None:
        return "ok"
    if isinstance(error, Rejected):
        return "rejected"
    if isinstance(error, UnknownOutcome):
        return "unknown"
    if isinstance(error, Unavailable):
        return "unavailable"
    return "error"


def observe_upstream_call(*, provider: str, action: str, seconds: float, error: BaseException | None) -> None:
    UPSTREAM_SECONDS.labels(provider, action).observe(seconds)
    UPSTREAM_REQUESTS.labels(provider, action, outcome_of(error)).inc()
