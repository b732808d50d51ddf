"""HTTP/1.1 on the wire for server mode: one connection's requests, read, served, answered.

:mod:`chaoskit.world.server` owns the listening sockets and the threads; this module is what
runs for each connection: it reads a request (``Content-Length`` or chunked body), turns it
into the :class:`httpx.Request` the in-process clients would have made to the backend's own
host, has the world dispatch it, and writes the outcome back, faults included:

- a response (200s, and 429/5xx in the backend's own shape) is written with ``Content-Length``
  in one write; a latency fault first waits its virtual seconds scaled to real time;
- a timeout holds the connection without answering until the client gives up (closes it), or
  the hold's cap in real time passes, or the server stops; then the connection is closed;
- a reset closes the socket with ``SO_LINGER`` 0, so the client gets a real RST.
"""

from __future__ import annotations

import math
import select
import socket
import struct
import sys
import threading
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any, Protocol, cast

import httpx

from chaoskit._version import __version__
from chaoskit.core.agent import AgentCrashed
from chaoskit.world.intercept import FaultSignal
from chaoskit.world.timepatch import real_monotonic
from chaoskit.world.timepatch.state import _REAL

if TYPE_CHECKING:
    from chaoskit.fakes import FakeBackend

__all__ = ["LATENCY", "Connection", "Endpoint", "Routed"]

#: The response extension a latency fault sets (virtual seconds): the wire waits it, scaled.
LATENCY = "chaoskit.latency"
#: Largest request body read; a bigger one gets 413 (the fakes take small JSON or form bodies).
MAX_BODY = 16 * 1024 * 1024
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "content-length",
        "host",
    }
)
_RETRY_HEADERS = (("retry-after", 1.0), ("retry-after-ms", 1000.0))


class _BadRequest(Exception):
    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Routed:
    """Where a request goes: the backend's host (None: no fake, as in-process) and its path."""

    host: str
    path: str
    fake: FakeBackend | None


class Endpoint(Protocol):
    """What a connection needs of the server it came in on (:mod:`chaoskit.world.server`)."""

    time_scale: float
    hold: float
    stopping: threading.Event

    def route(self, host_header: str | None, target: str) -> Routed: ...

    def dispatch(self, request: httpx.Request) -> httpx.Response: ...

    def unrouted(self, host_header: str | None, target: str) -> str: ...


class Connection(BaseHTTPRequestHandler):
    """One client connection: HTTP/1.1 keep-alive, requests served one after another."""

    protocol_version = "HTTP/1.1"
    server_version = f"chaoskit/{__version__}"
    disable_nagle_algorithm = True

    @property
    def endpoint(self) -> Endpoint:
        return cast("Endpoint", self.server)

    def handle_one_request(self) -> None:
        # Like the base class, but every method is served by one function.
        try:
            self.raw_requestline = self.rfile.readline(65537)
        except (ConnectionError, TimeoutError, OSError):
            self.close_connection = True
            return
        if len(self.raw_requestline) > 65536:
            self._refuse(HTTPStatus.REQUEST_URI_TOO_LONG, "chaoskit: request line too long.")
            return
        if not self.raw_requestline:
            self.close_connection = True
            return
        if not self.parse_request():  # it answered the client already
            return
        self._serve()
        try:
            self.wfile.flush()
        except OSError:
            self.close_connection = True

    def _serve(self) -> None:
        try:
            body = self._body()
        except _BadRequest as bad:
            self._refuse(bad.status, str(bad))
            return
        endpoint = self.endpoint
        routed = endpoint.route(self.headers.get("host"), self.path)
        try:
            request = httpx.Request(
                self.command,
                f"https://{routed.host}{routed.path}",
                headers=[(k, v) for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP],
                content=body,
            )
        except (httpx.InvalidURL, ValueError) as error:  # a Host or target no URL can hold
            self._refuse(HTTPStatus.BAD_REQUEST, f"chaoskit: bad request target: {error}.")
            return
        try:
            response = endpoint.dispatch(request)
        except FaultSignal as signal:
            self._fault(signal)
            return
        except AgentCrashed as crashed:  # a process elsewhere cannot be killed from here
            self._fault(FaultSignal("reset", str(crashed)))
            return
        except Exception as error:  # a fake's own bug: answer it, keep serving the others
            message = f"chaoskit: the fake raised {type(error).__name__}: {error}"
            print(message, file=sys.stderr)
            self._answer_error(HTTPStatus.INTERNAL_SERVER_ERROR, message)
            return
        delay = response.extensions.get(LATENCY)
        if delay and endpoint.stopping.wait(float(delay) * endpoint.time_scale):
            self.close_connection = True  # stopping: the server is going away
            return
        self._write(response)

    # -- reading ----------------------------------------------------------------------------------

    def _body(self) -> bytes:
        encoding = self.headers.get("transfer-encoding", "").lower()
        if encoding:
            if encoding.split(",")[-1].strip() != "chunked":
                raise _BadRequest(
                    HTTPStatus.NOT_IMPLEMENTED,
                    f"chaoskit: Transfer-Encoding {encoding!r} is not supported; send the body "
                    "with Content-Length or Transfer-Encoding: chunked.",
                )
            return self._chunked()
        length = self.headers.get("content-length")
        if length is None:
            return b""
        try:
            size = int(length)
        except ValueError:
            size = -1
        if size < 0:
            self.close_connection = True
            raise _BadRequest(HTTPStatus.BAD_REQUEST, f"chaoskit: bad Content-Length {length!r}.")
        if size > MAX_BODY:
            self.close_connection = True
            raise _BadRequest(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"chaoskit: a request body of {size} bytes is more than the fakes take "
                f"({MAX_BODY}).",
            )
        return self._exactly(size)

    def _chunked(self) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                self.close_connection = True
                raise _BadRequest(
                    HTTPStatus.BAD_REQUEST, f"chaoskit: bad chunk size line {line[:40]!r}."
                ) from None
            total += size
            if total > MAX_BODY:
                self.close_connection = True
                raise _BadRequest(
                    HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                    f"chaoskit: a chunked body of more than {MAX_BODY} bytes.",
                )
            if size == 0:
                self._trailers()
                return b"".join(parts)
            parts.append(self._exactly(size))
            self._exactly(2)  # the CRLF after each chunk

    def _trailers(self) -> None:
        while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
            pass

    def _exactly(self, size: int) -> bytes:
        data = self.rfile.read(size)
        if len(data) < size:
            self.close_connection = True
            raise _BadRequest(HTTPStatus.BAD_REQUEST, "chaoskit: the request body was cut short.")
        return data

    # -- answering --------------------------------------------------------------------------------

    def _write(self, response: httpx.Response) -> None:
        body = response.content
        lines = [f"HTTP/1.1 {response.status_code} {_reason(response.status_code)}"]
        seen_date = False
        for key, value in response.headers.multi_items():
            lower = key.lower()
            if lower in _HOP_BY_HOP:
                continue
            seen_date = seen_date or lower == "date"
            lines.append(f"{key}: {_scaled(lower, value, self.endpoint.time_scale)}")
        if not seen_date:
            lines.append(f"Date: {formatdate(_REAL.time(), usegmt=True)}")
        lines.append(f"Server: {self.server_version}")
        lines.append(f"Content-Length: {len(body)}")
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self._send(head if self.command == "HEAD" else head + body)

    def _answer_error(self, status: HTTPStatus, message: str) -> None:
        content = httpx.Response(
            status, json={"error": {"type": "chaoskit_error", "message": message}}
        )
        self._write(content)

    def _refuse(self, status: HTTPStatus, message: str) -> None:
        self.close_connection = True
        self._answer_error(status, message)

    def _send(self, data: bytes) -> None:
        try:
            self.wfile.write(data)
        except OSError:  # the client went away: nothing to answer
            self.close_connection = True

    def _fault(self, signal: FaultSignal) -> None:
        if signal.what == "timeout":
            self.close_connection = True
            _hold(self.connection, self.endpoint.hold, self.endpoint.stopping)
        elif signal.what == "reset":
            self.close_connection = True
            _reset(self.connection)
        else:
            message = self.endpoint.unrouted(self.headers.get("host"), self.path)
            self._answer_error(HTTPStatus.NOT_FOUND, message)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the trace records every request; the console is the user's."""


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _scaled(header: str, value: str, scale: float) -> str:
    """``Retry-After`` in real seconds: virtual seconds × scale, rounded up (never to 0).

    Clients parse it as whole seconds; rounding up keeps a client that waits what it says
    honouring the virtual wait (the world's clock follows real time ÷ scale).
    """
    for name, unit in _RETRY_HEADERS:
        if header == name:
            try:
                seconds = float(value) / unit
            except ValueError:
                return value  # an HTTP date: left as it is
            if seconds <= 0:
                return value
            real = seconds * scale * unit
            return str(max(1, math.ceil(real - 1e-9)))
    return value


def _hold(sock: socket.socket, cap: float, stopping: threading.Event) -> None:
    """Keep the connection open, unanswered, until the client closes it or ``cap`` passes."""
    deadline = real_monotonic() + cap
    while not stopping.is_set():
        remaining = deadline - real_monotonic()
        if remaining <= 0:
            return
        try:
            readable, _, _ = select.select([sock], [], [], min(remaining, 0.5))
            if readable and not sock.recv(1, socket.MSG_PEEK):
                return  # the client closed: it gave up
        except (OSError, ValueError):
            return
        if readable:  # it sent more without waiting: hold on without reading it
            stopping.wait(remaining)
            return


def _reset(sock: socket.socket) -> None:
    """Abort the connection: with SO_LINGER 0 the close sends RST, not FIN."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        return
    # The handler's reader still holds the socket: the real close (the RST) comes when the
    # handler finishes, before socketserver's own shutdown(SHUT_WR) could send a FIN first.
    sock.close()
