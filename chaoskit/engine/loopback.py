"""One HTTP/1.1 POST to a loopback service, in real time, around every client interception.

While a world is active, chaoskit routes the HTTP clients of its own process to the fakes (and
time is virtual), so the call to an agent service is made on a plain socket: the request
written by hand, the response parsed by :mod:`http.client` from the bytes read.
"""

from __future__ import annotations

import http.client
import io
import selectors
import socket

from chaoskit.world.timepatch import real_monotonic

__all__ = ["post_json"]


class _Received:
    """What :class:`http.client.HTTPResponse` reads from: the bytes already received."""

    def __init__(self, data: bytes) -> None:
        self._file = io.BytesIO(data)

    def makefile(self, *args: object, **kwargs: object) -> io.BytesIO:
        return self._file


def post_json(
    host: str, port: int, target: str, body: bytes, deadline: float
) -> tuple[int, str, bytes]:
    """POST ``body`` as JSON; ``(status, reason, body)``. ``TimeoutError`` past ``deadline``
    (on the real monotonic clock), ``OSError`` when the service cannot be reached."""
    request = (
        f"POST {target} HTTP/1.1\r\nHost: {_host_header(host, port)}\r\n"
        "Content-Type: application/json\r\nAccept: application/json, text/plain\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode("latin-1") + body
    with socket.create_connection((host, port), timeout=_left(deadline)) as sock:
        sock.sendall(request)
        sock.setblocking(False)
        data = _read_all(sock, deadline)
    response = http.client.HTTPResponse(_Received(data))  # type: ignore[arg-type]
    try:
        response.begin()
        return response.status, response.reason, response.read()
    except (http.client.HTTPException, ValueError) as error:
        raise ConnectionError(f"the answer is not HTTP/1.1 ({error!r})") from None


def _read_all(sock: socket.socket, deadline: float) -> bytes:
    """Read until the service closes the connection, in short slices so that an interruption
    of the calling thread lands between two."""
    chunks: list[bytes] = []
    with selectors.DefaultSelector() as selector:
        selector.register(sock, selectors.EVENT_READ)
        while True:
            if real_monotonic() >= deadline:
                raise TimeoutError("the agent service did not answer in time")
            if not selector.select(timeout=0.05):
                continue
            chunk = sock.recv(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


def _left(deadline: float) -> float:
    return max(deadline - real_monotonic(), 0.01)


def _host_header(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
