"""Logging of web, worker and beat: one masked console handler, quiet when idle, one line per task that worked."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from panel.logging import CHATTY_LOGGERS, did_something, log_task_outcome, logging_config


def test_chatty_loggers_keep_only_warnings_below_debug():
    # given / when
    info, debug = logging_config(level="INFO"), logging_config(level="debug")

    # then beat ticks, task receipts and upstream request lines are left out at INFO, shown at DEBUG
    for name in CHATTY_LOGGERS:
        assert info["loggers"][name]["level"] == "WARNING"
        assert debug["loggers"][name]["level"] == "DEBUG"
    assert info["root"] == {"handlers": ["console"], "level": "INFO"}
    assert info["handlers"]["console"]["filters"] == ["mask_secrets"]


def test_celery_hands_its_logging_to_django():
    from celery.signals import setup_logging

    import panel.celery  # noqa: F401 - connects the receivers
    from panel.logging import use_django_logging

    # with a receiver, Celery neither replaces the root handler (which would not mask keys) nor redirects
    # stdout: worker and beat log through Django's LOGGING
    assert use_django_logging in [receiver for _key, receiver in setup_logging.receivers]


@pytest.mark.parametrize(("result", "worked"), [
    (None, False), (0, False), ("not_claimed", False), ({"batches": 0, "orders": 0, "final": 0}, False),
    ({"stale_to_unknown": 0, "queued": 0}, False), ([], False),
    ("sent", True), (3, True), ({"batches": 1, "orders": 43, "final": 3}, True), ({"queued": 2}, True),
])
def test_a_result_says_whether_the_task_did_something(result, worked):
    assert did_something(result) is worked


def _task(name: str) -> SimpleNamespace:
    return SimpleNamespace(name=name)


def test_one_line_per_task_that_did_something_and_none_when_idle(caplog):
    caplog.set_level(logging.INFO, logger="panel.tasks")

    # when an idle poll, the dispatcher, a balance reading and a failed task finish
    log_task_outcome(task=_task("orders.tasks.provider_orders_poll_task"), args=(1,),
                     retval={"batches": 0, "orders": 0, "final": 0}, state="SUCCESS")
    log_task_outcome(task=_task("orders.tasks.providers_dispatch_task"), args=("orders_poll",), retval=1,
                     state="SUCCESS")
    log_task_outcome(task=_task("orders.tasks.provider_balance_check_task"), args=(1,), retval="12.5",
                     state="SUCCESS")
    log_task_outcome(task=_task("orders.tasks.provider_orders_poll_task"), args=(1,), retval=None,
                     state="FAILURE")
    # then nothing is written
    assert caplog.records == []

    # when a poll that worked finishes
    log_task_outcome(task=_task("orders.tasks.provider_orders_poll_task"), args=(7,),
                     retval={"batches": 2, "orders": 150, "final": 0}, state="SUCCESS")

    # then one line says what it did, zero counts left out
    assert [r.getMessage() for r in caplog.records] == ["provider_orders_poll(7): batches=2 orders=150"]


def test_the_file_broker_does_not_warn_about_a_missing_host(caplog, tmp_path):
    from kombu import Connection

    from panel.broker import Transport

    caplog.set_level(logging.WARNING, logger="kombu.connection")
    folder = str(tmp_path)

    # when a connection is described, as Celery does for every producer and consumer
    with Connection("filesystem://", transport=Transport, transport_options={
            "data_folder_in": folder, "data_folder_out": folder}) as connection:
        connection.info()

    # then kombu has nothing to say about a host a folder does not have
    assert "No hostname" not in caplog.text
