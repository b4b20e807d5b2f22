"""The services the suite runs against answer (in CI: PostgreSQL and Redis)."""

import os

import pytest
from django.conf import settings


@pytest.mark.django_db
def test_database_answers():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone()[0] == 1


def test_celery_broker_answers():
    from panel.celery import app

    if os.environ.get("CI") and not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.fail("CI must point CELERY_BROKER_URL at Redis")
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=2)
        assert conn.connected


def test_settings_refuse_bad_values(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    from panel.env import env_bool, env_int

    monkeypatch.setenv("X_FLAG", "maybe")
    monkeypatch.setenv("X_NUM", "ten")
    with pytest.raises(ImproperlyConfigured, match="X_FLAG"):
        env_bool("X_FLAG")
    with pytest.raises(ImproperlyConfigured, match="X_NUM"):
        env_int("X_NUM", 1)
