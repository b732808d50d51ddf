"""Invariants: pure functions of a finished run returning a verdict with evidence.

An invariant is a small class with a name, a pydantic ``Params`` model (what a scenario may set)
and a ``check`` method. Register it with :func:`invariant` and scenarios can name it.

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

import difflib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from ._agent import Budget, Reply
from ._errors import InvalidScenario
from ._results import Evidence, Finding, FiredFault, Verdict
from ._trace import CommitEvent, Event, ExceptionEvent, RequestEvent, ResponseEvent
from .fakes import LedgerEntry

__all__ = [
    "REGISTRY",
    "AtMostOneEffectPerIntent",
    "Invariant",
    "RunView",
    "build_invariant",
    "invariant",
    "ledger_evidence",
]


@dataclass(frozen=True)
class RunView:
    """What an invariant sees of a finished run: data only, nothing to call back into."""

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

    def effects(self, kind: str, backend: str | None = None) -> list[LedgerEntry]:
        """Ledger entries of one kind (``"refund.created"``), across backends or in one."""
        return [
            entry
            for name, entries in self.ledgers.items()
            if backend is None or name == backend
            for entry in entries
            if entry.kind == kind
        ]

    def requests(self) -> list[RequestEvent]:
        return [e for e in self.trace if isinstance(e, RequestEvent)]

    def request(self, call: int) -> RequestEvent | None:
        return next((e for e in self.requests() if e.call == call), None)

    def outcome(self, call: int) -> ResponseEvent | ExceptionEvent | None:
        """How a call ended for the agent: a response or an exception."""
        for event in self.trace:
            if isinstance(event, ResponseEvent | ExceptionEvent) and event.call == call:
                return event
        return None

    def commit_call(self, entry: LedgerEntry) -> int | None:
        """The call whose request committed a ledger entry."""
        for event in self.trace:
            if (
                isinstance(event, CommitEvent)
                and event.backend == entry.backend
                and event.ledger_seq == entry.seq
            ):
                return event.call
        return None


class _NoParams(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Invariant:
    """Base class of invariants. Subclasses set ``name`` and may set a ``Params`` model."""

    name: ClassVar[str]
    Params: ClassVar[type[BaseModel]] = _NoParams

    def __init__(self, params: BaseModel | None = None) -> None:
        self.params = params if params is not None else self.Params()

    def check(self, run: RunView) -> Verdict:
        raise NotImplementedError

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
        close = difflib.get_close_matches(name, list(REGISTRY), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise InvalidScenario(
            f"{where}: unknown invariant {name!r}.{hint} "
            f"Known invariants: {', '.join(sorted(REGISTRY))}."
        )
    try:
        return cls(cls.Params.model_validate(dict(params)))
    except ValidationError as error:
        takes = ", ".join(cls.Params.model_fields) or "no parameters"
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in error.errors()
        )
        raise InvalidScenario(
            f"{where}: bad parameters for invariant {name!r}: {problems}. It takes: {takes}."
        ) from None


def ledger_evidence(entry: LedgerEntry) -> Evidence:
    fields = ", ".join(f"{k}={v}" for k, v in entry.fields.items() if k != "body")
    return Evidence(
        kind="ledger",
        ref=f"{entry.backend}#{entry.seq}",
        detail=f"{entry.kind} {entry.object_id} at t={entry.at:g}s ({fields})",
    )


class _AtMostOnceParams(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    effect: str = "refund.created"
    key: str | list[str] = "charge"
    backend: str | None = None


@invariant
class AtMostOneEffectPerIntent(Invariant):
    """At most one effect per intent: two refunds of one charge, two tickets for one request…

    ``effect`` is the ledger kind; ``key`` names the field(s) that identify an intent
    (``charge`` for refunds, ``["to", "template"]`` for emails).
    """

    name = "at_most_one_effect_per_intent"
    Params = _AtMostOnceParams

    def check(self, run: RunView) -> Verdict:
        params: _AtMostOnceParams = self.params  # type: ignore[assignment]
        keys = [params.key] if isinstance(params.key, str) else list(params.key)
        groups: dict[tuple[str, ...], list[LedgerEntry]] = defaultdict(list)
        for entry in run.effects(params.effect, params.backend):
            groups[tuple(str(entry.fields.get(k)) for k in keys)].append(entry)
        repeated = {intent: entries for intent, entries in groups.items() if len(entries) > 1}
        if not repeated:
            return self.held(
                f"{sum(map(len, groups.values()))} {params.effect} effect(s), "
                f"none repeated for one {'+'.join(keys)}"
            )
        intent, entries = next(iter(repeated.items()))
        story = _duplicate_story(run, params.effect, "+".join(intent), entries)
        return self.violated(story, [ledger_evidence(e) for e in entries])


def _duplicate_story(run: RunView, effect: str, intent: str, entries: Sequence[LedgerEntry]) -> str:
    """Tell how duplicates came about, e.g. a timeout followed by a retry with a new key."""
    noun = effect.split(".")[0]
    parts = []
    for i, entry in enumerate(entries):
        call = run.commit_call(entry)
        outcome = run.outcome(call) if call is not None else None
        key = entry.idempotency_key
        keyed = f"idempotency key {key!r}" if key else "no idempotency key"
        lost = (
            " but its response timed out"
            if isinstance(outcome, ExceptionEvent) and outcome.error == "timeout"
            else (" but the connection was reset" if isinstance(outcome, ExceptionEvent) else "")
        )
        lead = "" if i == 0 else "then "
        parts.append(
            f"{lead}{noun} {entry.object_id} committed at t={entry.at:g}s with {keyed}{lost}"
        )
    keys = {e.idempotency_key for e in entries}
    why = (
        "each attempt used a different idempotency key"
        if len(keys) == len(entries) and None not in keys
        else "the attempts were not deduplicated"
    )
    return (
        f"{len(entries)} {effect} effects for one intent ({intent}): "
        + "; ".join(parts)
        + f". {why.capitalize()}."
    )
