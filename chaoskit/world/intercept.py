"""Interception: every request of every Python HTTP client goes to the active world.

The agent is never modified. While a world is active, the transports of httpx, httpx2 and
requests are patched at class level (so clients created before the world started are covered
too), each request is converted to one :class:`httpx.Request`, served by the world, and the
outcome is converted back into what that client library itself would return or raise.
aiohttp (:mod:`chaoskit.world.aiohttp_client`), urllib3 and urllib.request / http.client
(:mod:`chaoskit.world.stdlib_clients`) are routed at the connection, the library speaking
HTTP/1.1 to the world in memory. A real socket connection to anything but loopback is refused
outright, by the rules of :mod:`chaoskit.world.guard`.
"""

from __future__ import annotations

import importlib
import io
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from typing import Any

import httpx

from chaoskit.world.aiohttp_client import aiohttp_patches
from chaoskit.world.dispatch import (
    DEFAULT_TIMEOUT,
    Client,
    Dispatcher,
    FaultSignal,
    aturn,
    serving,
)
from chaoskit.world.guard import check_address
from chaoskit.world.patches import Patch, applied
from chaoskit.world.stdlib_clients import http_client_patches, urllib3_patches

__all__ = ["DEFAULT_TIMEOUT", "Client", "Dispatcher", "FaultSignal", "intercept"]


@contextmanager
def intercept(dispatcher: Dispatcher) -> Iterator[None]:
    """Route every httpx, httpx2, requests, aiohttp, urllib3 and urllib.request / http.client
    call to ``dispatcher`` while active."""
    patches = _httpx_patches(dispatcher) + _httpx2_patches(dispatcher)
    patches += _requests_patches(dispatcher) + aiohttp_patches(dispatcher)
    patches += urllib3_patches(dispatcher) + http_client_patches(dispatcher)
    patches += _socket_patches() + _ssl_patches()
    with applied(patches), serving(dispatcher):
        yield


# -- httpx -----------------------------------------------------------------------------------


def _timeout_of(extensions: dict[str, Any]) -> float | None:
    timeout = extensions.get("timeout") or {}
    read = timeout.get("read")
    return float(read) if read is not None else None


def _httpx_patches(dispatcher: Dispatcher) -> list[Patch]:
    def handle(self: object, request: httpx.Request) -> httpx.Response:
        response: httpx.Response = _via_httpx(dispatcher, request, "httpx", httpx)
        return response

    async def ahandle(self: object, request: httpx.Request) -> httpx.Response:
        await aturn()
        await request.aread()
        response: httpx.Response = _via_httpx(dispatcher, request, "httpx", httpx)
        return response

    return [
        (httpx.HTTPTransport, "handle_request", handle),
        (httpx.AsyncHTTPTransport, "handle_async_request", ahandle),
    ]


def _via_httpx(dispatcher: Dispatcher, request: Any, client: Client, lib: Any) -> Any:
    """Serve ``request`` of the httpx-API library ``lib`` (httpx itself or httpx2)."""
    if lib is httpx:
        native = request
    else:
        native = httpx.Request(
            request.method, str(request.url), headers=request.headers.raw, content=request.read()
        )
    try:
        response = dispatcher.dispatch(
            native, client=client, timeout=_timeout_of(request.extensions)
        )
    except FaultSignal as signal:
        raise _httpx_error(lib, signal, request) from None
    if lib is httpx:
        return response
    return lib.Response(
        response.status_code, headers=response.headers.raw, content=response.content
    )


def _httpx_error(lib: Any, signal: FaultSignal, request: Any) -> Exception:
    kind = {"timeout": lib.ReadTimeout, "reset": lib.ReadError, "unrouted": lib.ConnectError}
    error: Exception = kind[signal.what](signal.message, request=request)
    return error


# -- httpx2 ----------------------------------------------------------------------------------


def _httpx2_patches(dispatcher: Dispatcher) -> list[Patch]:
    try:
        lib = importlib.import_module("httpx2")
    except ImportError:
        return []

    def handle(self: object, request: Any) -> Any:
        return _via_httpx(dispatcher, request, "httpx2", lib)

    async def ahandle(self: object, request: Any) -> Any:
        await aturn()
        await request.aread()
        return _via_httpx(dispatcher, request, "httpx2", lib)

    return [
        (lib.HTTPTransport, "handle_request", handle),
        (lib.AsyncHTTPTransport, "handle_async_request", ahandle),
    ]


# -- requests --------------------------------------------------------------------------------


def _requests_patches(dispatcher: Dispatcher) -> list[Patch]:
    try:
        adapters = importlib.import_module("requests.adapters")
    except ImportError:
        return []

    def send(self: Any, request: Any, stream: bool = False, timeout: Any = None, **_: Any) -> Any:
        return _via_requests(dispatcher, self, request, timeout)

    return [(adapters.HTTPAdapter, "send", send)]


def _requests_timeout(timeout: Any) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, tuple):
        timeout = timeout[1]
    read = getattr(timeout, "read_timeout", timeout)
    return float(read) if isinstance(read, int | float) else None


def _via_requests(dispatcher: Dispatcher, adapter: Any, prepared: Any, timeout: Any) -> Any:
    """Serve a prepared request as ``adapter.send`` would, its urllib3 ``Retry`` included.

    An adapter mounted with ``max_retries=Retry(...)`` (zenpy mounts one retrying 413 and 503)
    has urllib3 retry inside ``send``: statuses in its ``status_forcelist`` (or with
    ``Retry-After``), timeouts and resets, for the methods it allows, sleeping its backoff on
    the virtual clock; exhausted, requests raises ``RetryError`` or ``ConnectionError``. The
    default adapter's ``Retry(0, read=False)`` retries nothing.
    """
    body = prepared.body
    if body is None:
        content = b""
    elif isinstance(body, str):
        content = body.encode("utf-8")
    elif isinstance(body, bytes):
        content = body
    else:  # a file or an iterator of chunks
        content = body.read() if hasattr(body, "read") else b"".join(body)
    native = httpx.Request(
        prepared.method, prepared.url, headers=dict(prepared.headers), content=content
    )
    read_timeout = _requests_timeout(timeout)
    retries = getattr(adapter, "max_retries", None)
    while True:
        try:
            response = dispatcher.dispatch(native, client="requests", timeout=read_timeout)
        except FaultSignal as signal:
            if signal.what == "unrouted" or retries is None:
                raise _requests_error(signal, prepared, native, read_timeout) from None
            retries = _retry_error(retries, signal, prepared, native, read_timeout)
            continue
        if retries is None or not _retry_status(retries, prepared, response):
            return _requests_response(adapter, prepared, response)
        try:
            retries = _retry_response(retries, prepared, response)
        except _KeepResponse:
            return _requests_response(adapter, prepared, response)


class _KeepResponse(Exception):
    """The retries ran out on a status, and the ``Retry`` says to return the last response."""


def _urllib3_error(signal: FaultSignal, host: str, timeout: float | None) -> Exception:
    from urllib3.exceptions import ProtocolError, ReadTimeoutError

    if signal.what == "timeout":
        return ReadTimeoutError(None, host, f"Read timed out. (read timeout={timeout})")  # type: ignore[arg-type]
    reset = ConnectionResetError(104, "Connection reset by peer")
    return ProtocolError("Connection aborted.", reset)


def _retry_error(
    retries: Any, signal: FaultSignal, prepared: Any, native: httpx.Request, timeout: float | None
) -> Any:
    """The next ``Retry`` after a timeout or reset, or the exception requests raises."""
    from requests import exceptions
    from urllib3.exceptions import MaxRetryError

    error = _urllib3_error(signal, native.url.host, timeout)
    try:
        retries = retries.increment(prepared.method, prepared.url, error=error)
    except MaxRetryError as exhausted:
        raise exceptions.ConnectionError(exhausted, request=prepared) from None
    except Exception:  # not retryable: urllib3 re-raises the error itself
        raise _requests_error(signal, prepared, native, timeout) from None
    retries.sleep()
    return retries


def _retry_status(retries: Any, prepared: Any, response: httpx.Response) -> bool:
    has_retry_after = bool(response.headers.get("retry-after"))
    return bool(retries.is_retry(prepared.method, response.status_code, has_retry_after))


def _retry_response(retries: Any, prepared: Any, response: httpx.Response) -> Any:
    """The next ``Retry`` after a status it retries (slept), or ``RetryError`` when spent."""
    from requests import exceptions
    from urllib3 import HTTPResponse
    from urllib3.exceptions import MaxRetryError

    seen = HTTPResponse(
        body=response.content,
        headers=dict(response.headers.multi_items()),
        status=response.status_code,
        preload_content=True,
    )
    try:
        retries = retries.increment(prepared.method, prepared.url, response=seen)
    except MaxRetryError as exhausted:
        if retries.raise_on_status:
            raise exceptions.RetryError(exhausted, request=prepared) from None
        raise _KeepResponse from None
    retries.sleep(seen)
    return retries


def _requests_response(adapter: Any, prepared: Any, response: httpx.Response) -> Any:
    import requests
    from requests.structures import CaseInsensitiveDict
    from requests.utils import get_encoding_from_headers

    out = requests.Response()
    out.status_code = response.status_code
    out.headers = CaseInsensitiveDict(response.headers.multi_items())
    out._content = response.content
    out.raw = io.BytesIO(response.content)
    out.url = prepared.url
    out.request = prepared
    out.reason = _reason(response.status_code)
    out.encoding = get_encoding_from_headers(out.headers)
    out.connection = adapter
    return out


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _requests_error(
    signal: FaultSignal, prepared: Any, native: httpx.Request, timeout: float | None
) -> Exception:
    from requests import exceptions
    from urllib3.exceptions import ProtocolError

    host = native.url.host
    if signal.what == "timeout":
        message = (
            f"HTTPSConnectionPool(host='{host}', port=443): Read timed out. "
            f"(read timeout={timeout})"
        )
        return exceptions.ReadTimeout(message, request=prepared)
    if signal.what == "reset":
        reason = ProtocolError(
            "Connection aborted.", ConnectionResetError(104, "Connection reset by peer")
        )
        return exceptions.ConnectionError(reason, request=prepared)
    return exceptions.ConnectionError(signal.message, request=prepared)


# -- TLS contexts ----------------------------------------------------------------------------


_SSL_CACHE: dict[tuple[Any, ...], ssl.SSLContext] = {}


def _ssl_patches() -> list[Patch]:
    """Share TLS contexts inside a world: no request leaves it, and each costs ~25 ms.

    Agents often build a fresh client per call (``httpx.get``, and every ``urlopen``, whose
    ``HTTPSConnection`` asks ``ssl._create_default_https_context``); loading the CA bundle
    each time would dominate the cost of an example.
    """
    original = ssl.create_default_context

    def cached(purpose: Any = ssl.Purpose.SERVER_AUTH, **kwargs: Any) -> ssl.SSLContext:
        key = (purpose, *sorted(kwargs.items()))
        context = _SSL_CACHE.get(key)
        if context is None:
            context = _SSL_CACHE[key] = original(purpose, **kwargs)
        return context

    patches: list[Patch] = [(ssl, "create_default_context", cached)]
    if ssl._create_default_https_context is original:  # http.client's (urllib.request's) own
        patches.append((ssl, "_create_default_https_context", cached))
    return patches


# -- sockets ---------------------------------------------------------------------------------


def _socket_patches() -> list[Patch]:
    """Check a socket's address before ``connect``, ``connect_ex`` or ``sendto`` resolves it.

    The guard's audit hook (:mod:`chaoskit.world.guard`) sees every connection, but a host name
    in the address is resolved inside these methods before their audit event fires, with no
    ``socket.getaddrinfo`` event of its own: a real DNS query. Here the guard's rules run first.
    """
    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex
    original_sendto = socket.socket.sendto

    def connect(self: socket.socket, address: Any) -> None:
        _refuse_remote(address, self.family)
        original_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        _refuse_remote(address, self.family)
        return original_connect_ex(self, address)

    def sendto(self: socket.socket, data: Any, *rest: Any) -> int:
        if rest:  # sendto(data, address) or sendto(data, flags, address)
            _refuse_remote(rest[-1], self.family)
        return original_sendto(self, data, *rest)

    return [
        (socket.socket, "connect", connect),
        (socket.socket, "connect_ex", connect_ex),
        (socket.socket, "sendto", sendto),
    ]


def _refuse_remote(address: Any, family: int = socket.AF_INET) -> None:
    """Unix sockets and loopback pass (local servers are allowed); anything else is refused."""
    check_address(address, family)
