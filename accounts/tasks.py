"""Thin Celery tasks over accounts.deposits. Safe to run twice: a deposit is credited once whatever asks."""

from __future__ import annotations

from celery import shared_task

from accounts import deposits


@shared_task(acks_late=True, soft_time_limit=600, time_limit=660)
def deposits_reconcile_task() -> dict:
    return deposits.deposits_reconcile()
