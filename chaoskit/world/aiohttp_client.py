"""Interception of aiohttp, at the connector: the session speaks HTTP/1.1 to the world in memory.

While a world is active, ``TCPConnector._create_connection`` (where aiohttp would resolve the
host and open a socket) returns aiohttp's own ``ResponseHandler`` on an in-memory transport, so
sessions and connectors created before the world are covered, and everything above the socket
is aiohttp's: the request is written by its writer, the answer parsed by its parser (repeated
``Set-Cookie`` headers, ``resp.content.read()``, ``iter_chunked``, ``json()``), connections are
pooled and reused, redirects and cookies are followed. Faults reach the session as aiohttp
delivers them from a real socket:

- a timeout, after the request's ``ClientTimeout`` in virtual time: with ``sock_read`` set (and
  not above ``total``), ``aiohttp.SocketTimeoutError`` (a ``ServerTimeoutError``), as aiohttp's
  read timer sets it; with only ``total``, the bare ``asyncio.TimeoutError`` aiohttp raises when
  the total runs out (the default ``ClientTimeout(total=300)`` waits 300 virtual seconds);
- a reset: the connection is lost with ``ConnectionResetError``, which aiohttp raises as
  ``ClientOSError`` (a ``ClientConnectionError``) and, for an idempotent method, retries once
  on a new connection, as it does after a real reset;
- a host no fake serves: ``ClientConnectorError`` carrying the ``chaoskit:`` message.

A loopback host no fake serves keeps its real connection.
"""

from __future__ import annotations

import asyncio
import errno
import importlib
from typing import Any

from chaoskit.world.codec import RequestReader, encode_response, origin
from chaoskit.world.dispatch import Dispatcher, FaultSignal, active, aturn
from chaoskit.world.patches import Patch

__all__ = ["WireTransport", "aiohttp_patches"]


def aiohttp_patches(dispatcher: Dispatcher) -> list[Patch]:
    """Route aiohttp's TCP connections (aiohttp not installed: nothing to patch)."""
    try:
        connector = importlib.import_module("aiohttp.connector")
        handler = importlib.import_module("aiohttp.client_proto").ResponseHandler
    except ImportError:
        return []
    create, connect = connector.TCPConnector._create_connection, connector.BaseConnector.connect

    async def create_connection(self: Any, req: Any, traces: Any, timeout: Any) -> Any:
        if not dispatcher.routes(req.url.raw_host or "", req.port):
            return await create(self, req, traces, timeout)
        protocol = handler(asyncio.get_running_loop())
        protocol.connection_made(WireTransport(protocol, req))
        return protocol

    async def pooled_connect(self: Any, req: Any, traces: Any, timeout: Any) -> Any:
        await aturn()  # each request takes a connection here: its task can wait for its turn
        conn = await connect(self, req, traces=traces, timeout=timeout)
        transport = conn.transport
        if isinstance(transport, WireTransport):  # a pooled connection serves this request now
            transport.timeout = timeout
        return conn

    return [
        (connector.TCPConnector, "_create_connection", create_connection),
        (connector.BaseConnector, "connect", pooled_connect),
    ]


class WireTransport(asyncio.Transport):
    """One connection in memory: requests written to it are served by the world, the answers
    fed back to aiohttp's protocol on the next turn of the loop, as a socket would.

    Requests go to the world active when they are written; with none active the connection
    reads as closing, so the session's pool replaces it.
    """

    def __init__(self, protocol: Any, req: Any) -> None:
        host, port = req.url.raw_host or "", req.port
        super().__init__(extra={"peername": (host, port)})
        self._protocol = protocol
        self._loop = asyncio.get_running_loop()
        self._reader = RequestReader(origin("https" if req.is_ssl() else "http", host, port))
        self._key = req.connection_key
        self._closing = False
        #: The ``ClientTimeout`` of the request being sent on this connection.
        self.timeout: Any = None

    # -- asyncio.Transport -------------------------------------------------------------------

    def write(self, data: Any) -> None:
        if self._closing:
            return
        for request in self._reader.feed(memoryview(data).cast("B")):
            self._serve(request)

    def writelines(self, list_of_data: Any) -> None:
        self.write(b"".join(bytes(chunk) for chunk in list_of_data))

    def is_closing(self) -> bool:
        return self._closing or active() is None

    def close(self) -> None:
        if not self._closing:
            self._closing = True
            self._soon(self._protocol.connection_lost, None)

    def abort(self) -> None:
        self.close()

    def get_write_buffer_size(self) -> int:
        return 0

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def can_write_eof(self) -> bool:
        return False

    def is_reading(self) -> bool:
        return not self._closing

    def pause_reading(self) -> None:
        pass  # answers arrive whole; aiohttp's buffer limits do not apply in memory

    def resume_reading(self) -> None:
        pass

    # -- serving -----------------------------------------------------------------------------

    def _serve(self, request: Any) -> None:
        timeout, total = self._read_timeout()
        dispatcher = active()
        try:
            if dispatcher is None:
                raise FaultSignal("reset", "the connection outlived its world")
            response = dispatcher.dispatch(request, client="aiohttp", timeout=timeout)
        except FaultSignal as signal:
            self._soon(self._fail, signal, total)
            return
        except BaseException as error:
            # The engine's own (Hypothesis ending the example, the agent interrupted): the
            # agent's call must raise it, as with any client, not aiohttp's body-writer task.
            self._soon(self._protocol.set_exception, error)
            return
        self._soon(self._deliver, encode_response(response, method=request.method))

    def _read_timeout(self) -> tuple[float | None, bool]:
        """The timeout a silent server runs into first, and whether it is the total one."""
        sock_read = getattr(self.timeout, "sock_read", None)
        total = getattr(self.timeout, "total", None)
        if sock_read and not (total and total < sock_read):
            return float(sock_read), False
        if total:
            return float(total), True
        return None, False

    def _deliver(self, data: bytes) -> None:
        if not self._closing:
            self._protocol.data_received(data)

    def _fail(self, signal: FaultSignal, total: bool) -> None:
        errors = importlib.import_module("aiohttp.client_exceptions")
        if signal.what == "timeout":
            read_timeout = getattr(errors, "SocketTimeoutError", errors.ServerTimeoutError)
            error = (
                TimeoutError()  # what aiohttp's timer raises: asyncio.TimeoutError
                if total
                else read_timeout("Timeout on reading data from socket")
            )
            self._protocol.set_exception(error)
        elif signal.what == "reset":
            self._closing = True
            reset = ConnectionResetError(errno.ECONNRESET, "Connection reset by peer")
            self._protocol.connection_lost(reset)
        else:
            refused = ConnectionRefusedError(errno.ECONNREFUSED, signal.message)
            self._protocol.set_exception(errors.ClientConnectorError(self._key, refused))

    def _soon(self, callback: Any, *args: Any) -> None:
        if not self._loop.is_closed():
            self._loop.call_soon(callback, *args)
