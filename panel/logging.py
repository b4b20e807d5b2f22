"""Keep secrets out of log lines: API keys (and passwords, tokens) are masked in whatever a logger writes.

v2 clients may send their key in a GET query string, so every request line that a server logs (the
access log, Django's development server) would carry it in full; a traceback or a logged body may too.
`MaskSecrets` is a logging filter that rewrites the finished message, whatever logger wrote it: Django's
LOGGING puts it on the console handler, and panel/gunicorn.conf.py on gunicorn's access and error logs.

`logging_config` is that LOGGING. Celery's worker and beat use it too (panel/celery.py): left to itself,
Celery replaces the root logger's handler with its own, which has no masking filter, and logs a line for
every task received, every task finished and every beat tick, so an idle panel would log hundreds of
lines a minute. Instead, `log_task_outcome` writes one line per task that did something, and nothing for
a task that found nothing to do.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote_plus

# The names whose values are secret: key, api_key, apikey, password, token, secret...
_SECRET_NAME = re.compile(r"(?:key|password|passwd|secret|token)$", re.IGNORECASE)
# name=value in a query string or form body; the name may be percent-encoded (k%65y=...).
_PAIR = re.compile(r"(?P<name>[\w.%+\-\[\]]+)=(?P<value>[^&\s\"'<>;,]+)")
# "name": "value" in JSON, 'name': 'value' in a Python repr.
_QUOTED_PAIR = re.compile(
    r"(?P<q>[\"'])(?P<name>[\w.\-]{1,64})(?P=q)(?P<sep>\s*:\s*)(?P<q2>[\"'])(?P<value>[^\"']*)(?P=q2)")
_SHOWN = 4  # characters of a long secret kept, so that a log line can still be matched to a key prefix
_MASK = "****"


def _masked(value: str) -> str:
    return value[:_SHOWN] + _MASK if len(value) >= 16 else _MASK


def _is_secret(name: str) -> bool:
    return bool(_SECRET_NAME.search(unquote_plus(name)))


def _mask_pair(match: re.Match) -> str:
    if not _is_secret(match["name"]):
        return match[0]
    return f"{match['name']}={_masked(match['value'])}"


def _mask_quoted_pair(match: re.Match) -> str:
    if not _is_secret(match["name"]) or not match["value"]:
        return match[0]
    q, q2 = match["q"], match["q2"]
    return f"{q}{match['name']}{q}{match['sep']}{q2}{_masked(match['value'])}{q2}"


def mask_secrets(text: str) -> str:
    """`text` with the value of every secret-named field masked."""
    if "=" in text:
        text = _PAIR.sub(_mask_pair, text)
    if ":" in text:
        text = _QUOTED_PAIR.sub(_mask_quoted_pair, text)
    return text


class MaskSecrets(logging.Filter):
    """Rewrites a record's message (and its traceback) with secrets masked; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: leave it to the handler to report as it would
            return True
        masked = mask_secrets(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_secrets(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_secrets(record.stack_info)
        return True


# Loggers that speak once per beat tick, per task or per upstream request (beat's "Sending due task", the
# worker's "Task received" and "Task succeeded", the upstream client's request lines). Below DEBUG they
# keep only their warnings and errors, a failed task included.
CHATTY_LOGGERS = ("celery.beat", "celery.worker.strategy", "celery.app.trace", "providers.client")


def logging_config(*, level: str) -> dict:
    """The LOGGING setting: one console handler on the root logger, secrets masked, chatty loggers quiet."""
    level = level.upper()
    chatty = level if level in ("DEBUG", "ERROR", "CRITICAL") else "WARNING"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
        # API keys (and passwords, tokens) never reach a log line in full.
        "filters": {"mask_secrets": {"()": "panel.logging.MaskSecrets"}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain",
                                 "filters": ["mask_secrets"]}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "INFO"},
            # The development server's request lines (query strings included) through the masking handler.
            "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
            **{name: {"level": chatty} for name in CHATTY_LOGGERS},
        },
    }


def use_django_logging(**kwargs) -> None:
    """Celery's `setup_logging` signal: with a receiver, Celery leaves the root logger to Django's LOGGING."""
    import logging.config

    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


# Tasks left out of the per-task line: the dispatcher only fans work out (the tasks it queues report), and a
# balance check reads a figure each time it runs.
QUIET_TASKS = frozenset({"orders.tasks.providers_dispatch_task", "orders.tasks.provider_balance_check_task"})
# A send task that found its order already taken or not due did nothing.
IDLE_OUTCOMES = frozenset({"not_claimed"})
_task_logger = logging.getLogger("panel.tasks")


def did_something(result: object) -> bool:
    """Whether a task's return value reports work: a non-zero count, a non-empty list, an outcome."""
    if isinstance(result, dict):
        return any(did_something(value) for value in result.values())
    if isinstance(result, (list, tuple, set)):
        return bool(result)
    if isinstance(result, str):
        return bool(result) and result not in IDLE_OUTCOMES
    if isinstance(result, bool) or result is None:
        return bool(result)
    if isinstance(result, (int, float)):
        return result > 0
    return True


def _summary(result: object) -> str:
    if isinstance(result, dict):
        return " ".join(f"{key}={value}" for key, value in result.items() if did_something(value))
    return str(result)


def log_task_outcome(sender=None, task_id=None, task=None, args=None, kwargs=None, retval=None, state=None,
                     **extra) -> None:
    """Celery's `task_postrun` signal: one line for a task that succeeded and did something."""
    name = getattr(task, "name", "") or ""
    if state != "SUCCESS" or name in QUIET_TASKS or not did_something(retval):
        return
    short = name.rsplit(".", 1)[-1].removesuffix("_task")
    shown_args = ", ".join(str(arg) for arg in (args or ()))
    _task_logger.info("%s(%s): %s", short, shown_args, _summary(retval))
