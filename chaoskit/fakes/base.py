"""The public base every fake backend stands on, built-in or a user's own.

A fake is a small in-memory service: a name, a default host, routes declared with
:func:`route`, a ``state`` built by :meth:`FakeBackend.new_state`, an append-only
:class:`Ledger` of committed effects (the ground truth invariants read), and a lock that makes
it safe under threads and asyncio tasks. The world routes requests to it; faults are applied
around it, never inside it.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import re
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol, TypeVar
from urllib.parse import parse_qsl

import httpx
from pydantic import BaseModel, Field, JsonValue

from chaoskit.core.agent import Credential
from chaoskit.core.errors import WorldError
from chaoskit.core.models import FrozenModel

__all__ = [
    "FakeBackend",
    "FakeRequest",
    "Ledger",
    "LedgerEntry",
    "Route",
    "param_names",
    "route",
]

_MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_PARAM = re.compile(r"\{([a-zA-Z_][a-zA-Z0-9_]*)\}")
_ID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
#: Two digits at once, the lower first: ``_ID_PAIRS[a + 62 * b]`` is digit a, then digit b.
_ID_PAIRS = tuple(_ID_ALPHABET[i % 62] + _ID_ALPHABET[i // 62] for i in range(62 * 62))


class Clock(Protocol):
    def monotonic(self) -> float: ...
    def time(self) -> float: ...


class _StoppedClock:
    """The clock of a fake used outside any world: time stands still at the default epoch."""

    def monotonic(self) -> float:
        return 0.0

    def time(self) -> float:
        from chaoskit.core.clock import DEFAULT_EPOCH

        return DEFAULT_EPOCH


class LedgerEntry(FrozenModel):
    """One committed effect: what happened, to what, on whose behalf, when, by which request."""

    seq: int
    backend: str
    kind: str
    object_id: str
    fields: dict[str, JsonValue] = Field(default_factory=dict)
    idempotency_key: str | None = None
    principal: str | None = None
    at: float
    request_id: str | None = None


class Ledger:
    """Append-only, thread-safe record of a fake's committed effects."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self._entries: list[LedgerEntry] = []
        self._lock = threading.Lock()

    def append(self, kind: str, object_id: str, *, at: float, **extra: Any) -> LedgerEntry:
        with self._lock:
            entry = LedgerEntry(
                seq=len(self._entries),
                backend=self.backend,
                kind=kind,
                object_id=object_id,
                at=at,
                **extra,
            )
            self._entries.append(entry)
            return entry

    def since(self, seq: int) -> tuple[LedgerEntry, ...]:
        """The entries appended after the first ``seq`` (cheap: no full copy)."""
        with self._lock:
            return tuple(self._entries[seq:])

    def entries(self, kind: str | None = None) -> tuple[LedgerEntry, ...]:
        """All entries, or those of one kind (``"refund.created"``)."""
        with self._lock:
            if kind is None:
                return tuple(self._entries)
            return tuple(e for e in self._entries if e.kind == kind)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[LedgerEntry]:
        return iter(self.entries())

    def __repr__(self) -> str:
        return f"Ledger({self.backend!r}, {len(self)} entries)"


@dataclass(frozen=True, slots=True)
class Route:
    """A route of a fake: method, path template (``/v1/refunds/{id}``) and handler name.

    What :func:`route` declared rides along for the API reference and the handler: the
    ``query`` and ``body`` models, the ``example`` and the handler's ``summary``.
    """

    method: str
    template: str
    handler: str
    query: type[BaseModel] | None = field(default=None, compare=False)
    body: type[BaseModel] | None = field(default=None, compare=False)
    example: Mapping[str, JsonValue] | None = field(default=None, compare=False)
    summary: str = field(default="", compare=False)

    @property
    def regex(self) -> str:
        """The template as an anchored regex with one named group per ``{param}``."""
        parts = _PARAM.split(self.template)
        out = []
        for i, part in enumerate(parts):
            out.append(f"(?P<{part}>[^/]+)" if i % 2 else re.escape(part))
        return "^" + "".join(out) + "$"

    @property
    def path_params(self) -> tuple[str, ...]:
        """The names of the template's ``{param}`` segments, in order."""
        return tuple(_PARAM.findall(self.template))

    def __str__(self) -> str:
        return f"{self.method} {self.template}"


_F = TypeVar("_F", bound=Callable[..., httpx.Response])


def route(
    method: str,
    template: str,
    *,
    query: type[BaseModel] | None = None,
    body: type[BaseModel] | None = None,
    example: Mapping[str, JsonValue] | None = None,
) -> Callable[[_F], _F]:
    """Declare a method of a :class:`FakeBackend` subclass as the handler of a route.

    ``query`` and ``body`` are pydantic models naming the parameters the route takes, declared
    once: the API reference (``chaoskit fakes``, the OpenAPI description) documents them, and
    the handler reads its parameters through them (``req.query``, ``jsonapi.json_body``): a
    read of a parameter the model does not name is an error, and a model with
    ``extra="forbid"`` refuses unknown parameters. ``example`` holds a request's path
    parameters and fields, ``{name}`` standing for the values :meth:`FakeBackend.sample`
    returns; the reference runs it against the fake to show a real answer. The first line of
    the handler's docstring is the route's summary.

    >>> class Echo(FakeBackend):
    ...     name = "echo"
    ...     default_host = "echo.chaoskit.test"
    ...     @route("GET", "/v1/things/{id}", example={"id": "thing_1"})
    ...     def get_thing(self, req: FakeRequest) -> httpx.Response:
    ...         '''Retrieve a thing by id.'''
    ...         return self.respond(200, {"id": req.params["id"]})
    """

    def mark(fn: _F) -> _F:
        fn._chaoskit_route = (method.upper(), template)  # type: ignore[attr-defined]
        fn._chaoskit_declared = (query, body, example)  # type: ignore[attr-defined]
        return fn

    return mark


@functools.cache
def param_names(model: type[BaseModel]) -> frozenset[str]:
    """The parameter names a query or body model declares (aliases where a field has one)."""
    return frozenset(f.alias or name for name, f in model.model_fields.items())


class Declared(dict[str, Any]):
    """A request's parameters that know which names their route declares.

    Reading an undeclared name is a bug in the fake (its declaration and its handler have
    drifted apart), so it fails loudly instead of quietly reading nothing.
    """

    def __init__(self, values: Mapping[str, Any], names: Iterable[str], where: str) -> None:
        super().__init__(values)
        self.names = frozenset(names)
        self.where = where

    def _check(self, key: object) -> None:
        if key not in self.names:
            raise WorldError(
                f"chaoskit: the handler of {self.where} reads parameter {key!r}, which its route "
                f"does not declare (it declares: {', '.join(sorted(self.names)) or 'none'}). "
                "Add the field to the route's query or body model."
            )

    def get(self, key: str, default: Any = None) -> Any:
        self._check(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> Any:
        self._check(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self._check(key)
        return super().__contains__(key)


def declared(values: Mapping[str, Any], model: type[BaseModel] | None, where: str) -> Any:
    """``values`` guarded by ``model``'s names, or as a plain dict when nothing is declared."""
    if model is None:
        return dict(values)
    return Declared(values, param_names(model), where)


class FakeRequest:
    """What a handler receives: the request, its path parameters, id and acting principal."""

    __slots__ = ("_form", "params", "principal", "raw", "request_id", "route")

    def __init__(
        self,
        raw: httpx.Request,
        params: Mapping[str, str],
        request_id: str,
        route: Route | None = None,
    ) -> None:
        self.raw = raw
        self.params = dict(params)
        self.request_id = request_id
        self.route = route
        self.principal: str | None = None
        self._form: dict[str, str] | None = None

    @property
    def method(self) -> str:
        return self.raw.method

    @property
    def path(self) -> str:
        return self.raw.url.path

    @property
    def headers(self) -> httpx.Headers:
        return self.raw.headers

    @property
    def query(self) -> dict[str, str]:
        """The query parameters; only those the route's ``query`` model declares may be read."""
        model = self.route.query if self.route is not None else None
        return declared(self.raw.url.params, model, str(self.route))  # type: ignore[no-any-return]

    def form(self) -> dict[str, str]:
        """The form-encoded body (Stripe style, ``metadata[k]=v`` kept as flat keys)."""
        if self._form is None:
            body = self.raw.content.decode("utf-8", errors="replace")
            self._form = dict(parse_qsl(body, keep_blank_values=True))
        return self._form

    def json(self) -> Any:
        """The JSON body; ``None`` when the body is empty."""
        content = self.raw.content
        return json.loads(content) if content else None

    def bearer(self) -> str | None:
        """The token of an ``Authorization: Bearer …`` header, if any."""
        auth = self.raw.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        return token.strip() or None if scheme.lower() == "bearer" else None


class FakeBackend:
    """Base class for fake backends. Subclass it for a backend of your own.

    Set ``name`` and ``default_host``, implement :meth:`new_state`, declare handlers with
    :func:`route`, and record committed effects with :meth:`record`. Handlers run under
    ``self.lock``, so they may read and write ``self.state`` freely.

    >>> class Notes(FakeBackend):
    ...     name = "notes"
    ...     default_host = "notes.chaoskit.test"
    ...     def new_state(self) -> dict[str, str]:
    ...         return {}
    ...     @route("POST", "/notes")
    ...     def create(self, req: FakeRequest) -> httpx.Response:
    ...         note_id = self.new_id("note")
    ...         self.state[note_id] = req.json()["text"]
    ...         self.record(req, "note.created", note_id)
    ...         return self.respond(201, {"id": note_id})
    """

    name: ClassVar[str]
    default_host: ClassVar[str]
    #: How request bodies are encoded: JSON, or form fields as Stripe takes them.
    body_encoding: ClassVar[Literal["json", "form"]] = "json"
    #: How an agent authenticates: ``bearer`` (``Authorization: Bearer``), ``basic`` (HTTP basic,
    #: the key as username) or ``x-api-key`` (a header), in the order the reference shows them.
    auth_schemes: ClassVar[tuple[str, ...]] = ("bearer",)
    #: How many past states a fake keeps for ``stale_read`` faults (only while asked to).
    history_depth: ClassVar[int] = 8
    #: The options a scenario may give this backend, as a pydantic model: a scenario's
    #: ``[<name>]`` table (``[approvals]`` with ``reviewer = "deny"``) is validated against it
    #: and handed to :meth:`apply_options` before each example. ``None``: it takes none.
    Options: ClassVar[type[BaseModel] | None] = None
    #: Environment variables that point this backend's official SDK at it in server mode
    #: (``World.serve``), as templates of ``{url}`` (its base URL), its ``{scheme}`` and
    #: ``{netloc}``, and ``{credential}`` (``{credential[email]}`` for a part of one).
    sdk_environment: ClassVar[Mapping[str, str]] = {}

    def __init__(self, *, host: str | None = None) -> None:
        self.host = host or self.default_host
        self.lock = threading.RLock()
        self.ledger = Ledger(self.name)
        self.keep_history = False
        self._clock: Clock = _StoppedClock()
        self._seed = 0
        self._counters: dict[str, int] = {}
        self._history: deque[Any] = deque(maxlen=self.history_depth)
        self.state: Any = self.new_state()

    # -- what subclasses provide -------------------------------------------------------------

    def new_state(self) -> Any:
        """A fresh, empty state. Must be deep-copyable."""
        return {}

    def credential(self, principal_token: str) -> Credential:
        """The credential an agent is handed for this backend (``task.credentials[name]``).

        Default: the acting principal's token, so every call is made on the user's behalf.
        A backend with keys of its own (an API key, a provider key) returns one of those; one
        whose SDK takes several values returns them by name (zendesk: ``subdomain``, ``email``,
        ``token``).
        """
        return principal_token

    def authorization(self, credential: Credential) -> str | None:
        """The ``Authorization`` header value that presents ``credential``, when it is not
        ``Bearer <credential>`` (``task.auth(name)`` sends it). Default: ``None``, bearer."""
        return None

    def sample(self) -> dict[str, str]:
        """Seed this fresh fake with a few records for the API reference's examples.

        Returns the values the routes' ``example`` placeholders name (``{"charge": "ch_…"}``);
        the key ``token`` is the acting principal's token. Default: nothing, so examples may
        use only literal values.
        """
        return {}

    def apply_options(self, options: Any) -> None:
        """Take a scenario's options, an instance of :attr:`Options` (defaults when unset)."""

    def authenticate(self, req: FakeRequest) -> httpx.Response | None:
        """Set ``req.principal`` or return an error response. Default: anyone may call."""
        return None

    def error(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        type: str | None = None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """An error in this backend's own envelope. Default: ``{"error": {...}}``."""
        body: dict[str, Any] = {"message": message, "type": type or _default_error_type(status)}
        if code is not None:
            body["code"] = code
        if param is not None:
            body["param"] = param
        return self.respond(status, {"error": body}, headers=headers)

    def fault_response(self, status: int, *, retry_after: float | None = None) -> httpx.Response:
        """The response a rate limit or server error injected in front of this backend gives."""
        headers = {} if retry_after is None else {"Retry-After": _format_seconds(retry_after)}
        if status == 429:
            return self.error(429, "Too many requests.", code="rate_limited", headers=headers)
        return self.error(status, "The server had an error processing your request.")

    # -- what handlers use ----------------------------------------------------------------------

    def now(self) -> float:
        """Virtual seconds since the world started (ledger time)."""
        return self._clock.monotonic()

    def timestamp(self) -> int:
        """Virtual Unix time in whole seconds (``created`` fields)."""
        return int(self._clock.time())

    def new_id(self, prefix: str) -> str:
        """A deterministic id like ``ch_3fQ9…``: same seed and order of calls, same ids."""
        n = self._counters.get(prefix, 0)
        self._counters[prefix] = n + 1
        digest = hashlib.blake2b(
            f"{self._seed}:{self.name}:{prefix}:{n}".encode(), digest_size=16
        ).digest()
        # The 14 lowest base-62 digits, least significant first, two at a time.
        value = int.from_bytes(digest, "big") % 62**14
        pairs = []
        for _ in range(7):
            value, rem = divmod(value, 62 * 62)
            pairs.append(_ID_PAIRS[rem])
        return f"{prefix}_{''.join(pairs)}"

    def respond(
        self, status: int, body: Any, *, headers: Mapping[str, str] | None = None
    ) -> httpx.Response:
        """A JSON response; the world adds ``Request-Id``."""
        return httpx.Response(
            status,
            content=json.dumps(body, separators=(",", ":")).encode(),
            headers={"Content-Type": "application/json", **(headers or {})},
        )

    def record(
        self,
        req: FakeRequest | None,
        kind: str,
        object_id: str,
        *,
        idempotency_key: str | None = None,
        **fields: JsonValue,
    ) -> LedgerEntry:
        """Append a committed effect to the ledger, stamped with time, principal and request."""
        return self.ledger.append(
            kind,
            object_id,
            at=self.now(),
            fields=fields,
            idempotency_key=idempotency_key,
            principal=req.principal if req is not None else None,
            request_id=req.request_id if req is not None else None,
        )

    # -- what the world uses --------------------------------------------------------------------

    @classmethod
    def routes(cls) -> tuple[Route, ...]:
        """Every route declared on this class and its bases, in declaration order."""
        found: dict[tuple[str, str], Route] = {}
        for klass in reversed(cls.__mro__):
            for attr, fn in vars(klass).items():
                mark = getattr(fn, "_chaoskit_route", None)
                if mark is not None:
                    found[mark] = _declared_route(mark, attr, fn)
        # Literal segments before parameters, so `/v1/refunds/search` beats `/v1/refunds/{id}`.
        return tuple(sorted(found.values(), key=lambda r: r.template.count("{")))

    def bind(self, *, clock: Clock, seed: int) -> None:
        """Attach the world's clock and seed, and start from a fresh state."""
        self._clock = clock
        self._seed = seed
        self.reset()

    def reset(self) -> None:
        """Forget everything: state, ledger, id counters and history."""
        with self.lock:
            self.state = self.new_state()
            self.ledger.clear()
            self._counters.clear()
            self._history.clear()

    def handle(self, raw: httpx.Request, route: Route, params: Mapping[str, str]) -> httpx.Response:
        """Run one request through authentication and its handler, under the lock."""
        req = FakeRequest(raw, params, request_id=self.new_request_id(), route=route)
        with self.lock:
            response = self.authenticate(req) or self.dispatch(req, route)
        response.headers["Request-Id"] = req.request_id
        return response

    def serve(self, raw: httpx.Request) -> httpx.Response:
        """Answer a request without a world: match the route here and handle it.

        Handy on its own, e.g. ``httpx.Client(transport=httpx.MockTransport(fake.serve))``;
        inside a world the shared router does the matching and faults apply.
        """
        found = self.match(raw.method, self.route_path(raw.url.path))
        if found is None:
            return self.not_found(raw)
        return self.handle(raw, *found)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send ``method path`` to this fake without a world (``json=``, ``data=``,
        ``params=``, ``headers=`` as in httpx); how :meth:`sample` makes records of its own.

        >>> from chaoskit.fakes import Email
        >>> Email().request("GET", "/v1/messages").json()
        {'object': 'list', 'data': []}
        """
        return self.serve(httpx.Request(method, f"https://{self.host}{path}", **kwargs))

    @classmethod
    def route_path(cls, path: str) -> str:
        """A request's path as this fake's routes and fault targets name it. Default: as sent;
        zendesk drops the ``.json`` its clients add (``/api/v2/tickets.json``)."""
        return path

    @classmethod
    def match(cls, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The route serving ``method path`` and its path parameters, if any."""
        for candidate, pattern in cls._compiled_routes():
            if candidate.method == method:
                m = pattern.match(path)
                if m is not None:
                    return candidate, m.groupdict()
        return None

    @classmethod
    def _compiled_routes(cls) -> tuple[tuple[Route, re.Pattern[str]], ...]:
        cached: tuple[tuple[Route, re.Pattern[str]], ...] | None = cls.__dict__.get(
            "_chaoskit_compiled"
        )
        if cached is None:
            cached = tuple((r, re.compile(r.regex)) for r in cls.routes())
            cls._chaoskit_compiled = cached  # type: ignore[attr-defined]
        return cached

    def dispatch(self, req: FakeRequest, route: Route) -> httpx.Response:
        """Call the route's handler, keeping a snapshot first if stale reads may need it."""
        if self.keep_history and req.method in _MUTATING:
            self._history.append(copy.deepcopy(self.state))
        handler: Callable[[FakeRequest], httpx.Response] = getattr(self, route.handler)
        return handler(req)

    def not_found(self, raw: httpx.Request) -> httpx.Response:
        """The answer for a path on this host that no route serves."""
        known = ", ".join(str(r) for r in self.routes())
        response = self.error(
            404,
            f"Unrecognized request URL ({raw.method}: {raw.url.path}). "
            f"{self.name} serves: {known}.",
            type="invalid_request_error",
        )
        response.headers["Request-Id"] = self.new_request_id()
        return response

    def new_request_id(self) -> str:
        with self.lock:
            return self.new_id("req")

    @contextmanager
    def stale(self, lag: int) -> Iterator[bool]:
        """Serve reads from the state as it was ``lag`` writes ago; yields whether it could."""
        with self.lock:
            if lag < 1 or len(self._history) < 1:
                yield False
                return
            current = self.state
            self.state = self._history[-min(lag, len(self._history))]
            try:
                yield True
            finally:
                self.state = current

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} at {self.host}>"


def _declared_route(mark: tuple[str, str], handler: str, fn: Any) -> Route:
    query, body, example = getattr(fn, "_chaoskit_declared", (None, None, None))
    doc = (fn.__doc__ or "").strip()
    # reST's ``literal`` as Markdown's `literal`: OpenAPI summaries are CommonMark.
    summary = doc.splitlines()[0].strip().replace("``", "`") if doc else ""
    return Route(mark[0], mark[1], handler, query, body, example, summary)


def _default_error_type(status: int) -> str:
    if status == 429:
        return "rate_limit_error"
    if status >= 500:
        return "api_error"
    return "invalid_request_error"


def _format_seconds(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"
