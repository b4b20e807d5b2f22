"""Every setting is declared once in panel/settings.py from the environment; the rest of the code reads
django.conf.settings, at call time, so a test's override is seen."""

from __future__ import annotations

import runpy
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured

from orders.pipeline import conf
from panel.env import env_int
from panel.schedule import beat_schedule
from panel.web import throttle

SETTINGS_FILE = str(django_settings.BASE_DIR / "panel" / "settings.py")


@pytest.fixture
def load_settings(monkeypatch, tmp_path):
    """Run settings.py afresh with `env` on top of a clean panel environment; returns its names."""

    def load(**env: str) -> dict:
        monkeypatch.setenv("PANEL_DATA_DIR", str(tmp_path))
        monkeypatch.setenv("SECRET_KEY", "settings-test")
        monkeypatch.delenv("STATIC_ROOT", raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return runpy.run_path(SETTINGS_FILE)

    return load


def test_env_int_refuses_a_value_below_its_minimum(monkeypatch):
    monkeypatch.setenv("X_NUM", "0")
    with pytest.raises(ImproperlyConfigured, match="X_NUM must be at least 1, got 0"):
        env_int("X_NUM", 5, minimum=1)
    monkeypatch.setenv("X_NUM", "1")
    assert env_int("X_NUM", 5, minimum=1) == 1
    monkeypatch.delenv("X_NUM")
    assert env_int("X_NUM", 5, minimum=1) == 5


@pytest.mark.parametrize(("name", "value"), [
    ("PANEL_POLL_SECONDS", "0"),
    ("PANEL_SERVICE_SYNC_MINUTES", "-1"),
    ("PIPELINE_CIRCUIT_FAILURES", "0"),
    ("PIPELINE_SEND_BACKOFF_SECONDS", "soon"),
    ("LOGIN_FAILURE_LIMIT", "0"),
    ("PANEL_BENCH_FLOOR", "maybe"),
])
def test_a_bad_value_stops_start_up_naming_the_variable(load_settings, name, value):
    with pytest.raises(ImproperlyConfigured, match=name):
        load_settings(**{name: value})


def test_a_send_claim_must_outlast_the_tasks_time_limit(load_settings):
    with pytest.raises(ImproperlyConfigured, match="PIPELINE_SENDING_STALE_SECONDS must be at least 301"):
        load_settings(CELERY_TASK_TIME_LIMIT="300", PIPELINE_SENDING_STALE_SECONDS="300")
    assert load_settings(CELERY_TASK_TIME_LIMIT="300", PIPELINE_SENDING_STALE_SECONDS="301")[
        "PIPELINE_SENDING_STALE_SECONDS"] == 301


def test_the_backoff_cap_cannot_be_below_its_base(load_settings):
    with pytest.raises(ImproperlyConfigured, match="PIPELINE_SEND_BACKOFF_MAX_SECONDS"):
        load_settings(PIPELINE_SEND_BACKOFF_SECONDS="60", PIPELINE_SEND_BACKOFF_MAX_SECONDS="59")


def test_values_come_from_the_environment(load_settings):
    loaded = load_settings(PIPELINE_INCORRECT_ID_POLLS="7", LOGIN_LOCKOUT_SECONDS="120", PANEL_BENCH_FLOOR="1")
    assert loaded["PIPELINE_INCORRECT_ID_POLLS"] == 7
    assert loaded["LOGIN_LOCKOUT_SECONDS"] == 120
    assert loaded["PANEL_BENCH_FLOOR"] is True


def test_the_beat_schedule_is_built_from_the_declared_periods(load_settings):
    schedule = load_settings(PANEL_POLL_SECONDS="7", PANEL_SERVICE_SYNC_MINUTES="3")["CELERY_BEAT_SCHEDULE"]
    assert schedule["services-sync-all"]["schedule"] == timedelta(minutes=3)
    assert schedule["orders-send-sweep"]["schedule"] == timedelta(seconds=7)
    assert schedule["orders-settle-pending"]["schedule"] == timedelta(seconds=60)
    assert schedule["providers-orders-poll"] == {
        "task": "orders.tasks.providers_dispatch_task", "schedule": timedelta(seconds=7), "args": ("orders_poll",)}
    assert schedule["providers-balance-check"]["schedule"] == timedelta(seconds=70)


def test_the_running_schedule_is_the_one_of_the_running_settings():
    running = django_settings.CELERY_BEAT_SCHEDULE
    assert running == beat_schedule(service_sync_minutes=django_settings.PANEL_SERVICE_SYNC_MINUTES,
                                    poll_seconds=django_settings.PANEL_POLL_SECONDS)


def test_the_send_backoff_reads_its_settings_at_each_call(settings):
    settings.PIPELINE_SEND_BACKOFF_SECONDS = 10
    settings.PIPELINE_SEND_BACKOFF_MAX_SECONDS = 50
    assert [conf.send_backoff_seconds(n) for n in (1, 2, 3, 4)] == [10, 20, 40, 50]


def test_login_throttling_reads_its_settings_at_each_call(settings):
    settings.LOGIN_FAILURE_LIMIT = 2
    settings.LOGIN_LOCKOUT_SECONDS = 180
    assert throttle.lockout_minutes() == 3
    throttle.login_failed(username="someone", ip="10.0.0.9")
    assert not throttle.login_locked(username="someone", ip="10.0.0.9")
    throttle.login_failed(username="someone", ip="10.0.0.9")
    assert throttle.login_locked(username="someone", ip="10.0.0.9")
