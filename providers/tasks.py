"""Celery tasks for providers: thin wrappers over providers.services."""

from __future__ import annotations

import logging

from celery import shared_task

from providers.services import services_sync_all

logger = logging.getLogger(__name__)


@shared_task(soft_time_limit=600, time_limit=660)  # a big catalogue over a slow upstream takes minutes
def services_sync_all_task() -> dict[str, str]:
    """Sync every active provider's catalogue. Safe to run twice: a sync only converges on the upstream's list."""
    summary = {}
    for name, result in services_sync_all().items():
        if isinstance(result, str):
            logger.warning("service sync failed: %s", result)
            summary[name] = result
        else:
            summary[name] = result.summary()
    return summary
