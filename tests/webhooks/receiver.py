"""A reseller's webhook receiver, written from the API page's "Status webhooks" section alone.

A real HTTP server on a loopback port. Each request is checked with the published `standardwebhooks`
library (signature and timestamp, on the raw body) and with the page's no-library snippet; a valid event is
kept once per `event_id` (retries are de-duplicated) and answered 200. `answers` lets a test script the
statuses it answers first (500s for retries), `lose_answers` makes it keep the event and still answer 500, as
when its answer is lost on the way back.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook, WebhookVerificationError


def verify_without_library(secret: str, body: bytes, headers: dict) -> bool:
    """The page's "Python (no library)" snippet, as a reseller would paste it."""
    msg_id, timestamp = headers["webhook-id"], headers["webhook-timestamp"]
    if abs(time.time() - int(timestamp)) > 300:
        return False
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(hmac.compare_digest(expected, sig.split(",", 1)[1])
               for sig in headers["webhook-signature"].split() if sig.startswith("v1,"))


class Receiver:
    def __init__(self, *, secret: str = "") -> None:
        self.secret = secret
        self.answers: list[int] = []  # statuses to answer first, in turn; then 200
        self.lose_answers = 0  # events kept, yet answered 500 (the answer "lost")
        self.requests: list[dict] = []  # every request: headers, body, whether both checks passed
        self.events: dict[str, dict] = {}  # event_id -> event, each once
        self.order_statuses: dict[int, list[str]] = {}  # order -> statuses in arrival order (de-duplicated)
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                status = receiver.handle(body, headers)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks/panel"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def handle(self, body: bytes, headers: dict) -> int:
        try:
            event = Webhook(self.secret).verify(body, headers)
            verified = verify_without_library(self.secret, body, headers)
        except (WebhookVerificationError, KeyError, ValueError):
            event, verified = None, False
        with self._lock:
            self.requests.append({"headers": headers, "body": body, "verified": verified and event is not None})
            if event is None or not verified:
                return 400
            if self.answers:
                status = self.answers.pop(0)
                if status >= 300:
                    return status  # refused before keeping anything
            if event["event_id"] not in self.events:
                self.events[event["event_id"]] = event
                if event["event"] == "order.updated":
                    self.order_statuses.setdefault(event["order"], []).append(event["status"])
            if self.lose_answers:
                self.lose_answers -= 1
                return 500
            return 200

    @property
    def all_verified(self) -> bool:
        return all(r["verified"] for r in self.requests)

    def bodies(self) -> list[dict]:
        return [json.loads(r["body"]) for r in self.requests]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
