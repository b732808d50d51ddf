"""The world: fake backends, one respx routing table, the fault injector, the clock, the trace.

>>> from chaoskit import World, FaultRule, TimeoutAfterCommit, Target
>>> rule = FaultRule(fault=TimeoutAfterCommit(), target=Target.parse("payments: POST /v1/refunds"),
...                  calls=(1,))
>>> with World(faults=[rule], seed=7) as world:
...     ...  # run the agent; every HTTP call (httpx, requests, aiohttp, urllib…) reaches the fakes
>>> world.ledger("payments")  # what really happened
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from typing import Any, NoReturn, assert_never
from urllib.parse import parse_qsl

import httpx
import respx

from chaoskit.core.agent import AgentCrashed
from chaoskit.core.clock import VirtualClock
from chaoskit.core.errors import InvalidFault, WorldError
from chaoskit.core.names import did_you_mean
from chaoskit.core.store import StoreChange, StoreOp
from chaoskit.fakes import FakeBackend, LedgerEntry, PassthroughModel, Route
from chaoskit.fakes.base import Ledger
from chaoskit.fakes.openapi import OPENAPI_PATH, openapi_answer
from chaoskit.fakes.registry import default_backends
from chaoskit.world.dispatch import turn
from chaoskit.world.entropy import seeded_entropy
from chaoskit.world.faults import (
    STORE,
    AgentCrash,
    ConnectionReset,
    FaultRule,
    Latency,
    MalformedResponse,
    PoisonedDocument,
    RateLimit,
    ServerError,
    StaleRead,
    TimeoutAfterCommit,
    TimeoutBeforeCommit,
)
from chaoskit.world.guard import abandon as abandon_threads
from chaoskit.world.guard import abandoned, guard, is_loopback
from chaoskit.world.injector import Call, Decider, Injector, malform, poison
from chaoskit.world.integrity import entry_digest
from chaoskit.world.intercept import DEFAULT_TIMEOUT, Client, FaultSignal, intercept
from chaoskit.world.server import DEFAULT_TIME_SCALE, Routing, Served
from chaoskit.world.storecalls import check_store_target, serve_store_call
from chaoskit.world.trace import (
    CommitEvent,
    ExceptionEvent,
    FaultEvent,
    RequestEvent,
    ResponseEvent,
    SleepEvent,
    Trace,
    UnroutedEvent,
)
from chaoskit.world.wire import LATENCY

__all__ = ["World"]

_ACTIVE: list[World] = []
_ACTIVE_LOCK = threading.Lock()
_READS = frozenset({"GET", "HEAD"})
_ABANDONED = (
    "chaoskit: this thread outlived the run that started it, so its calls are refused; "
    "the run it belonged to reports it (threads_left or agent_hung)."
)


class World:
    """Fake backends plus faults plus a virtual clock, active inside ``with``.

    While active, every request of httpx, httpx2, requests, aiohttp, urllib3 and urllib.request /
    http.client (sync and async, clients created
    before or after) is routed to the fakes, faults fire according to their rules, and
    ``time.sleep``, ``time.time``, ``datetime.now`` and ``asyncio.sleep`` follow the virtual
    clock, and ``random``, ``uuid.uuid4`` and ``os.urandom`` follow the seed. Only one world
    can be active at a time in a process.
    """

    def __init__(
        self,
        backends: Sequence[FakeBackend] | None = None,
        *,
        faults: Sequence[FaultRule] = (),
        seed: int = 0,
        decide: Decider | None = None,
        epoch: float | None = None,
        trace_limit: int = 20_000,
    ) -> None:
        self.backends: dict[str, FakeBackend] = _index(
            default_backends() if backends is None else backends
        )
        rules = tuple(faults)
        for rule in rules:
            self._check_target(rule)
        self.injector = Injector(rules, decide)
        self.trace = Trace(limit=trace_limit)
        #: Extra routes for hosts no fake owns, e.g. ``world.router.get(url).respond(204)``.
        self.router = respx.Router(assert_all_called=False, assert_all_mocked=False)
        self._hosts = {fake.host: fake for fake in self.backends.values()}
        #: Served addresses (host, port) of backends, while served per backend: an in-process
        #: client pointed at a served URL reaches the fake directly, as with its own host.
        self._served: dict[tuple[str, int | None], FakeBackend] = {}
        #: The real model's allowed addresses (host, port or None for any port), if any.
        self._passing: dict[tuple[str, int | None], FakeBackend] = {
            address: fake
            for fake in self.backends.values()
            if isinstance(fake, PassthroughModel)
            for address in fake.addresses
        }
        self.seed = seed
        self._epoch = epoch
        self._calls = 0
        self._lock = threading.Lock()
        self._stack: ExitStack | None = None
        self._leaving = threading.Lock()
        #: A digest of every ledger entry a call committed, by (backend, seq): what the ledgers
        #: are checked against before a run is judged (see :mod:`chaoskit.world.integrity`).
        self.commits: dict[tuple[str, int], str] = {}
        #: The delivery of the task being run (1, 2, …): see :meth:`crash`.
        self.delivery = 1
        #: The call each delivery was killed at by an ``agent_crash`` fault, by delivery.
        self.crashes: dict[int, int] = {}
        #: What ``task.store`` operations changed, in order: the ``store`` ledger.
        self.store_ledger = Ledger(STORE)
        self.clock = VirtualClock()
        self.reset(seed)

    # -- public surface --------------------------------------------------------------------------

    @property
    def urls(self) -> dict[str, str]:
        """Base URL of every backend by name, e.g. ``{"payments": "https://api.stripe.com"}``."""
        return {name: f"https://{fake.host}" for name, fake in self.backends.items()}

    def __getitem__(self, name: str) -> FakeBackend:
        try:
            return self.backends[name]
        except KeyError:
            raise WorldError(
                f"chaoskit: this world has no backend {name!r}.{_did_you_mean(name, self.backends)}"
                f" Its backends: {', '.join(sorted(self.backends))}."
            ) from None

    def ledger(self, name: str) -> tuple[LedgerEntry, ...]:
        """The committed effects of one backend."""
        return self[name].ledger.entries()

    @property
    def ledgers(self) -> dict[str, tuple[LedgerEntry, ...]]:
        """Every backend's committed effects, and ``store``'s once ``task.store`` changed."""
        ledgers = {name: fake.ledger.entries() for name, fake in self.backends.items()}
        if len(self.store_ledger):
            ledgers[STORE] = self.store_ledger.entries()
        return ledgers

    @property
    def fired(self) -> dict[str, int]:
        """How often each fault rule fired in the current run."""
        return self.injector.fired

    def reset(self, seed: int | None = None) -> None:
        """Start a fresh run: new clock, empty trace and ledgers, fault counters at zero."""
        if seed is not None:
            self.seed = seed
        self.clock = VirtualClock(epoch=self._start_epoch())
        self.clock.on_sleep = self._record_sleep
        self.trace.clear()
        self.injector.reset()
        self.router.reset()
        self._calls = 0
        self.commits.clear()
        self.delivery = 1
        self.crashes = {}
        self.store_ledger.clear()
        stale = {r.target.backend for r in self.injector.rules if r.fault.kind == "stale_read"}
        for name, fake in self.backends.items():
            fake.bind(clock=self.clock, seed=self.seed)
            fake.keep_history = name in stale

    def abandon(self, threads: Iterable[threading.Thread]) -> None:
        """Refuse every call these threads make from now on, with a connection error, and any
        network or process of theirs, in this world, a later one, or none: an agent that would
        not stop, threads it left running. They can never land in another run's ledgers."""
        abandon_threads(threads)

    def serve(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        routing: Routing = "per-backend",
        time_scale: float = DEFAULT_TIME_SCALE,
        hold: float | None = None,
    ) -> Served:
        """Serve this world's fakes over real HTTP/1.1 on loopback, for agents in any process.

        ``routing="per-backend"`` listens on one port per backend (from ``port``, or free ports
        for 0); ``"host"`` on one port, routed by the Host header (a fake's own host or
        ``<backend>.localhost``) or by the backend's name first in the path. ``time_scale`` is
        real seconds per virtual second, ``hold`` the real seconds a timeout fault holds a
        connection at most (see :mod:`chaoskit.world.server` for how time maps).

        The world need not be active: requests are dispatched to it either way, and the
        ledgers and trace record them as in process. Stops on leaving the ``with`` block:

        >>> world = World()
        >>> with world.serve() as served:  # doctest: +SKIP
        ...     subprocess.run(["node", "agent.js"], env={**os.environ, **served.env})
        >>> world.ledger("payments")  # doctest: +SKIP

        Start the agent's process outside ``with world:``: an active world refuses new
        processes.
        """
        served = Served(
            self, host=host, port=port, routing=routing, time_scale=time_scale, hold=hold
        )
        if routing == "per-backend":
            aliases = {_address(url): self.backends[name] for name, url in served.urls.items()}
            self._served.update(aliases)
            served.on_close(lambda: [self._served.pop(address, None) for address in aliases])
        return served

    def __enter__(self) -> World:
        from chaoskit.world.timepatch import virtual_time

        with _ACTIVE_LOCK:
            if _ACTIVE:
                raise WorldError(
                    "chaoskit: another world is already active in this process; "
                    "leave it (end its `with` block) before entering a new one."
                )
            _ACTIVE.append(self)
        stack = ExitStack()
        try:
            stack.enter_context(virtual_time(self.clock))
            stack.enter_context(seeded_entropy(self.seed))
            stack.enter_context(intercept(self))
            stack.enter_context(guard(self))
        except BaseException:
            stack.close()
            _ACTIVE.remove(self)
            raise
        self._stack = stack
        return self

    def __exit__(self, *exc: object) -> None:
        self.leave()

    def leave(self) -> None:
        """Deactivate the world; again or from another thread, it does nothing more.

        The engine leaves the world of an agent it gave up on from its own thread: that agent's
        ``with`` block may end much later, or never.
        """
        with self._leaving:
            stack, self._stack = self._stack, None
        if stack is None:
            return
        try:
            stack.close()
        finally:
            with _ACTIVE_LOCK:
                if self in _ACTIVE:
                    _ACTIVE.remove(self)

    # -- routing ----------------------------------------------------------------------------------

    def dispatch(
        self, request: httpx.Request, *, client: Client, timeout: float | None
    ) -> httpx.Response:
        """Serve one request (called by the interception layer for every client family).

        A fake's host is found by a dict lookup and its path by the fake's compiled routes: a
        respx match over every route would cost more than the whole rest of the call. Hosts no
        fake owns go to :attr:`router`, a respx router users can extend for their own hosts.
        """
        if abandoned():  # a thread given up on, by this world or an earlier one
            raise FaultSignal("unrouted", _ABANDONED)
        self.refuse_if_crashed()
        fake = self._hosts.get(request.url.host)
        if fake is None and self._served:
            fake = self._served.get((request.url.host, request.url.port))
        if fake is None and self._passing:
            fake = self._passed(request.url.host, request.url.port)
        if fake is None:
            return self._via_router(request, client)
        path = fake.route_path(request.url.path)
        found = fake.match(request.method, path)
        if found is None:
            return _description(fake, request) or fake.not_found(request)
        return self._serve(fake, found[0], request, found[1], client, timeout, path)

    # -- crashes and task.store -----------------------------------------------------------------

    def crash(self, call: int) -> NoReturn:
        """Kill the current delivery at ``call``: :class:`AgentCrashed` is raised into it, and
        every later call it makes is refused the same way (a dead process makes no calls)."""
        self.crashes.setdefault(self.delivery, call)
        self.refuse_if_crashed()
        raise AssertionError("unreachable")  # pragma: no cover

    def refuse_if_crashed(self) -> None:
        """Raise :class:`AgentCrashed` in a delivery that was killed."""
        call = self.crashes.get(self.delivery)
        if call is not None:
            raise AgentCrashed(
                f"chaoskit: agent_crash: delivery {self.delivery} was killed at call #{call}"
            )

    def next_call(self) -> int:
        """The number of a new call (HTTP or ``task.store``), counted from 1 in each run."""
        with self._lock:
            self._calls += 1
            return self._calls

    def store_call(
        self, op: StoreOp, key: str, params: dict[str, str], apply: Callable[[], StoreChange]
    ) -> Any:
        """One ``task.store`` operation, as a call: traced, faulted, in the ``store`` ledger."""
        self.refuse_if_crashed()
        turn()  # a store operation is a call too: concurrent deliveries may switch before it
        return serve_store_call(self, op, key, params, apply)

    @property
    def calls(self) -> int:
        """How many calls the fakes have served in this run (the last call's number)."""
        return self._calls

    def routes(self, host: str, port: int | None) -> bool:
        """Whether requests to ``host:port`` go to the fakes (asked by aiohttp's, urllib3's and
        http.client's interception when they connect): every host but loopback, which keeps
        its real connection unless a fake serves it (or :meth:`serve` serves one there)."""
        if host in self._hosts or not is_loopback(host):
            return True
        if self._passing and self._passed(host, port) is not None:
            return True
        return bool(self._served) and (host, port) in self._served

    def _passed(self, host: str, port: int | None) -> FakeBackend | None:
        """The passthrough model serving ``host:port`` (an allowed host), if any."""
        return self._passing.get((host, port)) or self._passing.get((host, None))

    def _via_router(self, request: httpx.Request, client: Client) -> httpx.Response:
        resolved = self.router.resolve(request)
        if resolved.route is not None and isinstance(resolved.response, httpx.Response):
            return resolved.response
        self.trace.add(
            UnroutedEvent,
            self.clock.monotonic(),
            client=client,
            method=request.method,
            url=str(request.url),
        )
        raise FaultSignal("unrouted", self._unrouted_message(request))

    def _unrouted_message(self, request: httpx.Request) -> str:
        host = request.url.host
        known = ", ".join(f"{f.host} ({name})" for name, f in sorted(self.backends.items()))
        hosts = {f.host: f for f in self.backends.values()}
        return (
            f"chaoskit: no fake backend serves host {host!r} ({request.method} {request.url}); "
            f"the request was not sent.{_did_you_mean(host, hosts)} Known hosts: {known}. "
            "Point the agent at one of them (see World.urls) or add a FakeBackend for this host."
        )

    # -- serving one call -----------------------------------------------------------------------

    def _serve(
        self,
        fake: FakeBackend,
        spec: Route,
        request: httpx.Request,
        params: dict[str, str],
        client: Client,
        timeout: float | None,
        path: str,
    ) -> httpx.Response:
        turn()  # concurrent deliveries: the scheduler decides who makes this call, and numbers it
        index = self.next_call()
        now = self.clock.monotonic()
        self.trace.add(
            RequestEvent,
            now,
            call=index,
            client=client,
            backend=fake.name,
            method=request.method,
            path=request.url.path,
            route=str(spec),
            idempotency_key=request.headers.get("idempotency-key"),
            params=_params(request),
        )
        call = Call(
            index=index,
            backend=fake.name,
            method=request.method,
            path=path,
            route=str(spec),
            at=now,
        )
        rule = self.injector.choose(call)
        serve = _Serving(self, fake, spec, request, params, index, timeout)
        try:
            response = serve.run(rule)
        except FaultSignal as signal:
            self.trace.add(
                ExceptionEvent,
                self.clock.monotonic(),
                call=index,
                error=signal.what,
                message=signal.message,
            )
            raise
        except AgentCrashed as crashed:
            now = self.clock.monotonic()
            self.trace.add(ExceptionEvent, now, call=index, error="crash", message=str(crashed))
            raise
        outcome = _outcome(response, self.clock.time())
        self.trace.add(ResponseEvent, self.clock.monotonic(), call=index, **outcome)
        return response

    # -- helpers ----------------------------------------------------------------------------------

    def _check_target(self, rule: FaultRule) -> None:
        target = rule.target
        if target.backend == STORE:
            check_store_target(rule)
            return
        if target.backend not in self.backends:
            raise InvalidFault(
                f"chaoskit: fault {rule.label!r} targets unknown backend {target.backend!r}."
                f"{_did_you_mean(target.backend, self.backends)} "
                f"Backends in this world: {', '.join(sorted(self.backends))}."
            )
        routes = self.backends[target.backend].routes()
        if not any(target.matches(target.backend, r.method, r.template) for r in routes):
            listing = "; ".join(str(r) for r in routes)
            raise InvalidFault(
                f"chaoskit: fault {rule.label!r} matches no route of {target.backend!r}. "
                f"Its routes: {listing}."
            )

    def _record_sleep(self, seconds: float) -> None:
        self.trace.add(SleepEvent, self.clock.monotonic(), seconds=seconds)

    def _start_epoch(self) -> float:
        if self._epoch is not None:
            return self._epoch
        from chaoskit.world.timepatch import current_epoch

        return current_epoch()

    def __repr__(self) -> str:
        return f"<World seed={self.seed} backends={sorted(self.backends)} t={self.clock}>"


class _Serving:
    """One call being served: runs the handler and applies at most one fault around it."""

    def __init__(
        self,
        world: World,
        fake: FakeBackend,
        route: Route,
        request: httpx.Request,
        params: Mapping[str, str],
        index: int,
        timeout: float | None,
    ) -> None:
        self.world = world
        self.fake = fake
        self.route = route
        self.request = request
        self.params = params
        self.index = index
        self.timeout = timeout

    def run(self, rule: FaultRule | None) -> httpx.Response:
        if rule is None:
            return self.execute()
        detail: str | None = None
        try:
            response, detail = self.apply(rule)
        finally:
            self.world.trace.add(
                FaultEvent,
                self.world.clock.monotonic(),
                call=self.index,
                fault=rule.fault.kind,
                rule=rule.label,
                detail=detail,
            )
        return response

    def apply(self, rule: FaultRule) -> tuple[httpx.Response, str | None]:
        fault = rule.fault
        match fault:
            case TimeoutBeforeCommit():
                self.time_out()
            case TimeoutAfterCommit():
                self.execute()
                self.time_out()
            case ConnectionReset():
                if fault.phase == "after_commit":
                    self.execute()
                raise FaultSignal("reset", "[Errno 104] Connection reset by peer")
            case RateLimit():
                return self.injected(429, fault.retry_after), None
            case ServerError():
                if fault.phase == "after_commit":
                    self.execute()
                return self.injected(fault.status, None), None
            case Latency():
                response = self.slow(fault.seconds)
                response.extensions[LATENCY] = fault.seconds  # the wire waits it, scaled
                return response, None
            case MalformedResponse():
                response = self.execute()
                return _with_body(response, malform(response.content, fault.mode)), None
            case PoisonedDocument():
                response = self.execute()
                body, where = poison(response.content, fault)
                detail = f"payload placed at {where}" if where else "no text field to poison"
                return _with_body(response, body), detail
            case StaleRead():
                return self.stale(fault.lag)
            case AgentCrash():
                if fault.phase == "after_commit":
                    self.execute()
                self.world.crash(self.index)
            case _:
                assert_never(fault)

    def execute(self) -> httpx.Response:
        before = len(self.fake.ledger)
        response = self.fake.handle(self.request, self.route, self.params)
        request_id = response.headers.get("request-id")
        for entry in self.fake.ledger.since(before):
            if entry.request_id == request_id:
                self.world.commits[(self.fake.name, entry.seq)] = entry_digest(entry)
                self.world.trace.add(
                    CommitEvent,
                    entry.at,
                    call=self.index,
                    backend=self.fake.name,
                    effect=entry.kind,
                    object_id=entry.object_id,
                    ledger_seq=entry.seq,
                )
        return response

    def time_out(self) -> NoReturn:
        waited = self.timeout if self.timeout is not None else DEFAULT_TIMEOUT
        self.world.clock.advance(waited)
        raise FaultSignal("timeout", "timed out")

    def injected(self, status: int, retry_after: float | None) -> httpx.Response:
        response = self.fake.fault_response(status, retry_after=retry_after)
        response.headers["Request-Id"] = self.fake.new_request_id()
        return response

    def slow(self, seconds: float) -> httpx.Response:
        if self.timeout is not None and seconds > self.timeout:
            self.execute()  # the backend was only slow: it commits after the client gave up
            self.time_out()
        self.world.clock.advance(seconds)
        return self.execute()

    def stale(self, lag: int) -> tuple[httpx.Response, str]:
        if self.request.method not in _READS:
            return self.execute(), "not a read: served fresh"
        with self.fake.stale(lag) as lagging:
            response = self.execute()
        return response, (f"served state from {lag} write(s) ago" if lagging else "no older state")


_PARAM_LIMIT = 200


def _description(fake: FakeBackend, request: httpx.Request) -> httpx.Response | None:
    """``GET /openapi.json`` on a fake with no such route: its OpenAPI description, served at
    the base URL the request was sent to. Documentation, not the fake's API: never traced,
    never faulted."""
    if request.method != "GET" or request.url.path != OPENAPI_PATH:
        return None
    return openapi_answer(fake, f"{request.url.scheme}://{request.url.netloc.decode('ascii')}")


def _params(request: httpx.Request) -> dict[str, str]:
    """Query and body parameters as flat strings, for invariants that group calls by intent."""
    found: dict[str, str] = dict(request.url.params) if request.url.query else {}
    body = request.content
    kind = request.headers.get("content-type", "")
    if body and "json" in kind:
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if isinstance(data, dict):
            found.update(_flatten(data, ""))
    elif body and "form" in kind:
        found.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return {k: v[:_PARAM_LIMIT] for k, v in found.items()}


def _flatten(data: Any, prefix: str) -> dict[str, str]:
    if isinstance(data, dict):
        out: dict[str, str] = {}
        for key, value in data.items():
            out.update(_flatten(value, f"{prefix}[{key}]" if prefix else str(key)))
        return out
    if isinstance(data, list):
        return {prefix: json.dumps(data)[:_PARAM_LIMIT]}
    return {prefix: "" if data is None else str(data)}


def _outcome(response: httpx.Response, now: float) -> dict[str, Any]:
    """What a response event records; error details only for errors (header reads cost).
    ``now`` (virtual Unix time) turns a rate limit's reset time into a wait."""
    headers = response.headers
    fields: dict[str, Any] = {
        "status": response.status_code,
        "request_id": headers.get("request-id"),
        # Stripe says `Idempotent-Replayed: true`, Zendesk `x-idempotency-lookup: hit`.
        "replayed": headers.get("idempotent-replayed") == "true"
        or headers.get("x-idempotency-lookup") == "hit",
    }
    if response.status_code >= 400:
        fields["error_code"] = _error_code(response)
        fields["retry_after"] = _retry_after(response, now)
    return fields


def _error_code(response: httpx.Response) -> str | None:
    if "json" not in response.headers.get("content-type", ""):
        return None
    try:
        body = json.loads(response.content)
        error = body.get("error")
    except (ValueError, AttributeError):
        return None
    if isinstance(error, dict):
        return str(error.get("code") or error.get("type"))
    category = body.get("category")  # HubSpot's envelope: no "error" object, a category
    return category if isinstance(category, str) else None


def _retry_after(response: httpx.Response, now: float) -> float | None:
    """``Retry-After``; else, for an exhausted rate limit, the wait until ``X-RateLimit-Reset``
    (a Unix time, as SendGrid sends it without ``Retry-After``)."""
    headers = response.headers
    value = headers.get("retry-after")
    exhausted = headers.get("x-ratelimit-remaining") == "0"
    reset = headers.get("x-ratelimit-reset") if exhausted else None
    try:
        if value is not None:
            return float(value)
        return max(float(reset) - now, 0.0) if reset is not None else None
    except ValueError:
        return None


def _with_body(response: httpx.Response, body: bytes) -> httpx.Response:
    headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() != "content-length"]
    return httpx.Response(response.status_code, headers=headers, content=body)


def _address(url: str) -> tuple[str, int | None]:
    parts = httpx.URL(url)
    return parts.host, parts.port


def _index(backends: Sequence[FakeBackend]) -> dict[str, FakeBackend]:
    by_name: dict[str, FakeBackend] = {}
    hosts: dict[str, str] = {}
    for fake in backends:
        if fake.name in by_name:
            raise WorldError(f"chaoskit: two backends are named {fake.name!r}; names must differ.")
        if fake.host in hosts:
            raise WorldError(
                f"chaoskit: backends {hosts[fake.host]!r} and {fake.name!r} both use host "
                f"{fake.host!r}; give one of them another host (FakeBackend(host=...))."
            )
        by_name[fake.name] = fake
        hosts[fake.host] = fake.name
    return by_name


def _did_you_mean(name: str, known: Mapping[str, object] | Iterator[str]) -> str:
    return did_you_mean(name, known)
