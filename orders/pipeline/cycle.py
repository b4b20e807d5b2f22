"""One whole pipeline cycle, synchronously: what `run_pipeline --once` and the tests run."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime

from django.db import close_old_connections
from django.utils import timezone

from orders import failover
from orders.pipeline import poll, requests, send, send_drain, settle
from providers import health

logger = logging.getLogger(__name__)


def orders_send_due(*, now: datetime | None = None, threads: int = 1) -> Counter:
    """Send every due paid order; returns a count per outcome. Threads only where rows are committed:
    then each provider is drained in turn, up to `threads` calls at once (and never past its own cap)."""
    if threads <= 1:
        return Counter(send.order_send(order_id=pk, now=now) for pk in send.orders_due_for_sending(now=now))
    close_old_connections()
    outcomes: Counter = Counter()
    for provider in health.providers_ready(now=now).filter(orders__in=send.orders_due_for_sending(now=now)) \
            .distinct():
        outcomes.update(send_drain.provider_send_due(provider_id=provider.pk, now=now,
                                                     threads=min(threads, provider.send_concurrency),
                                                     seconds=float("inf")))
    return outcomes


def pipeline_cycle(*, now: datetime | None = None, send_threads: int = 1, check_balance: bool = True) -> dict:
    """Sweep stale claims, move paid orders their provider cannot take to an alternate, send all due orders,
    then per ready provider: poll orders, send and poll refills and cancels, check the upstream balance;
    finally settle anything left unsettled."""
    summary: dict[str, object] = {"stale_to_unknown": send.orders_sweep_stale_sending(now=now)}
    summary["failed_over"] = failover.orders_fail_over_waiting(now=now)
    sent = orders_send_due(now=now, threads=send_threads)
    summary["send"] = dict(sent)
    providers: dict[str, dict] = {}
    for provider in health.providers_ready(now=now):
        result: dict[str, object] = {}
        polled = poll.provider_poll(provider_id=provider.pk, now=now)
        result["poll"] = {"batches": polled.batches, "orders": polled.orders, "changed": polled.changed,
                          "final": polled.final, "refunds": polled.refunds}
        if polled.stopped:
            result["stopped"] = polled.stopped
            providers[provider.name] = result
            continue
        for name, step in (("refills_send", requests.refills_send), ("refills_poll", requests.refills_poll),
                           ("cancels_send", requests.cancels_send), ("cancels_poll", requests.cancels_poll)):
            step_summary = step(provider_id=provider.pk, now=now)
            result[name] = {"batches": step_summary.batches, "sent": step_summary.sent,
                            "refused": step_summary.refused, "updated": step_summary.updated,
                            "final": step_summary.final}
            if step_summary.stopped:
                result["stopped"] = step_summary.stopped
                break
        if check_balance and "stopped" not in result:
            balance = health.provider_balance_check(provider_id=provider.pk, now=now or timezone.now())
            result["balance"] = str(balance.amount) if balance else None
        providers[provider.name] = result
    summary["providers"] = providers
    summary["settled_late"] = settle.orders_settle_pending(now=now)
    return summary
