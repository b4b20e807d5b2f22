"""Signing as the Standard Webhooks specification (standardwebhooks.com) sets it out.

Each request carries `webhook-id` (the event id), `webhook-timestamp` (Unix seconds) and
`webhook-signature: v1,<base64 HMAC-SHA256>` over `<id>.<timestamp>.<body>`, keyed with the base64-decoded
part of the endpoint's `whsec_<base64>` secret. A receiver can check it with any Standard Webhooks library
(`standardwebhooks` on PyPI, `standard-webhooks` on npm, ...) or the few lines on the API page.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"
# 32 random bytes: inside the 24-64 the specification asks for.
SECRET_BYTES = 32


def secret_generate() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def event_id_generate() -> str:
    return "evt_" + secrets.token_hex(12)


def signature(*, secret: str, msg_id: str, timestamp: int, body: str) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(*, secret: str, msg_id: str, timestamp: int, body: str) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret=secret, msg_id=msg_id, timestamp=timestamp, body=body),
    }
