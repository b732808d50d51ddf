"""HTTP/1.1 in memory, for the clients routed below their own parser.

aiohttp, urllib3, urllib.request and http.client are intercepted at the connection: the client
writes its request as bytes and parses the response from bytes with its own code, so headers
(several ``Set-Cookie`` included), streaming reads, keep-alive and every error it builds come
from the library itself. :class:`RequestReader` turns the bytes a client writes into
:class:`httpx.Request` objects; :func:`encode_response` turns a fake's response into bytes.
"""

from __future__ import annotations

from http import HTTPStatus

import httpx

__all__ = ["RequestReader", "encode_response", "origin"]

_NO_BODY = frozenset({204, 304})


class RequestReader:
    """The requests one connection has written, each returned once it is complete.

    ``base`` is the connection's scheme and authority (``https://api.stripe.com``); a request
    line in absolute form (``GET http://host/path``, what a client sends to a forwarding
    proxy) names its own.
    """

    def __init__(self, base: str) -> None:
        self.base = base
        self._buffer = bytearray()

    def feed(self, data: bytes | bytearray | memoryview) -> list[httpx.Request]:
        """Add written bytes; return the requests they complete, in order."""
        self._buffer += data
        done = []
        while (request := self._next()) is not None:
            done.append(request)
        return done

    def _next(self) -> httpx.Request | None:
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            return None
        lines = bytes(self._buffer[:end]).decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = [_header(line) for line in lines[1:] if line]
        framing = {name.lower(): value for name, value in headers}
        start = end + 4
        if "chunked" in framing.get("transfer-encoding", "").lower():
            found = _dechunk(self._buffer, start)
            if found is None:
                return None
            body, stop = found
            headers = [(n, v) for n, v in headers if n.lower() != "transfer-encoding"]
        else:
            stop = start + int(framing.get("content-length", "0") or "0")
            if len(self._buffer) < stop:
                return None
            body = bytes(self._buffer[start:stop])
        del self._buffer[:stop]
        url = target if target.startswith(("http://", "https://")) else self.base + target
        return httpx.Request(method, url, headers=headers, content=body)


def _header(line: str) -> tuple[str, str]:
    name, _, value = line.partition(":")
    return name.strip(), value.strip()


def _dechunk(buffer: bytearray, at: int) -> tuple[bytes, int] | None:
    """The body of a chunked message starting at ``at`` and where it ends; None: incomplete."""
    body = bytearray()
    while True:
        eol = buffer.find(b"\r\n", at)
        if eol < 0:
            return None
        size = int(bytes(buffer[at:eol]).split(b";", 1)[0].strip() or b"0", 16)
        at = eol + 2
        if size == 0:
            break
        if len(buffer) < at + size + 2:
            return None
        body += buffer[at : at + size]
        at += size + 2
    while True:  # trailer fields, then the empty line that ends the message
        eol = buffer.find(b"\r\n", at)
        if eol < 0:
            return None
        if eol == at:
            return bytes(body), eol + 2
        at = eol + 2


def encode_response(response: httpx.Response, *, method: str) -> bytes:
    """The response as an HTTP/1.1 server sends it, framed by ``Content-Length``.

    Header names keep their case and repeated fields stay repeated (``Set-Cookie``); a HEAD,
    204 or 304 answer carries no body.
    """
    status = response.status_code
    lines = [f"HTTP/1.1 {status} {_reason(status)}".encode("ascii")]
    lines += [
        name + b": " + value
        for name, value in response.headers.raw
        if name.lower() not in (b"content-length", b"transfer-encoding")
    ]
    bodiless = status in _NO_BODY or status < 200
    content = b"" if bodiless else response.content
    if not bodiless:
        lines.append(b"Content-Length: %d" % len(content))
    if method == "HEAD":
        content = b""
    return b"\r\n".join(lines) + b"\r\n\r\n" + content


def origin(scheme: str, host: str, port: int | None) -> str:
    """``scheme://host[:port]``, the port only when it is not the scheme's default."""
    default = 443 if scheme == "https" else 80
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}" if port in (None, default) else f"{scheme}://{shown}:{port}"


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
