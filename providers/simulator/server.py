"""The HTTP side of the simulator: the standard library's ThreadingHTTPServer, so it runs anywhere."""

from __future__ import annotations

import json
import logging
import re
import sys
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

if TYPE_CHECKING:
    from providers.simulator import Simulator

logger = logging.getLogger(__name__)
_KEY_IN_QUERY = re.compile(r"([?&]key=)[^&\s\"']*")

BAD_GATEWAY_PAGE = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(type(value))


class SimulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], simulator: Simulator) -> None:
        self.simulator = simulator
        super().__init__(address, Handler)

    def handle_error(self, request, client_address) -> None:
        # Clients that give up (timeouts, closed sockets) are part of the simulation, not server errors.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so a pooled client reuses connections
    disable_nagle_algorithm = True  # headers and body go out in two writes; don't wait on delayed ACKs
    server: SimulatorServer

    def setup(self) -> None:
        super().setup()
        self.server.simulator.count_connection()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the standard library's signature
        # Request lines of GET requests carry the caller's key; a log is no place for it.
        logger.debug("simulator: %s", _KEY_IN_QUERY.sub(r"\1***", format % args))

    def do_GET(self) -> None:  # noqa: N802
        self._transport = "get"
        self._serve(self._query())

    def do_POST(self) -> None:  # noqa: N802
        params = self._query()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        content_type = (self.headers.get("Content-Type") or "").lower()
        text = body.decode("utf-8", errors="replace")
        self._transport = "json" if "json" in content_type or text.lstrip().startswith("{") else "form"
        if self._transport == "json":
            try:
                data = json.loads(text or "{}")
            except ValueError:
                self._send(400, {"error": "Malformed JSON body"})
                return
            if not isinstance(data, dict):
                self._send(400, {"error": "Malformed JSON body"})
                return
            params.update({k: "" if v is None else str(v) for k, v in data.items()})
        else:
            params.update(dict(parse_qsl(text, keep_blank_values=True)))
        self._serve(params)

    def _query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))

    def _serve(self, params: dict[str, str]) -> None:
        sim = self.server.simulator
        if urlsplit(self.path).path.rstrip("/") != sim.path.rstrip("/"):
            self._send(404, b"<html><body><h1>404 Not Found</h1></body></html>", content_type="text/html")
            return
        action = params.get("action", "")
        if action == "cancel" and "cancels" in params:
            action = "cancels"
        ids = params.get("orders") or params.get("refills") or params.get("cancels") or ""
        sim.count_request(action or "?", self._transport, ids=len([i for i in ids.split(",") if i.strip()]))
        fault = sim.draw_fault()
        if fault == "429":
            self._send(429, b"Too Many Requests", content_type="text/plain",
                       headers={"Retry-After": sim.config.retry_after})
            return
        if fault == "502":
            self._send(502, BAD_GATEWAY_PAGE, content_type="text/html")
            return
        if fault == "hang" and not self._hang():
            return
        answer = sim.api.handle(params)
        if (action == "add" and sim.config.hang_after_accept and isinstance(answer, dict)
                and "order" in answer and not self._hang()):
            return
        self._send(200, answer)

    def _hang(self) -> bool:
        """Wait longer than any sane client timeout; False when the connection was dropped instead."""
        sim = self.server.simulator
        stopped = sim.stopping.wait(sim.config.hang_seconds)
        if stopped or sim.config.hang_close:
            self.close_connection = True
            return False
        return True

    def _send(self, code: int, answer: object, *, content_type: str = "application/json",
              headers: dict[str, str] | None = None) -> None:
        body = answer if isinstance(answer, bytes) else json.dumps(answer, default=_json_default).encode()
        try:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
