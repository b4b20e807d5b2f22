"""Refill and cancel requests: sent upstream in batches of up to 100 order ids, then polled in batches."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from notify import events as notify_events
from orders.models import CancelRequest, Refill, RequestStage, RequestStatus, UpstreamRequest
from orders.pipeline import conf
from orders.pipeline.settle import cancels_close_for_final_orders
from providers import health
from providers.bulk import bulk_update_rows
from providers.client import CancelAccepted, ItemError, ProviderClient, Rejected, Unavailable
from providers.client import RequestStatus as UpstreamRequestStatus
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
    with transaction.atomic():
        qs = _open_requests(model, provider_id=provider_id, stage=stage, started=started)
        if extra is not None:
            qs = qs.filter(extra)
        if settings.USES_POSTGRES:
            qs = qs.select_for_update(skip_locked=True, of=("self",))
        rows = list(qs.select_related("order").only("id", "upstream_id", "status", "stage", "error", "updated_at",
                                                  "order__upstream_id", "order__customer_id")
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


@dataclass(frozen=True)
class _Kind:
    """What differs between refills and cancels: the model, the client calls, and how `send` answers."""

    model: type[UpstreamRequest]
    send: Callable[[ProviderClient, list[str]], Mapping]
    poll: Callable[[ProviderClient, list[str]], Mapping]
    # The provider's id of the new request, or None when this answer refused it.
    accepted: Callable[[object], str | None]
    # Only these are sent (cancels: the order has an upstream id) or polled (cancels: the cancel has an id).
    send_only: Q | None = None
    poll_only: Q | None = None
    # Told about the requests of a batch that just turned Rejected (refills: the customer is mailed).
    on_rejected: Callable[[list], object] | None = None


def _refill_accepted(answer: object) -> str | None:
    return answer[:64] if isinstance(answer, str) and answer else None


def _cancel_accepted(answer: object) -> str | None:
    return (answer.cancel_id or "")[:64] if isinstance(answer, CancelAccepted) else None


REFILLS = _Kind(model=Refill, send=lambda client, ids: client.refills(ids),
                poll=lambda client, ids: client.refill_statuses(ids), accepted=_refill_accepted,
                on_rejected=notify_events.refills_rejected)
CANCELS = _Kind(model=CancelRequest, send=lambda client, ids: client.cancel(ids),
                poll=lambda client, ids: client.cancel_statuses(ids), accepted=_cancel_accepted,
                send_only=~Q(order__upstream_id=""), poll_only=~Q(upstream_id=""))


def _send(kind: _Kind, *, provider_id: int, now: datetime | None) -> RequestSummary:
    """Send the provider's requested refills (or cancels), up to 100 orders per upstream call."""
    started = now or timezone.now()
    summary = RequestSummary()
    client = health.client_for(Provider.objects.get(pk=provider_id))
    while True:
        batch_now = now or timezone.now()
        rows = _claim(kind.model, provider_id=provider_id, stage=RequestStage.REQUESTED, started=started,
                      now=batch_now, extra=kind.send_only)
        if not rows:
            break
        answers = _call(provider_id, summary, lambda rows=rows: kind.send(client, [r.order.upstream_id for r in rows]),
                        batch_now)
        if answers is None:
            break
        summary.batches += 1
        for request in rows:
            answer = answers.get(request.order.upstream_id)
            upstream_id = kind.accepted(answer)
            if upstream_id is not None:
                request.stage, request.upstream_id = RequestStage.SENT, upstream_id
                summary.sent += 1
            else:
                message = answer.message if isinstance(answer, ItemError) else "No answer for this order"
                request.stage, request.status, request.error = (RequestStage.FAILED, RequestStatus.REJECTED,
                                                                message[:500])
                summary.refused += 1
            request.updated_at = batch_now
        bulk_update_rows(rows, ["upstream_id", "stage", "status", "error", "updated_at"])
        if kind.on_rejected is not None:
            kind.on_rejected([r for r in rows if r.status == RequestStatus.REJECTED])
    return summary


def _apply_request_statuses(rows, answers: Mapping[str, UpstreamRequestStatus | ItemError], summary, now) -> None:
    changed = []
    for request in rows:
        answer = answers.get(request.upstream_id)
        if isinstance(answer, UpstreamRequestStatus) and answer.status is not None:
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
        bulk_update_rows(changed, ["status", "stage", "error", "updated_at"])
    summary.updated += len(changed)


def _poll(kind: _Kind, *, provider_id: int, now: datetime | None) -> RequestSummary:
    """Poll the provider's sent refills (or cancels), 100 request ids per upstream call."""
    started = now or timezone.now()
    summary = RequestSummary()
    client = health.client_for(Provider.objects.get(pk=provider_id))
    while True:
        batch_now = now or timezone.now()
        rows = _claim(kind.model, provider_id=provider_id, stage=RequestStage.SENT, started=started, now=batch_now,
                      extra=kind.poll_only)
        if not rows:
            break
        answers = _call(provider_id, summary, lambda rows=rows: kind.poll(client, [r.upstream_id for r in rows]),
                        batch_now)
        if answers is None:
            break
        summary.batches += 1
        _apply_request_statuses(rows, answers, summary, batch_now)
        if kind.on_rejected is not None:
            kind.on_rejected([r for r in rows if r.stage == RequestStage.FINAL and r.status == RequestStatus.REJECTED])
    return summary


def refills_send(*, provider_id: int, now: datetime | None = None) -> RequestSummary:
    return _send(REFILLS, provider_id=provider_id, now=now)


def refills_poll(*, provider_id: int, now: datetime | None = None) -> RequestSummary:
    return _poll(REFILLS, provider_id=provider_id, now=now)


def cancels_send(*, provider_id: int, now: datetime | None = None) -> RequestSummary:
    """Cancels of orders already upstream; one still unsent is canceled by orders.services directly."""
    return _send(CANCELS, provider_id=provider_id, now=now)


def cancels_poll(*, provider_id: int, now: datetime | None = None) -> RequestSummary:
    """Poll sent cancels that have an upstream cancel id; close those whose order has become final.

    The refund itself always follows the order's own status (Canceled or Partial) from order polling.
    """
    closed = cancels_close_for_final_orders(now=now or timezone.now())
    summary = _poll(CANCELS, provider_id=provider_id, now=now)
    summary.final += closed
    return summary
