"""Server mode: a world's fakes on loopback over real HTTP/1.1, for agents in other processes.

>>> from chaoskit import World
>>> world = World()
>>> with world.serve() as served:  # doctest: +SKIP
...     served.urls["payments"]  # 'http://127.0.0.1:40123'
...     served.env["OPENAI_BASE_URL"]  # 'http://127.0.0.1:40125/v1'

Every request is turned into the request an in-process client would have made to the
backend's own host and dispatched by the world, so fakes, routes, faults, trace and ledgers
are exactly the in-process ones (the trace names the client ``"server"``).

Time cannot be virtual across processes. ``time_scale`` is real seconds per virtual second
(default 0.05: a virtual minute is three real seconds):

- the world's clock follows real time: before each request it is moved forward to the virtual
  time the real time since the first request stands for (real seconds ÷ ``time_scale``), so the
  client's own waits (backoff, ``Retry-After``) show on the trace as virtual seconds;
- a latency fault of *d* virtual seconds answers after *d* × ``time_scale`` real seconds;
- ``Retry-After`` (and ``retry-after-ms``) goes out in real time: *s* × ``time_scale``,
  rounded up to a whole second (never 0), so a client that waits what it is told has waited
  at least *s* virtual seconds;
- a timeout fault cannot know the client's timeout: the world takes 30 virtual seconds as in
  process, and the connection is held, unanswered, until the client gives up and closes it,
  or ``hold`` real seconds pass (default 30 × ``time_scale``); then it is closed unanswered,
  which a client with a longer timeout sees as a dropped connection (the commit happened
  either way). Give the agent's client a timeout shorter than ``hold``.
"""

from __future__ import annotations

import contextlib
import math
import re
import selectors
import socket
import sys
import threading
import traceback
import weakref
from collections.abc import Callable, Mapping
from http.server import HTTPServer
from socketserver import TCPServer
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

import httpx

from chaoskit.core.errors import WorldError
from chaoskit.core.names import did_you_mean
from chaoskit.fakes.openapi import OPENAPI_PATH, openapi_answer
from chaoskit.world.intercept import DEFAULT_TIMEOUT
from chaoskit.world.timepatch import real_monotonic
from chaoskit.world.wire import Connection, Routed

if TYPE_CHECKING:
    from chaoskit.core.agent import Credential, Task
    from chaoskit.fakes import FakeBackend
    from chaoskit.world.world import World

__all__ = [
    "DEFAULT_TIME_SCALE",
    "Routing",
    "Served",
    "credential_environment",
    "is_server_thread",
]

Routing = Literal["per-backend", "host"]
#: Real seconds per virtual second in server mode.
DEFAULT_TIME_SCALE = 0.05
_ROUTINGS = ("per-backend", "host")
_JOIN_SECONDS = 10.0
_PREFIX = re.compile(r"^/([A-Za-z0-9_.-]+)(.*)$", re.DOTALL)

#: Every thread a server runs (acceptor and connections): chaoskit's, never an agent's.
_THREADS: weakref.WeakSet[threading.Thread] = weakref.WeakSet()


def is_server_thread(thread: threading.Thread) -> bool:
    """Whether ``thread`` serves fakes on loopback (so it is not a thread an agent left)."""
    return thread in _THREADS


class Served:
    """A world's fakes served on loopback; stops (threads joined, ports closed) on ``close``.

    Made by :meth:`World.serve`. ``urls`` maps each backend to its base URL, ``env`` holds the
    environment variables that point common SDKs and agents at them.
    """

    def __init__(
        self,
        world: World,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        routing: Routing = "per-backend",
        time_scale: float = DEFAULT_TIME_SCALE,
        hold: float | None = None,
    ) -> None:
        _check(routing, port, time_scale, hold)
        self.world = world
        self.routing: Routing = routing
        self.time_scale = float(time_scale)
        self.hold = DEFAULT_TIMEOUT * self.time_scale if hold is None else float(hold)
        self.stopping = threading.Event()
        #: The task an agent is given in this world, when one is known (``chaos.serve`` and
        #: ``chaoskit serve`` set it): :attr:`env` then carries its credentials too.
        self.task: Task | None = None
        self._lock = threading.Lock()
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._anchor: tuple[object, float, float] | None = None
        self._closed = False
        self._on_close: list[Callable[[], object]] = []
        self._servers = _bind(self, host, port)
        self.urls: dict[str, str] = self._urls()
        self._wake_read, self._wake_write = socket.socketpair()
        self._acceptor = threading.Thread(target=self._accept, name="chaoskit-serve", daemon=True)
        _THREADS.add(self._acceptor)
        self._acceptor.start()

    # -- public surface --------------------------------------------------------------------------

    @property
    def env(self) -> dict[str, str]:
        """Environment variables for an agent: ``CHAOSKIT_<BACKEND>_URL`` for every backend, and
        each fake's SDK variables (``STRIPE_API_BASE``, ``OPENAI_BASE_URL``, ``OPENAI_API_KEY``…)
        with the credentials that do not depend on who acts; with :attr:`task` set, also its
        credentials as ``CHAOSKIT_<BACKEND>_TOKEN``."""
        return self.env_for(None if self.task is None else self.task.credentials)

    def env_for(self, credentials: Mapping[str, Credential] | None) -> dict[str, str]:
        """:attr:`env` plus ``CHAOSKIT_<BACKEND>_TOKEN`` for each of ``credentials`` (a task's
        ``credentials``; a credential with parts gives ``CHAOSKIT_<BACKEND>_<PART>`` for each
        part), which also fill the SDK variables' keys."""
        env: dict[str, str] = {}
        for name, fake in self.world.backends.items():
            url = self.urls[name]
            env[f"CHAOSKIT_{_env_name(name)}_URL"] = url
            credential = (credentials or {}).get(name) or fake.credential("")
            if credentials is not None and name in credentials:
                env.update(credential_environment(name, credentials[name]))
            env.update(_sdk_environment(fake, url, credential))
        return env

    @property
    def ports(self) -> tuple[int, ...]:
        """The listening ports, one per backend (per-backend routing) or one (host routing)."""
        return tuple(server.server_address[1] for server in self._servers)

    def backend_of(self, url: str) -> str | None:
        """The backend a URL on this server reaches, or None."""
        parts = urlsplit(url)
        for name, base in self.urls.items():
            root = urlsplit(base)
            if (parts.scheme, parts.netloc) != (root.scheme, root.netloc):
                continue
            if parts.path == root.path or parts.path.startswith(f"{root.path}/"):
                return name
        return None

    def sync_clock(self) -> None:
        """Move the world's clock to the virtual time the real time elapsed stands for.

        Done before every request; call it after :meth:`World.reset` to count the time
        from there (a new clock is otherwise anchored at its first request).
        """
        clock = self.world.clock
        now = real_monotonic()
        with self._lock:
            anchor = self._anchor
            if anchor is None or anchor[0] is not clock:
                self._anchor = (clock, now, clock.monotonic())
                return
            target = anchor[2] + (now - anchor[1]) / self.time_scale
            ahead = target - clock.monotonic()
            if ahead > 0:
                clock.advance(ahead)

    def on_close(self, callback: Callable[[], object]) -> None:
        """Call ``callback`` when the server stops."""
        self._on_close.append(callback)

    def close(self) -> None:
        """Stop: no new connection, open ones closed, every thread joined, every port closed."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for callback in self._on_close:
            callback()
        self.stopping.set()
        self._wake_write.send(b"x")
        self._acceptor.join()
        for server in self._servers:
            server.server_close()
        with self._lock:
            connections = dict(self._connections)
        for sock in connections:
            _shut(sock)
        stuck = [t for t in connections.values() if not _joined(t)]
        self._wake_read.close()
        self._wake_write.close()
        if stuck:
            names = ", ".join(t.name for t in stuck)
            raise WorldError(f"chaoskit: server threads did not stop in time: {names}.")

    def __enter__(self) -> Served:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "serving"
        return f"<Served {state} {self.routing} {self.urls}>"

    # -- serving ----------------------------------------------------------------------------------

    def _accept(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self._wake_read, selectors.EVENT_READ, None)
            for server in self._servers:
                selector.register(server.socket, selectors.EVENT_READ, server)
            while not self.stopping.is_set():
                for key, _ in selector.select():
                    if key.data is None:
                        return
                    try:
                        key.data.accept_one()
                    except Exception:  # (no thread to spare…): that client only, not the server
                        print("chaoskit: could not serve a connection:", file=sys.stderr)
                        traceback.print_exc()

    def _track(self, sock: socket.socket, thread: threading.Thread) -> bool:
        with self._lock:
            if self._closed:
                return False
            self._connections[sock] = thread
        _THREADS.add(thread)
        return True

    def _untrack(self, sock: socket.socket) -> None:
        with self._lock:
            self._connections.pop(sock, None)

    def _dispatch(self, request: httpx.Request) -> httpx.Response:
        described = self._description(request)
        if described is not None:
            return described
        self.sync_clock()
        return self.world.dispatch(request, client="server", timeout=None)

    def _description(self, request: httpx.Request) -> httpx.Response | None:
        """``GET /openapi.json`` on a served fake: its OpenAPI description, its server this
        one's URL (the world would name the fake's own host). Never traced, never faulted."""
        if request.method != "GET" or request.url.path != OPENAPI_PATH:
            return None
        for name, fake in self.world.backends.items():
            if fake.host == request.url.host and fake.match("GET", OPENAPI_PATH) is None:
                return openapi_answer(fake, self.urls[name])
        return None

    def _route(self, server: _Server, host_header: str | None, target: str) -> Routed:
        host, path = _split_target(host_header, target)
        if server.fake is not None:
            return Routed(server.fake.host, path, server.fake)
        name = _hostname(host)
        for fake in self.world.backends.values():
            if name in (fake.host.lower(), f"{fake.name.lower()}.localhost"):
                return Routed(fake.host, path, fake)
        prefixed = _PREFIX.match(path)
        if prefixed and prefixed[1] in self.world.backends:
            fake = self.world.backends[prefixed[1]]
            rest = prefixed[2]
            return Routed(fake.host, rest if rest.startswith("/") else f"/{rest}", fake)
        return Routed(name or "unknown.invalid", path, None)

    def _unrouted(self, host_header: str | None, target: str) -> str:
        host, path = _split_target(host_header, target)
        first = _PREFIX.match(path)
        hint = did_you_mean(first[1], self.world.backends) if first else ""
        listing = ", ".join(f"{name} at {url}" for name, url in sorted(self.urls.items()))
        return (
            f"chaoskit: no fake backend serves {target!r} on host {host!r}.{hint} In host "
            "routing, send a fake's Host (e.g. api.stripe.com or payments.localhost) or put the "
            f"backend's name first in the path. Served: {listing}."
        )

    def _urls(self) -> dict[str, str]:
        if self.routing == "per-backend":
            return {s.fake.name: _base_url(s) for s in self._servers if s.fake is not None}
        base = _base_url(self._servers[0])
        return {name: f"{base}/{name}" for name in self.world.backends}


class _Server(HTTPServer):
    """One listening socket; each connection is served in a thread of its own."""

    request_queue_size = 128
    daemon_threads = True

    def __init__(
        self, served: Served, address: tuple[str, int], fake: FakeBackend | None, family: int
    ) -> None:
        self.address_family = family
        self.served = served
        self.fake = fake
        self.time_scale = served.time_scale
        self.hold = served.hold
        self.stopping = served.stopping
        super().__init__(address, Connection)

    def server_bind(self) -> None:
        TCPServer.server_bind(self)  # without HTTPServer's getfqdn: a DNS lookup, and slow
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def server_activate(self) -> None:
        super().server_activate()
        # Accepted only when the selector says so; a client gone in between must not block.
        self.socket.setblocking(False)

    def accept_one(self) -> None:
        try:
            sock, address = self.get_request()
            sock.setblocking(True)
        except OSError:  # BlockingIOError included: that client is gone
            return
        label = self.fake.name if self.fake is not None else "host"
        thread = threading.Thread(
            target=self._connection,
            args=(sock, address),
            name=f"chaoskit-serve-{label}",
            daemon=True,
        )
        if self.served._track(sock, thread):
            thread.start()
        else:
            self.shutdown_request(sock)

    def _connection(self, sock: socket.socket, address: Any) -> None:
        try:
            self.finish_request(sock, address)
        except Exception:
            self.handle_error(sock, address)
        finally:
            self.shutdown_request(sock)
            self.served._untrack(sock)

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, OSError) or self.stopping.is_set():
            return  # the client went away, or the server is stopping: nothing to tell
        print(f"chaoskit: error serving {client_address}:", file=sys.stderr)
        traceback.print_exc()

    # -- what a connection asks (wire.Endpoint) -----------------------------------------------

    def route(self, host_header: str | None, target: str) -> Routed:
        return self.served._route(self, host_header, target)

    def dispatch(self, request: httpx.Request) -> httpx.Response:
        return self.served._dispatch(request)

    def unrouted(self, host_header: str | None, target: str) -> str:
        return self.served._unrouted(host_header, target)


# -- helpers ---------------------------------------------------------------------------------------


def _check(routing: str, port: int, time_scale: float, hold: float | None) -> None:
    if routing not in _ROUTINGS:
        raise WorldError(
            f"chaoskit: unknown routing {routing!r}.{did_you_mean(routing, _ROUTINGS)} "
            "Use 'per-backend' (one port per backend) or 'host' (one port, routed by Host)."
        )
    if not isinstance(port, int) or not 0 <= port <= 65535:
        raise WorldError(f"chaoskit: port must be 0 (any free port) to 65535, got {port!r}.")
    if not (isinstance(time_scale, int | float) and math.isfinite(time_scale) and time_scale > 0):
        raise WorldError(
            f"chaoskit: time_scale is real seconds per virtual second and must be more than 0, "
            f"got {time_scale!r}; e.g. 0.05 serves a 2 s latency fault in 0.1 s."
        )
    if hold is not None and not (math.isfinite(hold) and hold >= 0):
        raise WorldError(f"chaoskit: hold is real seconds, 0 or more, got {hold!r}.")


def _bind(served: Served, host: str, port: int) -> list[_Server]:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    fakes: list[FakeBackend | None]
    fakes = list(served.world.backends.values()) if served.routing == "per-backend" else [None]
    servers: list[_Server] = []
    try:
        for i, fake in enumerate(fakes):
            wanted = port + i if port else 0
            try:
                servers.append(_Server(served, (host, wanted), fake, family))
            except OSError as error:
                what = f"the {fake.name} fake" if fake is not None else "the fakes"
                raise WorldError(
                    f"chaoskit: cannot listen on {_netloc(host, wanted)} for {what}: {error}. "
                    "Pass another port (per-backend routing uses one port per backend, from "
                    "the one given), or 0 for free ports."
                ) from None
    except BaseException:
        for server in servers:
            server.server_close()
        raise
    return servers


def _base_url(server: _Server) -> str:
    host, port = server.server_address[:2]
    shown = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(str(host), str(host))
    return f"http://{_netloc(shown, int(port))}"


def _netloc(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _split_target(host_header: str | None, target: str) -> tuple[str, str]:
    """(host, path with query) of a request target, origin-form or absolute-form (proxies)."""
    if target.startswith(("http://", "https://")):
        parts = urlsplit(target)
        path = parts.path or "/"
        return parts.netloc, f"{path}?{parts.query}" if parts.query else path
    return host_header or "", target if target.startswith("/") else f"/{target}"


def _hostname(netloc: str) -> str:
    if netloc.startswith("["):
        return netloc[1:].partition("]")[0].lower()
    return netloc.rpartition(":")[0].lower() if ":" in netloc else netloc.lower()


def credential_environment(backend: str, credential: Credential) -> dict[str, str]:
    """A task's credential for ``backend`` as environment variables: a secret as
    ``CHAOSKIT_<BACKEND>_TOKEN``, parts as ``CHAOSKIT_<BACKEND>_<PART>`` each."""
    prefix = f"CHAOSKIT_{_env_name(backend)}"
    if isinstance(credential, str):
        return {f"{prefix}_TOKEN": credential}
    return {f"{prefix}_{_env_name(part)}": value for part, value in credential.items()}


def _sdk_environment(fake: FakeBackend, url: str, credential: Credential) -> dict[str, str]:
    """The fake's SDK variables, filled in: ``{url}``, its ``{scheme}`` and ``{netloc}``, and
    ``{credential}`` (``{credential[email]}`` for a part); one that needs a credential the
    fake cannot give without a task is left out."""
    parts = urlsplit(url)
    env: dict[str, str] = {}
    for var, template in fake.sdk_environment.items():
        if "{credential" in template and not credential:
            continue
        env[var] = template.format(
            url=url, scheme=parts.scheme, netloc=parts.netloc, credential=credential
        )
    return env


def _env_name(name: str) -> str:
    return re.sub(r"[^A-Z0-9]", "_", name.upper())


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def _joined(thread: threading.Thread) -> bool:
    thread.join(_JOIN_SECONDS)
    return not thread.is_alive()
