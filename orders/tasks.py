"""Thin Celery tasks over orders.pipeline. Each takes ids and is safe to run twice.

Queues: "send" for anything that may call `add`, "poll" for the rest (panel/settings.py routes them),
so a slow upstream's polling never delays sending.
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from orders import add_requests, failover
from orders.pipeline import poll, requests, send, send_drain, settle, unknown_policy
from providers import health

# Per-provider jobs that beat fans out (one task per ready provider, so providers are polled in parallel
# and one provider's orders by one task at a time in the normal course).
PROVIDER_JOBS = ("orders_poll", "refills_send", "refills_poll", "cancels_send", "cancels_poll", "balance_check")


# Limits: a send task drains its provider for at most DRAIN_SECONDS (60 s), then its last calls end within
# the provider's timeout (30 s by default, a hard deadline); a provider's poll walks all its active orders
# in batches, each committed on its own, so a poll cut short loses nothing.
SEND_LIMITS = {"soft_time_limit": 240, "time_limit": 300}
POLL_LIMITS = {"soft_time_limit": 900, "time_limit": 960}


@shared_task(acks_late=False, **SEND_LIMITS)  # early ack on purpose: upstream `add` is not idempotent
def order_send_task(order_id: int) -> str:
    """Send the order, and the rest of its provider's due orders at the provider's capacity."""
    return send_drain.order_send_and_drain(order_id=order_id)


@shared_task(**POLL_LIMITS)
def orders_send_sweep_task() -> dict:
    """Stale "sending" claims -> unknown; paid orders their provider cannot take -> an alternate; due paid
    orders nobody took (retries, lost messages) -> queued."""
    stale = send.orders_sweep_stale_sending()
    failover.orders_fail_over_waiting()  # each moved order is queued as it commits (and logged)
    # The sweeper leaves fresh orders to the task enqueued at creation, so one order is not queued twice.
    due = send.orders_due_for_sending(grace_seconds=settings.PIPELINE_SEND_GRACE_SECONDS, limit=5000)
    for order_id in due:
        order_send_task.delay(order_id)
    return {"stale_to_unknown": stale, "queued": len(due)}


@shared_task(acks_late=True, **POLL_LIMITS)
def provider_orders_poll_task(provider_id: int) -> dict:
    summary = poll.provider_poll(provider_id=provider_id)
    return {"batches": summary.batches, "orders": summary.orders, "final": summary.final}


@shared_task(acks_late=False, **POLL_LIMITS)  # early ack: a refill or cancel upstream is not idempotent
def provider_refills_send_task(provider_id: int) -> int:
    return requests.refills_send(provider_id=provider_id).sent


@shared_task(acks_late=True, **POLL_LIMITS)
def provider_refills_poll_task(provider_id: int) -> int:
    return requests.refills_poll(provider_id=provider_id).updated


@shared_task(acks_late=False, **POLL_LIMITS)  # early ack: a refill or cancel upstream is not idempotent
def provider_cancels_send_task(provider_id: int) -> int:
    return requests.cancels_send(provider_id=provider_id).sent


@shared_task(acks_late=True, **POLL_LIMITS)
def provider_cancels_poll_task(provider_id: int) -> int:
    return requests.cancels_poll(provider_id=provider_id).updated


@shared_task(acks_late=True, **POLL_LIMITS)
def provider_balance_check_task(provider_id: int) -> str | None:
    balance = health.provider_balance_check(provider_id=provider_id)
    return str(balance.amount) if balance else None


@shared_task(acks_late=True, **POLL_LIMITS)
def orders_settle_pending_task() -> int:
    return settle.orders_settle_pending()


@shared_task(acks_late=True, **POLL_LIMITS)  # idempotent: a refunded order is never picked again
def orders_unknown_policy_task() -> dict:
    run = unknown_policy.orders_apply_unknown_policy()
    return {"refunded": run.refunded, "by_provider": run.by_provider}


@shared_task(acks_late=True)  # idempotent: deletes what is past the window, whenever it runs
def add_requests_purge_task() -> int:
    """Forget `add` request ids older than their 7-day window (the orders stay)."""
    return add_requests.add_requests_purge()


_JOB_TASKS = {
    "orders_poll": provider_orders_poll_task,
    "refills_send": provider_refills_send_task,
    "refills_poll": provider_refills_poll_task,
    "cancels_send": provider_cancels_send_task,
    "cancels_poll": provider_cancels_poll_task,
    "balance_check": provider_balance_check_task,
}


@shared_task
def providers_dispatch_task(job: str) -> int:
    """Beat's entry point: queue `job` once per ready provider."""
    task = _JOB_TASKS[job]
    ids = list(health.providers_ready().values_list("id", flat=True))
    for provider_id in ids:
        task.delay(provider_id)
    return len(ids)
