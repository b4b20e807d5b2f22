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
