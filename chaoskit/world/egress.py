"""The one way out of a world: a passthrough model request sent for real to an allowed host.

A scenario with ``model = "passthrough"`` names the hosts its model traffic may reach
(``allow_hosts``); the world routes requests to them to a
:class:`~chaoskit.fakes.model.PassthroughModel`, which calls :func:`send_for_real`. The
request goes through httpx's own transport as it was before any world patched it, in the
calling thread, with the guard told that this thread, for this request only, may resolve and
connect (:func:`~chaoskit.world.guard.allowed_egress`). A failure on the way is what a fault
of the same kind would be: a timeout, or a reset connection.
"""

from __future__ import annotations

import httpx

from chaoskit.world.dispatch import FaultSignal
from chaoskit.world.guard import allowed_egress

__all__ = ["send_for_real"]

# Taken when this module loads, before any world patches the class: the real transport.
_HANDLE = httpx.HTTPTransport.handle_request
#: Headers describing the body as it travelled; the body handed on is already decoded.
_HOP = frozenset({"content-encoding", "content-length", "transfer-encoding", "connection"})
#: A model's answer can take minutes; the OpenAI SDK itself waits up to 600 s.
_MODEL_TIMEOUT = 600.0


class _RealTransport(httpx.HTTPTransport):
    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return _HANDLE(self, request)


def send_for_real(request: httpx.Request, timeout: float | None = None) -> httpx.Response:
    """Send ``request`` over the network and return the whole response, body decoded."""
    wait = timeout or _MODEL_TIMEOUT
    with (
        allowed_egress(),
        httpx.Client(transport=_RealTransport(), timeout=wait, trust_env=False) as client,
    ):
        try:
            response = client.send(request)
            content = response.read()
        except httpx.TimeoutException as error:
            raise FaultSignal("timeout", f"chaoskit passthrough: {error or 'timed out'}") from None
        except httpx.TransportError as error:
            raise FaultSignal("reset", f"chaoskit passthrough: {error}") from None
    headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in _HOP]
    return httpx.Response(response.status_code, headers=headers, content=content)
