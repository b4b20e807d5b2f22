"""A local stand-in for the payment gateways: a real HTTP server on a loopback port that answers the
calls the panel makes to Stripe, PayPal and Cryptomus, shows a pay page a person (or a browser test)
can click, and sends the gateway's signed webhooks to the panel.

Each gateway lives under its own path prefix (`/stripe`, `/paypal`, `/cryptomus`), which is the
`api_base` a Gateway row points at. Tests also use it to send replays, concurrent duplicates and
tampered events.
"""

from __future__ import annotations

import html
import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import requests

logger = logging.getLogger(__name__)


@dataclass
class SimRequest:
    method: str
    path: str  # below the gateway's prefix, e.g. "/v1/checkout/sessions"
    query: dict[str, str]
    headers: Mapping[str, str]
    body: bytes

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8", errors="replace"), keep_blank_values=True))

    def json(self) -> dict:
        try:
            data = json.loads(self.body or b"{}")
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}


@dataclass
class SimResponse:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, data: object, status: int = 200) -> SimResponse:
        return cls(status=status, body=json.dumps(data).encode())

    @classmethod
    def page(cls, title: str, body_html: str, status: int = 200) -> SimResponse:
        page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
                "<meta name='viewport' content='width=device-width, initial-scale=1'>"
                "<style>body{font-family:sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}"
                "button{font-size:1.1rem;padding:.6rem 1.4rem;margin:.3rem}p{overflow-wrap:anywhere}</style></head>"
                f"<body>{body_html}</body></html>")
        return cls(status=status, body=page.encode(), content_type="text/html; charset=utf-8")

    @classmethod
    def redirect(cls, location: str) -> SimResponse:
        return cls(status=303, headers={"Location": location})


@dataclass
class Delivery:
    """One webhook the simulator sent, kept so a test can replay or tamper with it."""

    url: str
    body: bytes
    headers: dict[str, str]
    status: int | None = None


class GatewaySimulator:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        from accounts.gateways.simulator.cryptomus import CryptomusSim
        from accounts.gateways.simulator.paypal import PayPalSim
        from accounts.gateways.simulator.stripe import StripeSim

        self.host, self.port = host, port
        self.lock = threading.RLock()
        self.deliveries: list[Delivery] = []
        # Where each gateway sends its webhooks (the panel's /payments/<name>/webhook/), by kind.
        self.webhook_urls: dict[str, str] = {}
        self.send_webhooks = True
        self.kinds = {"stripe": StripeSim(self), "paypal": PayPalSim(self), "cryptomus": CryptomusSim(self)}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def api_base(self, kind: str) -> str:
        return f"{self.url}/{kind}"

    def start(self) -> GatewaySimulator:
        self._server = _Server((self.host, self.port), self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="gateway-simulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def serve_forever(self) -> None:
        self._server = _Server((self.host, self.port), self)
        self.port = self._server.server_address[1]
        self._server.serve_forever()

    def deliver(self, kind: str, body: bytes, headers: Mapping[str, str], *, url: str | None = None) -> Delivery:
        """POST one webhook to the panel, as the gateway does; the answer's status is kept."""
        target = url or self.webhook_urls.get(kind, "")
        delivery = Delivery(url=target, body=body, headers=dict(headers))
        with self.lock:
            self.deliveries.append(delivery)
        if not target or not self.send_webhooks:
            return delivery
        try:
            answer = requests.post(target, data=body, headers={"Content-Type": "application/json", **headers},
                                   timeout=10)
            delivery.status = answer.status_code
        except requests.RequestException as error:
            logger.warning("gateway simulator: webhook to %s failed: %s", target, error)
        return delivery

    def replay(self, delivery: Delivery, *, body: bytes | None = None,
               headers: Mapping[str, str] | None = None) -> int:
        """Send a delivery again, as it was or tampered with; returns the panel's status code."""
        answer = requests.post(delivery.url, data=delivery.body if body is None else body,
                               headers={"Content-Type": "application/json",
                                        **(delivery.headers if headers is None else headers)}, timeout=10)
        return answer.status_code

    def handle(self, request: SimRequest, kind: str) -> SimResponse:
        gateway = self.kinds.get(kind)
        if gateway is None:
            return SimResponse.json({"error": "not found"}, status=404)
        return gateway.handle(request) or SimResponse.json({"error": "not found"}, status=404)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], simulator: GatewaySimulator) -> None:
        self.simulator = simulator
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the standard library's signature
        logger.debug("gateway simulator: " + format, *args)

    def do_GET(self) -> None:  # noqa: N802
        self._serve("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._serve("POST")

    def _serve(self, method: str) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        _, kind, *rest = (parts.path + "/").split("/", 2) if parts.path.count("/") >= 1 else ("", "", "")
        sub_path = "/" + (rest[0].rstrip("/") if rest else "")
        request = SimRequest(method=method, path=sub_path, query=dict(parse_qsl(parts.query)),
                             headers={k: v for k, v in self.headers.items()}, body=body)
        try:
            response = self.server.simulator.handle(request, kind)
        except Exception:  # a simulator bug must show as a 500, as a real gateway's would
            logger.exception("gateway simulator: %s %s", method, self.path)
            response = SimResponse.json({"error": "internal"}, status=500)
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(response.body)
