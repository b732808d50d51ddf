"""Interception of http.client (so urllib.request) and urllib3, at the connection.

While a world is active, ``connect()`` of :class:`http.client.HTTPConnection`,
:class:`http.client.HTTPSConnection` and urllib3's two connection classes gives the connection
an in-memory socket instead of a network one (connections created before the world included):
the library writes its request as bytes, the world serves it, and the library parses the answer
with its own code. So urllib3's ``Retry``, redirects, ``preload_content=False`` and
``stream()``, and urllib.request's ``HTTPError``, redirects and cookies all behave as against a
real server, and each fault is raised where and as the library raises it:

- a timeout is ``TimeoutError("timed out")`` from the socket read, which urllib3 turns into
  ``ReadTimeoutError`` and urllib.request lets through as it is;
- a reset is ``ConnectionResetError`` from the read (urllib3: ``ProtocolError``);
- a host no fake serves is a refused connection: ``ConnectionRefusedError`` when the request is
  sent (urllib.request: ``URLError``), urllib3's ``NewConnectionError`` (retried as any
  connection error, then ``MaxRetryError``).

Each request is dispatched once: urllib3's connections do not call http.client's ``connect``,
and requests is served by its adapter before it reaches urllib3. A loopback host that no fake
serves keeps its real connection (a local server stays reachable).
"""

from __future__ import annotations

import errno
import http.client
import importlib
import io
import os
import socket
import sys
import threading
from collections import deque
from collections.abc import Callable
from types import FrameType
from typing import Any

import httpx

from chaoskit.world.codec import RequestReader, encode_response, origin
from chaoskit.world.dispatch import Client, Dispatcher, FaultSignal, active
from chaoskit.world.patches import Patch

__all__ = ["http_client_patches", "urllib3_patches"]

Unrouted = Callable[[str], Exception]


def http_client_patches(dispatcher: Dispatcher) -> list[Patch]:
    """Route http.client's connections, and with them urllib.request's."""
    plain, secure = http.client.HTTPConnection.connect, http.client.HTTPSConnection.connect

    def connect(self: http.client.HTTPConnection) -> None:
        if not _wire(dispatcher, self, "http", _caller(), _refused, eager=True):
            plain(self)

    def connect_tls(self: http.client.HTTPSConnection) -> None:
        if not _wire(dispatcher, self, "https", _caller(), _refused, eager=True):
            secure(self)

    return [
        (http.client.HTTPConnection, "connect", connect),
        (http.client.HTTPSConnection, "connect", connect_tls),
    ]


def urllib3_patches(dispatcher: Dispatcher) -> list[Patch]:
    """Route urllib3's connections (urllib3 2.x; 1.x stays refused by the guard)."""
    try:
        connection = importlib.import_module("urllib3.connection")
        exceptions = importlib.import_module("urllib3.exceptions")
    except ImportError:
        return []
    plain, secure = connection.HTTPConnection.connect, connection.HTTPSConnection.connect
    if not hasattr(connection.HTTPConnection, "is_verified"):
        return []

    def refused(conn: Any) -> Unrouted:
        def error(message: str) -> Exception:
            failed = f"Failed to establish a new connection: {message}"
            made: Exception = exceptions.NewConnectionError(conn, failed)
            return made

        return error

    def connect(self: Any) -> None:
        if not _wire(dispatcher, self, "http", "urllib3", refused(self), eager=False):
            plain(self)
            return
        self._has_connected_to_proxy = bool(self.proxy)

    def connect_tls(self: Any) -> None:
        if not _wire(dispatcher, self, "https", "urllib3", refused(self), eager=False):
            secure(self)
            return
        self._has_connected_to_proxy = bool(self.proxy)
        self.is_verified = True  # no certificate to check in memory; nor a warning to give

    return [
        (connection.HTTPConnection, "connect", connect),
        (connection.HTTPSConnection, "connect", connect_tls),
    ]


def _wire(
    dispatcher: Dispatcher,
    conn: Any,
    scheme: str,
    client: Client,
    unrouted: Unrouted,
    *,
    eager: bool,
) -> bool:
    """Give ``conn`` an in-memory socket, unless its host is loopback that no fake serves."""
    host = conn._tunnel_host or conn.host
    port = conn._tunnel_port or conn.port
    if not dispatcher.routes(host, port):
        return False
    timeout = conn.timeout
    if timeout is socket._GLOBAL_DEFAULT_TIMEOUT:  # type: ignore[attr-defined]
        timeout = socket.getdefaulttimeout()
    conn.sock = WireSocket(client, origin(scheme, host, port), timeout, unrouted, eager=eager)
    return True


def _caller() -> Client:
    """``urllib`` when urllib.request opened the connection, else ``http.client``."""
    frame: FrameType | None = sys._getframe(2)
    for _ in range(16):
        if frame is None:
            break
        if frame.f_globals.get("__name__") == "urllib.request":
            return "urllib"
        frame = frame.f_back
    return "http.client"


def _refused(message: str) -> Exception:
    return ConnectionRefusedError(errno.ECONNREFUSED, message)


class WireSocket:
    """A connected socket in memory: what the client sends, the world answers.

    ``eager``: serve each request as soon as it is written (http.client: a refused connection
    then fails the send, where urllib.request reports it as ``URLError``); otherwise when the
    client starts reading the response (urllib3 sets the read timeout only then). Requests go
    to the world active when they are sent; with none active the connection is dropped.
    """

    family = socket.AF_INET
    type = socket.SOCK_STREAM
    proto = socket.IPPROTO_TCP

    def __init__(
        self,
        client: Client,
        base: str,
        timeout: float | None,
        unrouted: Unrouted,
        *,
        eager: bool,
    ) -> None:
        self._client = client
        self._reader = RequestReader(base)
        self._timeout = timeout
        self._unrouted = unrouted
        self._eager = eager
        self._sent: deque[httpx.Request] = deque()
        self._answers: deque[io.RawIOBase | io.BytesIO] = deque()

    # -- what clients call -----------------------------------------------------------------

    def sendall(self, data: Any, flags: int = 0) -> None:
        for request in self._reader.feed(memoryview(data).cast("B")):
            if self._eager:
                self._answers.append(self._serve(request))
            else:
                self._sent.append(request)

    def send(self, data: Any, flags: int = 0) -> int:
        self.sendall(data)
        return len(memoryview(data).cast("B"))

    def makefile(self, mode: str = "rb", *args: Any, **kwargs: Any) -> Any:
        if self._sent:
            self._answers.append(self._serve(self._sent.popleft()))
        if self._answers:
            return self._answers.popleft()
        return io.BytesIO(b"")  # nothing asked: the peer closed (http.client: RemoteDisconnected)

    def settimeout(self, timeout: float | None) -> None:
        self._timeout = timeout

    def gettimeout(self) -> float | None:
        return self._timeout

    def setsockopt(self, *args: Any) -> None:
        pass

    def fileno(self) -> int:
        return _quiet_fd() if active() is not None else _dropped_fd()

    def shutdown(self, how: int) -> None:
        pass

    def close(self) -> None:
        self._sent.clear()
        self._answers.clear()

    # -- serving -----------------------------------------------------------------------------

    def _serve(self, request: httpx.Request) -> io.RawIOBase | io.BytesIO:
        timeout = self._timeout if isinstance(self._timeout, int | float) else None
        dispatcher = active()
        if dispatcher is None:  # kept open past its world: dropped, as an idle server drops it
            raise ConnectionResetError(errno.ECONNRESET, "Connection reset by peer")
        try:
            response = dispatcher.dispatch(request, client=self._client, timeout=timeout)
        except FaultSignal as signal:
            if signal.what == "unrouted":
                raise self._unrouted(signal.message) from None
            if signal.what == "timeout":
                return _Failing(lambda: TimeoutError("timed out"))
            return _Failing(
                lambda: ConnectionResetError(errno.ECONNRESET, "Connection reset by peer")
            )
        return io.BytesIO(encode_response(response, method=request.method))


class _Failing(io.RawIOBase):
    """A response stream whose first read fails as the socket's would."""

    def __init__(self, error: Callable[[], OSError]) -> None:
        super().__init__()
        self._error = error

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        raise self._error()

    def readline(self, size: int | None = -1) -> bytes:
        raise self._error()

    def peek(self, size: int = 0) -> bytes:
        raise self._error()


_PIPES: dict[str, int] = {}
_PIPES_LOCK = threading.Lock()


def _quiet_fd() -> int:
    """A descriptor never readable: what ``select`` sees of a quiet, open connection (urllib3
    polls a pooled connection before reusing it)."""
    with _PIPES_LOCK:
        if "quiet" not in _PIPES:
            _PIPES["quiet"], _PIPES["quiet-end"] = os.pipe()
        return _PIPES["quiet"]


def _dropped_fd() -> int:
    """A descriptor always readable, at its end: a connection the server has closed."""
    with _PIPES_LOCK:
        if "dropped" not in _PIPES:
            _PIPES["dropped"], end = os.pipe()
            os.close(end)
        return _PIPES["dropped"]
