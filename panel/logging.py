"""Keep secrets out of log lines: API keys (and passwords, tokens) are masked in whatever a logger writes.

v2 clients may send their key in a GET query string, so every request line that a server logs (the
access log, Django's development server) would carry it in full; a traceback or a logged body may too.
`MaskSecrets` is a logging filter that rewrites the finished message, whatever logger wrote it: Django's
LOGGING puts it on the console handler, and panel/gunicorn.conf.py on gunicorn's access and error logs.
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
