"""The connections providers/client.py opens: to public addresses only (unless PROVIDER_URLS_ALLOW_PRIVATE).

Mounted on the client's session; nothing else opens connections upstream.
"""

from __future__ import annotations

import contextlib
import socket
import threading

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.connection import allowed_gai_family, create_connection

from providers.client_addresses import address_refusal, private_addresses_allowed


class AddressRefused(NewConnectionError):
    """The upstream's address is not public and PROVIDER_URLS_ALLOW_PRIVATE is off; nothing was sent."""

    def __init__(self, conn, refusal: str) -> None:
        super().__init__(conn, refusal)
        self.refusal = refusal


class _PublicAddressesOnly:
    """`_new_conn` for urllib3's connections (mixed in before them): check where the socket goes.

    The host is resolved once and every address it gives must be public; the socket then connects to
    those checked addresses, never to a second resolution (which a rebinding DNS server could answer
    differently), and the address it is connected to is checked again before anything is written."""

    def _new_conn(self) -> socket.socket:
        if private_addresses_allowed():
            return super()._new_conn()
        try:
            resolved = socket.getaddrinfo(self._dns_host, self.port, allowed_gai_family(), socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        except UnicodeError:
            raise NewConnectionError(self, f"invalid host name {self.host!r}") from None
        addresses = list(dict.fromkeys(str(sockaddr[0]) for *_, sockaddr in resolved))
        for address in addresses:
            refusal = address_refusal(address, host=self.host)
            if refusal:
                raise AddressRefused(self, refusal)
        error: OSError = OSError(f"{self.host} resolves to no address")
        for address in addresses:
            try:
                # An IP literal: create_connection looks nothing up again.
                sock = create_connection((address, self.port), self.timeout, source_address=self.source_address,
                                         socket_options=self.socket_options)
            except OSError as exc:
                error = exc
                continue
            refusal = address_refusal(str(sock.getpeername()[0]))
            if refusal:
                sock.close()
                raise AddressRefused(self, refusal)
            return sock
        if isinstance(error, socket.timeout):
            raise ConnectTimeoutError(self, f"Connection to {self.host} timed out") from error
        raise NewConnectionError(self, f"Failed to establish a new connection: {error}") from error


_current = threading.local()


class Deadline:
    """A hard end for one upstream call, whatever the server does: when `seconds` have passed, the socket
    carrying the call is shut down, and the blocked read fails at once.

    The client's timeout alone does not bound a call: it limits each wait for the next bytes, so a server
    that sends a byte every few seconds keeps a call open for ever. Only with this bound may a claim
    older than a few timeouts be taken for a dead worker's (orders.pipeline.send).
    """

    def __init__(self, seconds: float) -> None:
        self._lock = threading.Lock()
        self._connections: set = set()
        self.expired = False
        self.cut = False  # a connection was shut down mid-call: whatever came back is not a whole answer
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> Deadline:
        _current.deadline = self
        self._timer.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._timer.cancel()
        _current.deadline = None
        with self._lock:
            self._connections.clear()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for connection in self._connections:
                self.cut = True
                _shut(connection)

    def attach(self, connection) -> None:
        with self._lock:
            connection._deadline = self
            if self.expired:
                self.cut = True
                _shut(connection)
            else:
                self._connections.add(connection)

    def detach(self, connection) -> None:
        # Under the lock: once a connection is back in the pool for another call, this deadline must not
        # touch it, even if it expires this very moment.
        with self._lock:
            self._connections.discard(connection)
            connection._deadline = None


def _shut(connection) -> None:
    sock = getattr(connection, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed
            sock.shutdown(socket.SHUT_RDWR)


class _UnderDeadline:
    """Connections that put themselves under the calling thread's Deadline, if it has one."""

    _deadline: Deadline | None = None

    def request(self, *args, **kwargs):
        deadline = getattr(_current, "deadline", None)
        if deadline is not None:
            deadline.attach(self)
        return super().request(*args, **kwargs)


class _CheckedHTTPConnection(_UnderDeadline, _PublicAddressesOnly, HTTPConnection):
    pass


class _CheckedHTTPSConnection(_UnderDeadline, _PublicAddressesOnly, HTTPSConnection):
    pass


class _ReleasesDeadline:
    def _put_conn(self, conn) -> None:
        deadline = getattr(conn, "_deadline", None)
        if deadline is not None:
            deadline.detach(conn)
        super()._put_conn(conn)


class _CheckedHTTPConnectionPool(_ReleasesDeadline, HTTPConnectionPool):
    ConnectionCls = _CheckedHTTPConnection


class _CheckedHTTPSConnectionPool(_ReleasesDeadline, HTTPSConnectionPool):
    ConnectionCls = _CheckedHTTPSConnection


class CheckedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _CheckedHTTPConnectionPool,
                                                   "https": _CheckedHTTPSConnectionPool}
