"""Invariants: pure functions of a finished run returning a verdict with evidence.

An invariant is a small class with a name, a pydantic ``Params`` model (what a scenario may set)
and a ``check`` method. Register it with :func:`invariant` and scenarios can name it. The
built-in catalogue (``_catalogue.py``, ``_catalogue_effects.py``, ``_catalogue_replies.py``)
registers itself when this module is imported.

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
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from ._agent import Budget, Reply
from ._errors import InvalidScenario
from ._faults import Target
from ._results import Evidence, Finding, FiredFault, Verdict
from ._trace import CommitEvent, Event, ExceptionEvent, RequestEvent, ResponseEvent
from .fakes import LedgerEntry

__all__ = [
    "EVIDENCE_CAP",
    "REGISTRY",
    "AtMostOneEffectPerIntent",
    "Invariant",
    "InvariantParams",
    "RunView",
    "build_invariant",
    "call_evidence",
    "describe_call",
    "invariant",
    "ledger_evidence",
    "reply_evidence",
    "request_matches",
    "story",
    "strings",
    "trace_evidence",
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


class InvariantParams(BaseModel):
    """Base of invariant parameter models: frozen, and unknown keys are an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class _NoParams(InvariantParams):
    pass


_P = TypeVar("_P", bound=BaseModel)


class Invariant:
    """Base class of invariants. Subclasses set ``name`` and may set a ``Params`` model."""

    name: ClassVar[str]
    Params: ClassVar[type[BaseModel]] = _NoParams

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
    """Evidence pointing at a ledger entry (``payments#3``)."""
    fields = ", ".join(f"{k}={v}" for k, v in entry.fields.items() if k != "body")
    return Evidence(
        kind="ledger",
        ref=f"{entry.backend}#{entry.seq}",
        detail=f"{entry.kind} {entry.object_id} at {at(entry.at)} ({fields})",
    )


def trace_evidence(event: Event, detail: str) -> Evidence:
    """Evidence pointing at a trace position (``trace#12``)."""
    return Evidence(kind="trace", ref=f"trace#{event.seq}", detail=detail)


def call_evidence(run: RunView, request: RequestEvent) -> Evidence:
    """Evidence for one call: where it is in the trace and how it ended."""
    return trace_evidence(request, describe_call(run, request))


def reply_evidence(detail: str) -> Evidence:
    """Evidence pointing at the agent's final reply."""
    return Evidence(kind="reply", ref="reply", detail=detail)


def describe_call(run: RunView, request: RequestEvent) -> str:
    """``call #3 POST /v1/refunds on payments at t=1s → 500 api_error``."""
    return (
        f"call #{request.call} {request.method} {request.path} on {request.backend} "
        f"at {at(request.at)} → {describe_outcome(run.outcome(request.call))}"
    )


def describe_outcome(outcome: Outcome | None) -> str:
    """``200``, ``429 rate_limited (Retry-After 2s)``, ``timeout``, ``no answer``."""
    if outcome is None:
        return "no answer"
    if isinstance(outcome, ExceptionEvent):
        return outcome.error
    text = str(outcome.status) + (f" {outcome.error_code}" if outcome.error_code else "")
    if outcome.retry_after is not None:
        text += f" (Retry-After {outcome.retry_after:g}s)"
    return text + (" (replayed)" if outcome.replayed else "")


def at(seconds: float) -> str:
    """A virtual time for stories: ``t=0.8s``."""
    return f"t={round(seconds, 3):g}s"


#: How many problems a story spells out before "(N more like this.)", and evidence items kept.
_SHOWN = 3
EVIDENCE_CAP = 10


def story(problems: Sequence[str]) -> str:
    """The first few problems, each as a sentence, then how many more there are."""
    shown = " ".join(_sentence(p) for p in problems[:_SHOWN])
    more = len(problems) - _SHOWN
    return shown + (f" ({more} more like this.)" if more > 0 else "")


def _sentence(text: str) -> str:
    # Not capitalised: problems often open with a name ("crm refused…", "refund.created…").
    return text if text.endswith(".") else text + "."


def strings(value: Any) -> Iterator[str]:
    """Every string inside a JSON value (ledger fields nest lists and objects)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings(item)


class _AtMostOnceParams(InvariantParams):
    effect: str = "refund.created"
    key: str | list[str] = "charge"
    backend: str | None = None


@invariant
class AtMostOneEffectPerIntent(Invariant):
    """At most one effect per intent: two refunds of one charge, two tickets for one request…

    ``effect`` is the ledger kind; ``key`` names the field(s) that identify an intent
    (``charge`` for refunds, ``["to", "template"]`` for emails); ``backend`` limits the
    check to one fake.

    .. code-block:: toml

        [[invariants]]
        name = "at_most_one_effect_per_intent"
        effect = "email.sent"
        key = ["to", "template"]
    """

    name = "at_most_one_effect_per_intent"
    Params = _AtMostOnceParams

    def check(self, run: RunView) -> Verdict:
        params = self.params_as(_AtMostOnceParams)
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
            f"{lead}{noun} {entry.object_id} committed at {at(entry.at)} with {keyed}{lost}"
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


# The built-in catalogue registers itself; imported last because it builds on this module.
from . import _catalogue, _catalogue_effects, _catalogue_replies  # noqa: E402, F401
