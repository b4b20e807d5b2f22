"""A small HTTP proxy on a loopback port that loses answers on the way back: it forwards each request to the
server behind it, waits for the whole answer, and for the first `add` (or the first `drop` of them) closes the
client's connection instead of answering. The server has acted; the client cannot know."""

from __future__ import annotations

import re
import socket
import threading
from urllib.parse import urlsplit

_LENGTH = re.compile(rb"^content-length:\s*(\d+)\s*$", re.IGNORECASE | re.MULTILINE)
_CONNECTION = re.compile(rb"^connection:[^\r\n]*\r\n", re.IGNORECASE | re.MULTILINE)
_HOST = re.compile(rb"^host:[^\r\n]*\r\n", re.IGNORECASE | re.MULTILINE)


class DroppingProxy:
    def __init__(self, target_url: str, *, drop: int = 1) -> None:
        parts = urlsplit(target_url)
        self.target = (parts.hostname, parts.port)
        self.host = parts.netloc.encode()  # the Host the server behind expects
        self.drop = drop
        self.adds = 0  # `add` requests seen
        self.dropped = 0  # answers to them lost on purpose
        self.requests = 0
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, name="dropping-proxy", daemon=True)
        self._stopping = False

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> DroppingProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping = True
        self._server.close()
        self._thread.join(timeout=5)

    def _serve(self) -> None:
        while not self._stopping:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client: socket.socket) -> None:
        # One request per connection: both sides are told to close after it, so the client's pool opens a
        # new connection for the next request rather than reuse one this proxy has closed.
        with client:
            request = _read_request(client)
            if request is None:
                return
            with self._lock:
                self.requests += 1
                is_add = b"action=add" in request or b'"action": "add"' in request
                drop = False
                if is_add:
                    self.adds += 1
                    drop = self.dropped < self.drop
                    if drop:
                        self.dropped += 1
            answer = self._forward(_closing(request, host=self.host))
            if drop or answer is None:
                client.shutdown(socket.SHUT_RDWR)  # the answer is lost on the way back
                return
            client.sendall(_closing(answer))

    def _forward(self, request: bytes) -> bytes | None:
        with socket.create_connection(self.target, timeout=30) as upstream:
            upstream.sendall(request)
            chunks = []
            while True:
                chunk = upstream.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        return b"".join(chunks) or None


def _read_request(sock: socket.socket) -> bytes | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = _LENGTH.search(head)
    wanted = int(length.group(1)) if length else 0
    while len(body) < wanted:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        body += chunk
    return head + b"\r\n\r\n" + body


def _closing(message: bytes, *, host: bytes | None = None) -> bytes:
    """The message with `Connection: close` in place of whatever its head said (and `host` as its Host)."""
    head, _, body = message.partition(b"\r\n\r\n")
    first, _, headers = head.partition(b"\r\n")
    headers = _CONNECTION.sub(b"", headers + b"\r\n")
    if host is not None:
        headers = _HOST.sub(b"", headers) + b"Host: " + host + b"\r\n"
    return first + b"\r\n" + headers + b"Connection: close\r\n\r\n" + body
