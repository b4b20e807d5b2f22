"""Refill and cancel requests: sent upstream in batches of up to 100 order ids, then polled in batches."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from orders.models import CancelRequest, Refill, RequestStage
from orders.pipeline import conf, health
from orders.pipeline.settle import cancels_close_for_final_orders
from providers.client import CancelAccepted, ItemError, Rejected, RequestStatus, Unavailable
from providers.models import Provider

_FINAL_REQUEST_STATUSES = ("Completed", "Rejected")


@dataclass
class RequestSummary:
    batches: int = 0
    sent: int = 0
    refused: int = 0
    updated: int = 0
    final: int = 0
    stopped: str = ""


def _open_requests(model, *, provider_id: int, stage: str, started: datetime):
    return (model.objects.filter(order__provider_id=provider_id, stage=stage)
            .filter(Q(last_checked_at__isnull=True) | Q(last_checked_at__lt=started))
            .order_by(F("last_checked_at").asc(nulls_first=True), "id"))


def _claim(model, *, provider_id: int, stage: str, started: datetime, now: datetime, extra: Q | None = None):
    """The next batch of requests at `stage`, marked checked so concurrent runs take other rows."""
    from django.conf import settings

    with transaction.atomic():
        qs = _open_requests(model, provider_id=provider_id, stage=stage, started=started)
        if extra is not None:
            qs = qs.filter(extra)
        if settings.USES_POSTGRES:
            qs = qs.select_for_update(skip_locked=True, of=("self",))
        rows = list(qs.select_related("order").only("id", "upstream_id", "status", "stage", "order__upstream_id")
                    [:conf.BATCH_SIZE])
        if rows:
            model.objects.filter(pk__in=[r.pk for r in rows]).update(last_checked_at=now)
    return rows


def _call(provider_id: int, summary: RequestSummary, call: Callable[[], Mapping], now: datetime):
    try:
        answers = call()
    except Unavailable as error:
        health.provider_record_unavailable(provider_id=provider_id, error=error, now=now)
        summary.stopped = f"unavailable: {error.reason}"
        return None
    except Rejected as error:
        health.provider_record_rejected(provider_id=provider_id, error=error)
        summary.stopped = f"rejected: {error.message}"
        return None
    health.provider_record_ok(provider_id=provider_id)
    return answers


def refills_send(*, provider_id: int, now: datetime | None = None) -> RequestSummary:
    """Send requested refills of one provider, up to 100 orders per `refill` call."""
    started = now or timezone.now()
    summary = RequestSummary()
    provider = Provider.objects.get(pk=provider_id)
    client = health.client_for(provider)
    while True:
        batch_now = now or timezone.now()
        rows = _claim(Refill, provider_id=provider_id, stage=RequestStage.REQUESTED, started=started, now=batch_now)
        if not rows:
            break
        answers = _call(provider_id, summary, lambda rows=rows: client.refills([r.order.upstream_id for r in rows]),
                        batch_now)
        if answers is None:
            break
        summary.batches += 1
        for refill in rows:
            answer = answers.get(refill.order.upstream_id)
            if isinstance(answer, str) and answer:
                refill.upstream_id, refill.stage = answer[:64], RequestStage.SENT
                summary.sent += 1
            else:
                message = answer.message if isinstance(answer, ItemError) else "No answer for this order"
                refill.stage, refill.status, refill.error = RequestStage.FAILED, Refill.Status.REJECTED, message[:500]
                summary.refused += 1
            refill.updated_at = batch_now
        Refill.objects.bulk_update(rows, ["upstream_id", "stage", "status", "error", "updated_at"])
    return summary


def _apply_request_statuses(model, rows, answers: Mapping[str, RequestStatus | ItemError], summary, now) -> None:
    changed = []
    for request in rows:
        answer = answers.get(request.upstream_id)
        if isinstance(answer, RequestStatus) and answer.status is not None:
            if request.status != answer.status:
                request.status = answer.status
                changed.append(request)
            if answer.status in _FINAL_REQUEST_STATUSES:
                request.stage = RequestStage.FINAL
                summary.final += 1
                if request not in changed:
                    changed.append(request)
        elif answer is not None:
            message = answer.message if isinstance(answer, ItemError) else f"Unknown status word {answer.raw_status!r}"
            if request.error != message[:500]:
                request.error = message[:500]
                changed.append(request)
    for request in changed:
        request.updated_at = now
    if changed:
        model.objects.bulk_update(changed, ["status", "stage", "error", "updated_at"])
    summary.updated += len(changed)


def refills_poll(*, provider_id: int, now: datetime | None = None) -> RequestSummary:
    """Poll sent refills of one provider, 100 refill ids per request."""
    started = now or timezone.now()
    summary = RequestSummary()
    client = health.client_for(Provider.objects.get(pk=provider_id))
    while True:
        batch_now = now or timezone.now()
        rows = _claim(Refill, provider_id=provider_id, stage=RequestStage.SENT, started=started, now=batch_now)
        if not rows:
            break
        answers = _call(provider_id, summary, lambda rows=rows: client.refill_statuses([r.upstream_id for r in rows]),
                        batch_now)
        if answers is None:
            break
        summary.batches += 1
        _apply_request_statuses(Refill, rows, answers, summary, batch_now)
    return summary


def cancels_send(*, provider_id: int, now: datetime | None = None) -> RequestSummary:
    """Send requested cancels of one provider (orders already upstream), up to 100 per `cancel` call."""
    started = now or timezone.now()
    summary = RequestSummary()
    client = health.client_for(Provider.objects.get(pk=provider_id))
    while True:
        batch_now = now or timezone.now()
        rows = _claim(CancelRequest, provider_id=provider_id, stage=RequestStage.REQUESTED, started=started,
                      now=batch_now, extra=~Q(order__upstream_id=""))
        if not rows:
            break
        answers = _call(provider_id, summary, lambda rows=rows: client.cancel([c.order.upstream_id for c in rows]),
                        batch_now)
        if answers is None:
            break
        summary.batches += 1
        for cancel in rows:
            answer = answers.get(cancel.order.upstream_id)
            if isinstance(answer, CancelAccepted):
                cancel.stage = RequestStage.SENT
                cancel.upstream_id = (answer.cancel_id or "")[:64]
                summary.sent += 1
            else:
                message = answer.message if isinstance(answer, ItemError) else "No answer for this order"
                cancel.stage, cancel.status, cancel.error = (RequestStage.FAILED, CancelRequest.Status.REJECTED,
                                                             message[:500])
                summary.refused += 1
            cancel.updated_at = batch_now
        CancelRequest.objects.bulk_update(rows, ["upstream_id", "stage", "status", "error", "updated_at"])
    return summary


def cancels_poll(*, provider_id: int, now: datetime | None = None) -> RequestSummary:
    """Poll sent cancels that have an upstream cancel id; close those whose order has become final.

    The refund itself always follows the order's own status (Canceled or Partial) from order polling.
    """
    started = now or timezone.now()
    summary = RequestSummary()
    summary.final += cancels_close_for_final_orders(now=started)
    client = health.client_for(Provider.objects.get(pk=provider_id))
    while True:
        batch_now = now or timezone.now()
        rows = _claim(CancelRequest, provider_id=provider_id, stage=RequestStage.SENT, started=started,
                      now=batch_now, extra=~Q(upstream_id=""))
        if not rows:
            break
        answers = _call(provider_id, summary,
                        lambda rows=rows: client.cancel_statuses([c.upstream_id for c in rows]), batch_now)
        if answers is None:
            break
        summary.batches += 1
        _apply_request_statuses(CancelRequest, rows, answers, summary, batch_now)
    return summary
