"""Polling order statuses per provider, 100 ids per request, with a fixed number of queries per batch.

Claim: the batch's rows get `last_checked_at = now` under `select_for_update(skip_locked=True)` on
PostgreSQL, and a poller only picks rows not checked since it started, so concurrent pollers take
different rows. Apply: the batch is re-read under a row lock and only real changes are written, so
two pollers that still meet on a row (or one batch polled twice) change and settle it once.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from orders import lifecycle
from orders.models import Order, OrderStatusChange, Stage
from orders.pipeline import conf
from orders.pipeline.requests import cancels_send
from orders.pipeline.settle import is_subscription, orders_settle
from orders.subscriptions import subscription_charge_posts
from providers import health
from providers.bulk import bulk_update_rows
from providers.client import ItemError, OrderStatus, Rejected, Unavailable
from providers.models import Provider

logger = logging.getLogger(__name__)

_APPLIED_FIELDS = ["status", "upstream_status", "start_count", "remains", "runs_done", "posts_done", "child_orders",
                   "upstream_charge", "stage", "finished_at", "settled_at", "attention", "incorrect_id_count",
                   "updated_at"]


@dataclass
class PollSummary:
    batches: int = 0
    orders: int = 0
    changed: int = 0
    final: int = 0
    refunds: int = 0
    stopped: str = ""  # why polling this provider stopped early, if it did
    final_ids: list[int] = field(default_factory=list)
    out_of_funds: int = 0  # subscriptions whose customer could not pay the next post: cancels sent at once


def _claim_batch(*, provider_id: int, started: datetime, now: datetime, size: int) -> list[tuple[int, str]]:
    with transaction.atomic():
        qs = (Order.objects.filter(lifecycle.at_stage(Stage.SENT), provider_id=provider_id)
              .filter(Q(last_checked_at__isnull=True) | Q(last_checked_at__lt=started))
              .order_by(F("last_checked_at").asc(nulls_first=True), "id"))
        if settings.USES_POSTGRES:
            qs = qs.select_for_update(skip_locked=True)
        rows = list(qs.values_list("id", "upstream_id")[:size])
        if rows:
            Order.objects.filter(pk__in=[pk for pk, _ in rows]).update(last_checked_at=now)
    return rows


@dataclass
class Applied:
    changed: int = 0
    final_ids: list[int] = field(default_factory=list)
    # Unlimited subscriptions whose upstream post count moved on: each new post is charged.
    posts_advanced: dict[int, int] = field(default_factory=dict)


def orders_apply_statuses(*, results: Mapping[int, OrderStatus | ItemError], now: datetime | None = None) -> Applied:
    """Apply upstream answers keyed by our order id.

    Three queries whatever the batch size: a locked read, one bulk update, one bulk insert of history.
    """
    now = now or timezone.now()
    applied = Applied()
    if not results:
        return applied
    incorrect_id_polls = settings.PIPELINE_INCORRECT_ID_POLLS
    with transaction.atomic():
        orders = list(Order.objects.select_for_update().filter(lifecycle.at_stage(Stage.SENT), pk__in=list(results))
                      .only("id", "sub_max", "sub_posts", "posts_charged",
                            *[f for f in _APPLIED_FIELDS if f != "updated_at"]))
        changed: list[Order] = []
        history: list[OrderStatusChange] = []
        for order in orders:
            did_change, row = lifecycle.apply_upstream_status(order, results[order.pk], now=now,
                                                                incorrect_id_polls=incorrect_id_polls)
            # Compared with what was charged, not with the last poll: posts a dead worker left unpaid are
            # charged by the next poll.
            if is_subscription(order) and not order.sub_posts and (order.posts_done or 0) > order.posts_charged:
                applied.posts_advanced[order.pk] = order.posts_done
            if did_change:
                order.updated_at = now
                changed.append(order)
            if row is not None:
                history.append(row)
            if order.stage == Stage.FINAL:
                applied.final_ids.append(order.pk)
        if changed:
            bulk_update_rows(changed, _APPLIED_FIELDS)
        if history:
            OrderStatusChange.objects.bulk_create(history)
    applied.changed = len(changed)
    return applied


def provider_poll(*, provider_id: int, now: datetime | None = None, max_batches: int | None = None,
                  batch_size: int = conf.BATCH_SIZE) -> PollSummary:
    """Poll the provider's active orders, oldest-checked first, until each was checked once in this run."""
    started = now or timezone.now()
    summary = PollSummary()
    provider = Provider.objects.get(pk=provider_id)
    if not health.provider_is_ready(provider, now=started):
        summary.stopped = "provider not ready"
        return summary
    client = health.client_for(provider)
    batch_size = min(batch_size, conf.BATCH_SIZE)
    while max_batches is None or summary.batches < max_batches:
        batch_now = now or timezone.now()
        rows = _claim_batch(provider_id=provider_id, started=started, now=batch_now, size=batch_size)
        if not rows:
            break
        by_upstream: dict[str, list[int]] = {}
        for pk, upstream_id in rows:
            by_upstream.setdefault(upstream_id, []).append(pk)
        try:
            answers = client.statuses(list(by_upstream))
        except Unavailable as error:
            health.provider_record_unavailable(provider_id=provider_id, error=error, now=batch_now)
            summary.stopped = f"unavailable: {error.reason}"
            break
        except Rejected as error:
            health.provider_record_rejected(provider_id=provider_id, error=error)
            summary.stopped = f"rejected: {error.message}"
            break
        health.provider_record_ok(provider_id=provider_id)
        results = {pk: answers[upstream_id] for upstream_id, pks in by_upstream.items() if upstream_id in answers
                   for pk in pks}
        applied = orders_apply_statuses(results=results, now=batch_now)
        final_ids = applied.final_ids
        summary.batches += 1
        summary.orders += len(rows)
        summary.changed += applied.changed
        for order_id, posts_done in applied.posts_advanced.items():
            if subscription_charge_posts(order_id=order_id, posts_done=posts_done).out_of_funds:
                summary.out_of_funds += 1
        if final_ids:
            summary.refunds += orders_settle(order_ids=final_ids, now=batch_now)
        summary.final += len(final_ids)
        summary.final_ids.extend(final_ids)
    if summary.out_of_funds and not summary.stopped:
        # Every post the upstream delivers from now on is one nobody pays for: the cancel goes out in this
        # run, not whenever the cancel job next comes round.
        cancels_send(provider_id=provider_id, now=now)
    return summary
