"""The pipeline's tunables, each overridable from settings (names PIPELINE_*)."""

from __future__ import annotations

from django.conf import settings

# The protocol's limit for orders=/refills=/cancels=: one upstream request per 100 ids.
BATCH_SIZE = 100


def _get(name: str, default):
    return getattr(settings, name, default)


def send_backoff_seconds(attempt: int) -> int:
    """Wait before the next try after `attempt` Unavailable answers: doubles each time, capped."""
    base = int(_get("PIPELINE_SEND_BACKOFF_SECONDS", 30))
    cap = int(_get("PIPELINE_SEND_BACKOFF_MAX_SECONDS", 3600))
    return min(cap, base * 2 ** max(0, attempt - 1))


def low_balance_hold_seconds() -> int:
    return int(_get("PIPELINE_LOW_BALANCE_HOLD_SECONDS", 600))


def sending_stale_seconds() -> int:
    # Longer than any add call can take (the client's timeout and the task's hard time limit), so a
    # claim this old means the worker died between the call and saving its answer.
    return int(_get("PIPELINE_SENDING_STALE_SECONDS", 600))


def incorrect_id_polls() -> int:
    return int(_get("PIPELINE_INCORRECT_ID_POLLS", 3))


def circuit_failures() -> int:
    return int(_get("PIPELINE_CIRCUIT_FAILURES", 5))


def circuit_cooldown_seconds() -> int:
    return int(_get("PIPELINE_CIRCUIT_COOLDOWN_SECONDS", 120))


def send_grace_seconds() -> int:
    # The sweeper leaves fresh orders to the task enqueued at creation, so one order is not queued twice.
    return int(_get("PIPELINE_SEND_GRACE_SECONDS", 30))
