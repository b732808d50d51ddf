"""Invariants: pure functions of a finished run returning a verdict with evidence.

An invariant is a small class with a name, a pydantic ``Params`` model (what a scenario may set)
and a ``check`` method. Register it with :func:`invariant` and scenarios can name it. The
built-in catalogue (one module per family: ``duplicates``, ``traffic``, ``effects``, ``replies``)
registers itself when :mod:`chaoskit.invariants` is imported.

>>> @invariant
... class NoEmails(Invariant):
...     name = "no_emails"
...     def check(self, run: RunView) -> Verdict:
...         sent = run.effects("email.sent")
...         if sent:
...             evidence = [ledger_evidence(e) for e in sent]
...             return self.violated(f"{len(sent)} email(s) sent", evidence)
...         return self.held("no email was sent")
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ValidationError

from chaoskit.core.agent import Budget, Reply
from chaoskit.core.errors import InvalidScenario
from chaoskit.core.models import FrozenModel
from chaoskit.core.names import did_you_mean
from chaoskit.fakes import LedgerEntry
from chaoskit.results import Evidence, Finding, FiredFault, Verdict
from chaoskit.world.faults import Target
from chaoskit.world.trace import CommitEvent, Event, ExceptionEvent, RequestEvent, ResponseEvent

__all__ = [
    "REGISTRY",
    "Invariant",
    "InvariantParams",
    "RunView",
    "build_invariant",
    "invariant",
    "request_matches",
]

Outcome = ResponseEvent | ExceptionEvent


@dataclass(frozen=True)
class RunView:
    """What an invariant sees of a finished run: data only, nothing to call back into.

    ``principal`` is the user id the task acted for; ``None`` means the world's user (the
    default principal of a scenario). ``usage`` holds model usage (``model_calls``, ``tokens``,
    ``usd``) when the agent reported it.
    """

    scenario: str
    message: str
    reply: Reply | None
    trace: tuple[Event, ...]
    ledgers: Mapping[str, tuple[LedgerEntry, ...]]
    faults: tuple[FiredFault, ...] = ()
    findings: tuple[Finding, ...] = ()
    budget: Budget = field(default_factory=Budget)
    world: Any = None
    virtual_seconds: float = 0.0
    usage: Mapping[str, float] | None = None
    principal: str | None = None

    def effects(self, kind: str, backend: str | None = None) -> list[LedgerEntry]:
        """Ledger entries of one kind (``"refund.created"``), across backends or in one."""
        return [
            entry
            for name, entries in self.ledgers.items()
            if backend is None or name == backend
            for entry in entries
            if entry.kind == kind
        ]

    def entries(self) -> list[LedgerEntry]:
        """Every ledger entry of every backend, in virtual-time order."""
        every = [entry for entries in self.ledgers.values() for entry in entries]
        return sorted(every, key=lambda e: (e.at, e.backend, e.seq))

    def requests(self) -> list[RequestEvent]:
        """Every request the agent sent to a fake, in call order."""
        return list(self._requests)

    def request(self, call: int) -> RequestEvent | None:
        """The request of call number ``call`` (numbered from 1), if there was one."""
        return next((e for e in self._requests if e.call == call), None)

    def calls_to(self, target: str | Target) -> list[RequestEvent]:
        """The requests matching a target such as ``"payments: POST /v1/refunds"``."""
        parsed = Target.parse(target) if isinstance(target, str) else target
        return [r for r in self._requests if request_matches(parsed, r)]

    def outcome(self, call: int) -> Outcome | None:
        """How a call ended for the agent: a response or an exception (``None``: never)."""
        return self._outcomes.get(call)

    def failed(self, call: int) -> bool:
        """Whether a call ended badly for the agent: an error status, a timeout or a reset."""
        outcome = self.outcome(call)
        return isinstance(outcome, ExceptionEvent) or (
            isinstance(outcome, ResponseEvent) and outcome.status >= 400
        )

    def commit_call(self, entry: LedgerEntry) -> int | None:
        """The call whose request committed a ledger entry."""
        return self._commits.get((entry.backend, entry.seq))

    def committed(self, call: int) -> bool:
        """Whether a call committed anything to a ledger."""
        return call in self._committed

    def acting_principal(self) -> str | None:
        """The user id the task acted for: ``principal``, else the world's user."""
        if self.principal is not None:
            return self.principal
        user = getattr(self.world, "user", None)
        return getattr(user, "user_id", None)

    @cached_property
    def _requests(self) -> tuple[RequestEvent, ...]:
        return tuple(e for e in self.trace if isinstance(e, RequestEvent))

    @cached_property
    def _outcomes(self) -> dict[int, Outcome]:
        outcomes: dict[int, Outcome] = {}
        for event in self.trace:
            if isinstance(event, ResponseEvent | ExceptionEvent):
                outcomes.setdefault(event.call, event)
        return outcomes

    @cached_property
    def _committed(self) -> frozenset[int]:
        return frozenset(self._commits.values())

    @cached_property
    def _commits(self) -> dict[tuple[str, int], int]:
        return {(e.backend, e.ledger_seq): e.call for e in self.trace if isinstance(e, CommitEvent)}


def request_matches(target: Target, request: RequestEvent) -> bool:
    """Whether a request hits a target, by its route template or its concrete path."""
    template = request.route.partition(" ")[2] or request.path
    return target.matches(request.backend, request.method, template) or target.matches(
        request.backend, request.method, request.path
    )


class InvariantParams(FrozenModel):
    """Base of invariant parameter models: frozen, and unknown keys are an error."""


class _NoParams(InvariantParams):
    pass


_P = TypeVar("_P", bound=BaseModel)


class Invariant:
    """Base class of invariants. Subclasses set ``name`` and may set a ``Params`` model."""

    name: ClassVar[str]
    Params: ClassVar[type[BaseModel]] = _NoParams
    #: Whether the verdict reads the agent's reply: then, when a task is delivered more than
    #: once, each delivery's reply is judged against the run as it stood at that delivery's end.
    reads_reply: ClassVar[bool] = False

    def __init__(self, params: BaseModel | None = None) -> None:
        self.params = params if params is not None else self.Params()

    def check(self, run: RunView) -> Verdict:
        raise NotImplementedError

    def params_as(self, kind: type[_P]) -> _P:
        """``self.params`` typed as this invariant's ``Params`` model."""
        assert isinstance(self.params, kind)
        return self.params

    def held(self, explanation: str, evidence: Iterable[Evidence] = ()) -> Verdict:
        return Verdict(
            invariant=self.name, status="held", explanation=explanation, evidence=tuple(evidence)
        )

    def violated(self, explanation: str, evidence: Iterable[Evidence] = ()) -> Verdict:
        return Verdict(
            invariant=self.name,
            status="violated",
            explanation=explanation,
            evidence=tuple(evidence),
        )

    def unknown(self, reason: str, evidence: Iterable[Evidence] = ()) -> Verdict:
        return Verdict(
            invariant=self.name, status="unknown", explanation=reason, evidence=tuple(evidence)
        )


REGISTRY: dict[str, type[Invariant]] = {}

_I = TypeVar("_I", bound=type[Invariant])


def invariant(cls: _I) -> _I:
    """Register an invariant class under its ``name`` so scenarios can use it."""
    REGISTRY[cls.name] = cls
    return cls


def build_invariant(name: str, params: Mapping[str, Any], *, where: str) -> Invariant:
    """An invariant from a scenario's ``[[invariants]]`` entry, or a teaching error."""
    cls = REGISTRY.get(name)
    if cls is None:
        hint = did_you_mean(name, REGISTRY)
        raise InvalidScenario(
            f"{where}: unknown invariant {name!r}.{hint} "
            f"Known invariants: {', '.join(sorted(REGISTRY))}."
        )
    try:
        return cls(cls.Params.model_validate(dict(params)))
    except ValidationError as error:
        known = list(cls.Params.model_fields)
        takes = ", ".join(known) or "no parameters"
        for problem in error.errors():
            if problem["type"] == "extra_forbidden":
                wrong = ".".join(str(p) for p in problem["loc"])
                raise InvalidScenario(
                    f"{where}: bad parameters for invariant {name!r}: no parameter {wrong!r}."
                    f"{did_you_mean(wrong, known)} It takes: {takes}."
                ) from None
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in error.errors()
        )
        raise InvalidScenario(
            f"{where}: bad parameters for invariant {name!r}: {problems}. It takes: {takes}."
        ) from None
