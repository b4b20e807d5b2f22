"""The pipeline's batch size and send back-off; the other PIPELINE_* settings are read where they are used."""

from __future__ import annotations

from django.conf import settings

# The protocol's limit for orders=/refills=/cancels=: one upstream request per 100 ids.
BATCH_SIZE = 100


def send_backoff_seconds(attempt: int) -> int:
    """Wait before the next try after `attempt` Unavailable answers: doubles each time, capped."""
    base = settings.PIPELINE_SEND_BACKOFF_SECONDS
    cap = settings.PIPELINE_SEND_BACKOFF_MAX_SECONDS
    return min(cap, base * 2 ** max(0, attempt - 1))
