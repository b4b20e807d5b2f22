"""The Celery application. Tasks live in each app's tasks.py; the schedule is in panel/schedule.py."""

import os

from celery import Celery
from celery.signals import setup_logging, task_postrun

from panel.logging import log_task_outcome, use_django_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "panel.settings")

app = Celery("panel")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Worker and beat log through Django's LOGGING (secrets masked, no line per tick or per idle task), and a
# task that did something says so in one line.
setup_logging.connect(use_django_logging, weak=False)
task_postrun.connect(log_task_outcome, weak=False)
