"""Thin Celery tasks over support.services."""

from __future__ import annotations

from celery import shared_task

from support import services


@shared_task(acks_late=True, soft_time_limit=120, time_limit=180)
def tickets_autoclose_task() -> int:
    """Safe to run twice: a closed ticket no longer matches."""
    return services.tickets_autoclose()
