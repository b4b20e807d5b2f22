"""Average time per service: the median time from placement to completion of its recent completed orders,
per 1000 units, worked out for every service at once by a periodic task and read by the pages.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from news.models import ServiceSpeed
from orders.models import Order, Status
from providers.ordertypes import ORDER_TYPES

# Below this many orders a median says more about one unlucky order than about the service.
MIN_SAMPLES = 3
_UNITS = (
    (24 * 3600, lambda n: ngettext("%(n)d day", "%(n)d days", n) % {"n": n}),
    (3600, lambda n: ngettext("%(n)d hour", "%(n)d hours", n) % {"n": n}),
    (60, lambda n: ngettext("%(n)d minute", "%(n)d minutes", n) % {"n": n}),
)


def _recent_completed(*, now: datetime) -> list[tuple[int, str, datetime, datetime, int, int | None]]:
    """(service id, service type, created_at, finished_at, quantity, runs) of each service's last completed
    orders within the window: one query, the per-service limit applied by a window function."""
    ranked = (
        Order.objects.filter(status=Status.COMPLETED, finished_at__isnull=False, quantity__gt=0,
                             finished_at__gte=now - timedelta(days=settings.SERVICE_SPEED_DAYS))
        .annotate(recent=Window(RowNumber(), partition_by=[F("service_id")],
                                order_by=[F("finished_at").desc(), F("id").desc()]))
        .filter(recent__lte=settings.SERVICE_SPEED_ORDERS)
    )
    return list(ranked.values_list("service_id", "service__type", "created_at", "finished_at", "quantity", "runs"))


def _per_1000(*, service_type: str, created_at: datetime, finished_at: datetime, quantity: int,
              runs: int | None) -> float:
    seconds = max((finished_at - created_at).total_seconds(), 0.0)
    order_type = ORDER_TYPES.get(service_type)
    if order_type is not None and order_type.per_package:
        return seconds  # one package: its time stands as is, as its price does
    return seconds * 1000 / (quantity * (runs or 1))


def service_speeds_compute(*, now: datetime) -> int:
    """Recompute every service's average time. A constant number of queries whatever the number of services
    or orders. Returns how many services have a figure."""
    samples: dict[int, list[float]] = defaultdict(list)
    for service_id, service_type, created_at, finished_at, quantity, runs in _recent_completed(now=now):
        samples[service_id].append(_per_1000(service_type=service_type, created_at=created_at,
                                             finished_at=finished_at, quantity=quantity, runs=runs))
    rows = [
        ServiceSpeed(service_id=service_id, samples=len(times), computed_at=now,
                     seconds_per_1000=round(statistics.median(times)) if len(times) >= MIN_SAMPLES else None)
        for service_id, times in samples.items()
    ]
    with transaction.atomic():
        if rows:
            ServiceSpeed.objects.bulk_create(rows, update_conflicts=True, unique_fields=["service"],
                                             update_fields=["seconds_per_1000", "samples", "computed_at"])
        # A service whose orders all left the window has nothing left to say.
        ServiceSpeed.objects.filter(computed_at__lt=now).update(seconds_per_1000=None, samples=0, computed_at=now)
    return sum(1 for row in rows if row.seconds_per_1000 is not None)


def duration_text(seconds: int) -> str:
    """A duration in words, its two largest units: "2 hours 15 minutes", "3 days 1 hour", "5 minutes"."""
    if seconds < 60:
        return _("less than a minute")
    parts = []
    rest = int(seconds)
    for size, words in _UNITS:
        count, rest = divmod(rest, size)
        if count and len(parts) < 2:
            parts.append(words(count))
        elif parts:
            break  # "1 day 5 minutes" reads as more precise than it is: stop at the first gap
    return " ".join(parts)


def average_time_text(service) -> str:
    """What a page shows as a service's average time: the duration per 1000, or "Not enough data".

    Reads `service.speed`; pages listing many services load it with `select_related("speed")`.
    """
    try:
        speed = service.speed
    except ServiceSpeed.DoesNotExist:
        speed = None
    if speed is None or speed.seconds_per_1000 is None:
        return _("Not enough data")
    return duration_text(speed.seconds_per_1000)
