"""Polling order statuses per provider: 100 ids per request, a few requests in flight, a fixed number of
queries per database batch.

A run takes the provider's sent orders not checked since the run started, in database batches of several
100-id requests (`poll_rows.claim`: claimed and read in one statement, with SKIP LOCKED on PostgreSQL).
The batch's requests go out side by side, at most `Provider.poll_concurrency` at once, while the
previous batch is written: one compare-and-set UPDATE, its history in one INSERT, and the refunds of the
orders that ended in one settlement. So a batch goes out with fewer than 100 ids only at the end of a
run, and an order sent after the run started waits for the next run.

One run per provider at a time, across all workers (a lease): a second run started meanwhile (beat
ticking faster than a big provider's run) leaves at once instead of polling the same orders again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from orders import lifecycle
from orders.models import OrderStatusChange, Stage
from orders.pipeline import conf, poll_rows
from orders.pipeline.requests import cancels_send
from orders.pipeline.settle import is_subscription, orders_settle, orders_settle_rows  # noqa: F401 - re-exported
from orders.subscriptions import subscription_charge_posts
from providers import client_capacity, health
from providers.bulk import bulk_insert_values
from providers.client import ItemError, OrderStatus, Rejected, Unavailable
from providers.models import Provider

logger = logging.getLogger(__name__)

# Status requests per database batch: the larger, the fewer queries per order; the batch's rows stay
# claimed (checked) until its answers are written, so a run cut short re-polls at most this many.
REQUESTS_PER_CLAIM = 10
# The run's lease lasts this long and is renewed as batches go by: a poller that died frees its provider
# within this time.
POLL_LEASE_SECONDS = 120


_HISTORY_FIELDS = ("order", "status", "upstream_status", "start_count", "remains", "note", "at")


@dataclass
class PollSummary:
    batches: int = 0  # status requests (100 ids each at most)
    orders: int = 0
    changed: int = 0
    final: int = 0
    refunds: int = 0
    stopped: str = ""  # why polling this provider stopped early, if it did
    busy: bool = False  # another run was polling this provider: nothing done here
    final_ids: list[int] = field(default_factory=list)
    out_of_funds: int = 0  # subscriptions whose customer could not pay the next post: cancels sent at once


@dataclass
class Applied:
    changed: int = 0
    final_ids: list[int] = field(default_factory=list)
    # Unlimited subscriptions whose upstream post count moved on: each new post is charged.
    posts_advanced: dict[int, int] = field(default_factory=dict)
    final_rows: list = field(default_factory=list)


def _apply(rows: list, results: Mapping[int, OrderStatus | ItemError], now: datetime) -> Applied:
    """Write a batch's answers: one compare-and-set UPDATE and one INSERT of history, in one transaction."""
    applied = Applied()
    rows = [row for row in rows if row.pk in results]
    if not rows:
        return applied
    with transaction.atomic():
        written, history = lifecycle.apply_upstream_statuses(
            rows, results, now=now, incorrect_id_polls=settings.PIPELINE_INCORRECT_ID_POLLS)
        bulk_insert_values(OrderStatusChange, fields=_HISTORY_FIELDS,
                           rows=[[h.order_id, h.status, h.upstream_status, h.start_count, h.remains, h.note, now]
                                 for h in history])
    for row in rows:
        # Compared with what was charged, not with the last poll: posts a dead worker left unpaid are
        # charged by the next poll.
        if is_subscription(row) and not row.sub_posts and (row.posts_done or 0) > row.posts_charged:
            applied.posts_advanced[row.pk] = row.posts_done
    applied.changed = len(written)
    applied.final_rows = [row for row in written if row.stage == Stage.FINAL]
    applied.final_ids = [row.pk for row in applied.final_rows]
    return applied


def orders_apply_statuses(*, results: Mapping[int, OrderStatus | ItemError], now: datetime | None = None) -> Applied:
    """Apply upstream answers keyed by our order id: three queries whatever the batch size (a read, one
    compare-and-set UPDATE, one INSERT of history). Only orders this call moved are in `final_ids`."""
    if not results:
        return Applied()
    return _apply(poll_rows.read(results), results, now or timezone.now())


@dataclass
class _Batch:
    rows: list
    by_upstream: dict[str, list[int]]
    requests: list[Future]
    now: datetime


def _send_batch(pool: ThreadPoolExecutor, client, rows: list, now: datetime) -> _Batch:
    by_upstream: dict[str, list[int]] = {}
    for row in rows:
        by_upstream.setdefault(row.upstream_id, []).append(row.pk)
    upstream_ids = list(by_upstream)
    chunks = [upstream_ids[i:i + conf.BATCH_SIZE] for i in range(0, len(upstream_ids), conf.BATCH_SIZE)]
    return _Batch(rows=rows, by_upstream=by_upstream, requests=[pool.submit(client.statuses, c) for c in chunks],
                  now=now)


def _finish_batch(batch: _Batch, *, provider_id: int, summary: PollSummary, healthy: list[bool]) -> None:
    """Wait for a batch's answers and write those that came; a failed request stops the run."""
    answers: dict = {}
    for request in batch.requests:
        try:
            answers.update(request.result())
        except Unavailable as error:
            if not summary.stopped:
                health.provider_record_unavailable(provider_id=provider_id, error=error, now=batch.now)
                summary.stopped = f"unavailable: {error.reason}"
            continue
        except Rejected as error:
            if not summary.stopped:
                health.provider_record_rejected(provider_id=provider_id, error=error)
                summary.stopped = f"rejected: {error.message}"
            continue
        summary.batches += 1
    if answers and not healthy[0]:
        health.provider_record_ok(provider_id=provider_id)  # once a run: it is a no-op when already healthy
        healthy[0] = True
    results = {pk: answers[upstream_id] for upstream_id, pks in batch.by_upstream.items() if upstream_id in answers
               for pk in pks}
    answered = [row for row in batch.rows if row.pk in results]
    applied = _apply(answered, results, batch.now)
    summary.orders += len(answered)
    summary.changed += applied.changed
    for order_id, posts_done in applied.posts_advanced.items():
        if subscription_charge_posts(order_id=order_id, posts_done=posts_done).out_of_funds:
            summary.out_of_funds += 1
    owed = [row for row in applied.final_rows if row.settled_at is None]
    if owed:
        summary.refunds += orders_settle_rows(rows=owed, now=batch.now)
    summary.final += len(applied.final_ids)
    summary.final_ids.extend(applied.final_ids)


def provider_poll(*, provider_id: int, now: datetime | None = None, max_batches: int | None = None,
                  batch_size: int = conf.BATCH_SIZE) -> PollSummary:
    """Poll the provider's sent orders, oldest-checked first, until each was checked once in this run."""
    started = now or timezone.now()
    summary = PollSummary()
    provider = Provider.objects.get(pk=provider_id)
    if not health.provider_is_ready(provider, now=started):
        summary.stopped = "provider not ready"
        return summary
    with client_capacity.lease(provider, "poll", limit=1, seconds=POLL_LEASE_SECONDS) as token:
        if token is None:
            summary.busy = True
            return summary
        _run(provider, token=token, started=started, now=now, max_batches=max_batches,
             batch_size=min(batch_size, conf.BATCH_SIZE), summary=summary)
    if summary.out_of_funds and not summary.stopped:
        # Every post the upstream delivers from now on is one nobody pays for: the cancel goes out in this
        # run, not whenever the cancel job next comes round.
        cancels_send(provider_id=provider_id, now=now)
    return summary


def _run(provider: Provider, *, token: str, started: datetime, now: datetime | None, max_batches: int | None,
         batch_size: int, summary: PollSummary) -> None:
    client = health.client_for(provider)
    in_flight = max(1, provider.poll_concurrency)
    claim_size = batch_size * max(in_flight, REQUESTS_PER_CLAIM)
    healthy = [not (provider.consecutive_failures or provider.circuit_open_until)]
    renewed = time.monotonic()
    requested = 0
    pending: _Batch | None = None
    with ThreadPoolExecutor(max_workers=in_flight, thread_name_prefix=f"poll-{provider.pk}") as pool:
        try:
            while not summary.stopped:
                size = claim_size if max_batches is None else min(claim_size, (max_batches - requested) * batch_size)
                rows = []
                if size > 0:
                    batch_now = now or timezone.now()
                    rows = poll_rows.claim(provider_id=provider.pk, started=started, now=batch_now, size=size)
                # The next batch's requests are on their way while the previous batch is written.
                following = _send_batch(pool, client, rows, batch_now) if rows else None
                if following is not None:
                    requested += len(following.requests)
                if pending is not None:
                    _finish_batch(pending, provider_id=provider.pk, summary=summary, healthy=healthy)
                pending = following
                if pending is None or len(rows) < size:
                    break  # a short claim took the last due orders: no need to ask again
                if time.monotonic() - renewed > POLL_LEASE_SECONDS / 3:
                    client_capacity.backend().renew(provider, "poll", seconds=POLL_LEASE_SECONDS, token=token)
                    renewed = time.monotonic()
            if pending is not None:
                _finish_batch(pending, provider_id=provider.pk, summary=summary, healthy=healthy)
        finally:
            for request in pending.requests if pending is not None else ():
                request.cancel()
