"""Celery beat's schedule: one entry per periodic task.

settings.py builds CELERY_BEAT_SCHEDULE with `beat_schedule`, from the periods it has already read and
checked (PANEL_SERVICE_SYNC_MINUTES, PANEL_POLL_SECONDS), so this module reads no configuration itself.
"""

from __future__ import annotations

from datetime import timedelta

# The jobs the dispatcher runs per provider, each on its own beat entry.
PROVIDER_JOBS = ("orders_poll", "refills_send", "refills_poll", "cancels_send", "cancels_poll", "balance_check")


def beat_schedule(*, service_sync_minutes: int, poll_seconds: int) -> dict[str, dict]:
    """Every periodic task with its period and arguments."""
    return {
        "services-sync-all": {
            "task": "providers.tasks.services_sync_all_task",
            "schedule": timedelta(minutes=service_sync_minutes),
        },
        # Deposits whose webhook may have been lost are checked with their gateway; old unpaid ones expire.
        "deposits-reconcile": {
            "task": "accounts.tasks.deposits_reconcile_task",
            "schedule": timedelta(minutes=5),
        },
        # --- The order pipeline ---------------------------------------------------------------------
        "orders-send-sweep": {
            "task": "orders.tasks.orders_send_sweep_task",
            "schedule": timedelta(seconds=poll_seconds),
        },
        "orders-settle-pending": {
            "task": "orders.tasks.orders_settle_pending_task",
            "schedule": timedelta(seconds=max(poll_seconds, 60)),
        },
        **{
            f"providers-{job.replace('_', '-')}": {
                "task": "orders.tasks.providers_dispatch_task",
                "schedule": timedelta(seconds=poll_seconds * (10 if job == "balance_check" else 1)),
                "args": (job,),
            }
            for job in PROVIDER_JOBS
        },
    }
