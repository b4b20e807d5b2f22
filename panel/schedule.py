"""Celery beat's schedule: one entry per periodic task.

settings.py builds CELERY_BEAT_SCHEDULE with `beat_schedule`, from the periods it has already read and
checked (PANEL_SERVICE_SYNC_MINUTES, PANEL_POLL_SECONDS), so this module reads no configuration itself.
"""

from __future__ import annotations

from datetime import timedelta

from celery.schedules import crontab

# The jobs the dispatcher runs per provider, each on its own beat entry.
PROVIDER_JOBS = ("orders_poll", "refills_send", "refills_poll", "cancels_send", "cancels_poll", "balance_check")


def beat_schedule(
    *, service_sync_minutes: int, poll_seconds: int, service_updates_weekday: str = "mon"
) -> dict[str, dict]:
    """Every periodic task with its period and arguments."""
    return {
        # --- News: each service's average time, and the weekly mail of service updates ----------------
        "service-speeds-compute": {
            "task": "news.tasks.service_speeds_compute_task",
            "schedule": timedelta(hours=1),
        },
        "service-updates-digest": {
            "task": "news.tasks.service_updates_digest_task",
            "schedule": crontab(minute=0, hour=6, day_of_week=service_updates_weekday),
        },
        "services-sync-all": {
            "task": "providers.tasks.services_sync_all_task",
            "schedule": timedelta(minutes=service_sync_minutes),
        },
        # Deposits whose webhook may have been lost are checked with their gateway; old unpaid ones expire.
        "deposits-reconcile": {
            "task": "accounts.tasks.deposits_reconcile_task",
            "schedule": timedelta(minutes=5),
        },
        # Mail whose task was lost is queued again; staff get one digest of orders newly needing a person.
        "mails-sweep": {
            "task": "notify.tasks.mails_sweep_task",
            "schedule": timedelta(minutes=5),
        },
        "mail-attention-digest": {
            "task": "notify.tasks.attention_digest_task",
            "schedule": timedelta(minutes=30),
        },
        # Support tickets left answered for SUPPORT_TICKET_AUTOCLOSE_DAYS close by themselves.
        "support-tickets-autoclose": {
            "task": "support.tasks.tickets_autoclose_task",
            "schedule": timedelta(hours=1),
        },
        # Resellers' status webhooks: new order history becomes events, due events are delivered. Often,
        # so a status reaches the reseller soon after the poll that saw it; idle, it is a few queries.
        "webhooks-tick": {
            "task": "webhooks.tasks.webhooks_tick_task",
            "schedule": timedelta(seconds=10),
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
        # Unknown orders refunded by their provider's policy once old enough (a provider setting, in hours).
        "orders-unknown-policy": {
            "task": "orders.tasks.orders_unknown_policy_task",
            "schedule": timedelta(minutes=10),
        },
        # `add` request ids past their 7-day window are forgotten (the orders stay).
        "add-requests-purge": {
            "task": "orders.tasks.add_requests_purge_task",
            "schedule": timedelta(hours=6),
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
