"""Celery beat's schedule: one entry per periodic task. settings.py imports CELERY_BEAT_SCHEDULE from here."""

from datetime import timedelta

from django.core.exceptions import ImproperlyConfigured

from panel.env import env_int

# Read from the environment directly: this module is imported by settings.py itself, so it cannot use
# django.conf.settings. Same variable and default as settings.PANEL_SERVICE_SYNC_MINUTES.
_SERVICE_SYNC_MINUTES = env_int("PANEL_SERVICE_SYNC_MINUTES", 60)
if _SERVICE_SYNC_MINUTES < 1:
    raise ImproperlyConfigured("PANEL_SERVICE_SYNC_MINUTES must be at least 1")

CELERY_BEAT_SCHEDULE = {
    "services-sync-all": {
        "task": "providers.tasks.services_sync_all_task",
        "schedule": timedelta(minutes=_SERVICE_SYNC_MINUTES),
    },
}

# --- The order pipeline ---------------------------------------------------------------------------
# Same variable and default as settings.PANEL_POLL_SECONDS; run_local sets it low so demo orders move.
_POLL_SECONDS = env_int("PANEL_POLL_SECONDS", 60)
if _POLL_SECONDS < 1:
    raise ImproperlyConfigured("PANEL_POLL_SECONDS must be at least 1")

CELERY_BEAT_SCHEDULE.update({
    "orders-send-sweep": {"task": "orders.tasks.orders_send_sweep_task", "schedule": timedelta(seconds=_POLL_SECONDS)},
    "orders-settle-pending": {"task": "orders.tasks.orders_settle_pending_task",
                              "schedule": timedelta(seconds=max(_POLL_SECONDS, 60))},
    **{
        f"providers-{job.replace('_', '-')}": {
            "task": "orders.tasks.providers_dispatch_task",
            "schedule": timedelta(seconds=_POLL_SECONDS * (10 if job == "balance_check" else 1)),
            "args": (job,),
        }
        for job in ("orders_poll", "refills_send", "refills_poll", "cancels_send", "cancels_poll", "balance_check")
    },
})
