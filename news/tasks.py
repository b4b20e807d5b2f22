"""Periodic jobs of the news app; thin, safe to run twice."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from news.digest import service_updates_digest_send
from news.speed import service_speeds_compute


@shared_task
def service_speeds_compute_task() -> int:
    return service_speeds_compute(now=timezone.now())


@shared_task
def service_updates_digest_task() -> int:
    # Safe twice: each mail's event key names the customer and the ISO week, and notify sends a key once.
    return service_updates_digest_send(now=timezone.now())
