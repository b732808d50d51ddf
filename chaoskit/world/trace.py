"""The trace: every request, fault decision, commit, response, exception and sleep of a run.

Events are frozen pydantic models stamped with virtual time, so the same seed gives the same
trace, byte for byte, and a trace is plain JSON for reports and replays.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Annotated, Literal

from pydantic import Field, TypeAdapter

from chaoskit.core.models import FrozenModel

__all__ = [
    "CommitEvent",
    "DeliveryEvent",
    "Event",
    "ExceptionEvent",
    "FaultEvent",
    "GuardEvent",
    "RequestEvent",
    "ResponseEvent",
    "SleepEvent",
    "Trace",
    "UnroutedEvent",
]


class _Event(FrozenModel):
    seq: int
    at: float


class RequestEvent(_Event):
    """The agent sent a request that a fake serves. ``call`` numbers requests from 1."""

    kind: Literal["request"] = "request"
    call: int
    client: str
    backend: str
    method: str
    path: str
    route: str
    idempotency_key: str | None = None
    #: Query and body parameters, flattened to strings (long values cut to 200 characters).
    params: dict[str, str] = Field(default_factory=dict)


class FaultEvent(_Event):
    """A fault fired on a call."""

    kind: Literal["fault"] = "fault"
    call: int
    fault: str
    rule: str
    detail: str | None = None


class CommitEvent(_Event):
    """A call appended an entry to a fake's ledger (the side effect happened)."""

    kind: Literal["commit"] = "commit"
    call: int
    backend: str
    effect: str
    object_id: str
    ledger_seq: int


class ResponseEvent(_Event):
    """The agent received a response."""

    kind: Literal["response"] = "response"
    call: int
    status: int
    request_id: str | None = None
    replayed: bool = False
    #: The error code of an error body (``rate_limit``, ``amount_too_large``…), if any.
    error_code: str | None = None
    #: Seconds from a ``Retry-After`` header, if any.
    retry_after: float | None = None


class ExceptionEvent(_Event):
    """The agent's client raised instead of returning a response."""

    kind: Literal["exception"] = "exception"
    call: int
    error: str
    message: str


class UnroutedEvent(_Event):
    """A request to a host no fake serves; it was refused, never sent."""

    kind: Literal["unrouted"] = "unrouted"
    client: str
    method: str
    url: str


class GuardEvent(_Event):
    """The agent tried to reach the network around the fakes, or to start a process; refused."""

    kind: Literal["guard"] = "guard"
    what: Literal["dns", "connect", "process"]
    #: ``host:port`` (or the host alone) for the network, the command line for a process.
    target: str
    #: The client library the call came from, when the Python stack tells it.
    library: str | None = None
    #: The fake backend serving the refused host, when one does (the client is not routed).
    backend: str | None = None
    #: What the agent's client was told (the refusal's message).
    message: str


class SleepEvent(_Event):
    """The agent slept (virtually)."""

    kind: Literal["sleep"] = "sleep"
    seconds: float


class DeliveryEvent(_Event):
    """A delivery of the task began (``start``) or ended: it replied (``end``), or the agent
    was killed (``crash``, at call ``crashed_at``).

    With deliveries running at once, ``turn`` marks a delivery taking its turn again: the
    calls after it are its own, until the next turn.

    ``reason`` says why the task was delivered: ``first``, ``redelivery`` (after a crash),
    ``duplicate`` (delivered twice), ``concurrent`` (delivered twice at once) or ``follow_up``
    (the customer wrote again).
    """

    kind: Literal["delivery"] = "delivery"
    delivery: int
    what: Literal["start", "end", "crash", "turn"]
    reason: str
    crashed_at: int | None = None


Event = Annotated[
    RequestEvent
    | FaultEvent
    | CommitEvent
    | ResponseEvent
    | ExceptionEvent
    | UnroutedEvent
    | GuardEvent
    | SleepEvent
    | DeliveryEvent,
    Field(discriminator="kind"),
]

_EVENTS: TypeAdapter[list[Event]] = TypeAdapter(list[Event])


class Trace:
    """A thread-safe, append-only list of events with a cap against runaway agents.

    Past ``limit`` events, new events are counted in ``dropped`` instead of stored, so an agent
    that sleeps in a tight loop cannot exhaust memory.
    """

    def __init__(self, *, limit: int = 20_000) -> None:
        self.limit = limit
        self.dropped = 0
        self._events: list[Event] = []
        self._lock = threading.Lock()

    def add(self, event_type: type[_Event], at: float, **fields: object) -> None:
        """Append an event of ``event_type``; ``seq`` is assigned here."""
        with self._lock:
            if len(self._events) >= self.limit:
                self.dropped += 1
                return
            event = event_type(seq=len(self._events), at=at, **fields)
            self._events.append(event)  # type: ignore[arg-type]

    @property
    def events(self) -> tuple[Event, ...]:
        with self._lock:
            return tuple(self._events)

    def of(self, kind: str) -> list[Event]:
        """The events of one kind (``"request"``, ``"fault"``, …) in order."""
        return [e for e in self.events if e.kind == kind]

    def clear(self) -> None:
        with self._lock:
            self._events.clear()
            self.dropped = 0

    def to_json(self) -> str:
        """The events as a JSON array; identical for identical runs."""
        return _EVENTS.dump_json(list(self.events)).decode()

    @staticmethod
    def from_json(data: str | bytes) -> list[Event]:
        return _EVENTS.validate_json(data)

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events)

    def __len__(self) -> int:
        return len(self._events)
