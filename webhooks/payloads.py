"""The JSON each webhook carries: an order's status in the shape of the v2 `status` answer, plus the event."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

from django.conf import settings

from accounts.money import quantize
from orders.lifecycle import units_ordered
from orders.models import Status
from panel.api.parsing import plain_decimal


def _time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _body(payload: dict) -> str:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def order_event_body(*, event_id: str, kind: str, at: datetime, order_id: int, status: str,
                     start_count: int | None, remains: int | None, charge: Decimal, refunded: Decimal,
                     quantity: int, runs: int | None) -> str:
    """As `status` answers it: `charge` is what the order costs after refunds; `remains` before the provider
    reports it is the whole order (nothing once Completed); `start_count` is "0" until reported."""
    if remains is None:
        remains = 0 if status == Status.COMPLETED else units_ordered(quantity=quantity, runs=runs)
    return _body({
        "event": kind,
        "event_id": event_id,
        "created": _time(at),
        "order": order_id,
        "status": status,
        "charge": plain_decimal(quantize(charge - refunded)),
        "start_count": str(start_count or 0),
        "remains": str(remains),
        "currency": settings.PANEL_CURRENCY,
    })


def sample_event_body(*, event_id: str, kind: str, at: datetime) -> str:
    """A test event: the same envelope with a made-up order, so a receiver can exercise its whole path."""
    return _body({
        "event": kind,
        "event_id": event_id,
        "created": _time(at),
        "order": 0,
        "status": Status.COMPLETED.value,
        "charge": "0.00",
        "start_count": "0",
        "remains": "0",
        "currency": settings.PANEL_CURRENCY,
    })
