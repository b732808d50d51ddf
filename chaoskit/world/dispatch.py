"""What every client family's interception hands a request to, and how a non-response returns.

The interception modules (:mod:`chaoskit.world.intercept` and the per-library ones beside it)
turn a client's request into one :class:`httpx.Request`, call :meth:`Dispatcher.dispatch`, and
turn the outcome back into what that library itself returns or raises: a response, or a
:class:`FaultSignal` for a timeout, a reset or a host no fake serves.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal, Protocol

import httpx

__all__ = [
    "DEFAULT_TIMEOUT",
    "Client",
    "Dispatcher",
    "FaultSignal",
    "Turns",
    "active",
    "aturn",
    "serving",
    "taking_turns",
    "turn",
]

#: Who sent a request, as the trace names it: a client family routed in process (``urllib`` is
#: urllib.request; ``http.client`` the standard library's connection used directly), or
#: ``server`` for a request that came over the wire to :meth:`World.serve`.
Client = Literal[
    "httpx", "httpx2", "requests", "aiohttp", "urllib3", "urllib", "http.client", "server"
]
#: What a request's read timeout is taken to be when the client sets none (requests' default).
DEFAULT_TIMEOUT = 30.0


class FaultSignal(Exception):
    """Raised inside dispatch for an outcome that is not a response; each client converts it."""

    def __init__(self, what: Literal["timeout", "reset", "unrouted"], message: str) -> None:
        super().__init__(message)
        self.what = what
        self.message = message


class Dispatcher(Protocol):
    def dispatch(
        self, request: httpx.Request, *, client: Client, timeout: float | None
    ) -> httpx.Response: ...

    def routes(self, host: str, port: int | None) -> bool:
        """Whether requests to ``host:port`` go to the world; loopback no fake serves stays
        real."""
        ...


_ACTIVE: list[Dispatcher] = []


def active() -> Dispatcher | None:
    """The dispatcher of the active world, if one is active.

    A connection kept open in memory (a pooled urllib3 connection, an aiohttp session's) asks
    this on every request rather than keeping the world it was opened in: reused in a later
    world it reaches that world's fakes, and outside any world it reads as dropped, so its
    pool replaces it with a real one.
    """
    return _ACTIVE[-1] if _ACTIVE else None


@contextmanager
def serving(dispatcher: Dispatcher) -> Iterator[None]:
    """Make ``dispatcher`` the :func:`active` one while the block runs."""
    _ACTIVE.append(dispatcher)
    try:
        yield
    finally:
        _ACTIVE.remove(dispatcher)


class Turns(Protocol):
    """Who decides which of several concurrent deliveries makes the next call into a fake.

    The engine's scheduler (:mod:`chaoskit.engine.interleave`) implements it; the world only
    asks it, before each call it serves (:func:`turn`), and the asynchronous clients ask it
    first at a point where their task can wait (:func:`aturn`).
    """

    def before_call(self) -> None: ...

    async def before_async_call(self) -> None: ...


_TURNS: list[Turns] = []


def turn() -> None:
    """A switch point: the calling delivery may have to wait for its turn (no-op when no
    deliveries run concurrently)."""
    if _TURNS:
        _TURNS[-1].before_call()


async def aturn() -> None:
    """:func:`turn` for a client inside a task: the task awaits its turn, the loop runs on."""
    if _TURNS:
        await _TURNS[-1].before_async_call()


@contextmanager
def taking_turns(turns: Turns) -> Iterator[None]:
    """Make ``turns`` decide every switch point while the block runs."""
    _TURNS.append(turns)
    try:
        yield
    finally:
        _TURNS.remove(turns)
