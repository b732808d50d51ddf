"""The built-in invariants that read the agent's reply against the ledgers.

Part of the catalogue of DESIGN.md §7, registered on import of :mod:`chaoskit.invariants`.
A structured :class:`~chaoskit.core.agent.Reply` is taken at its claims; a text reply is read by
:func:`~chaoskit.invariants.claims.classify`. Every reading of the reply is checked against the
facts: all wrong → ``violated``, some wrong → ``unknown`` with the reason, none wrong → ``held``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import Field, field_validator

from chaoskit.fakes import LedgerEntry
from chaoskit.invariants.base import Invariant, InvariantParams, RunView, invariant
from chaoskit.invariants.claims import (
    DEFAULT_RULES,
    ClaimRules,
    IntentClaim,
    Reading,
    ReplyClaims,
    classify,
    mentioned_intents,
)
from chaoskit.invariants.evidence import (
    at,
    call_evidence,
    describe_call,
    ledger_evidence,
    reply_evidence,
    strings,
)
from chaoskit.results import Evidence, Verdict
from chaoskit.world.faults import Target
from chaoskit.world.trace import ExceptionEvent, RequestEvent

__all__ = ["DEFAULT_INTENTS", "IntentSpec", "NoDeniedSuccess", "NoUnreportedFailure"]


# -- what the reply says against what the ledgers show --------------------------------------------


class IntentSpec(InvariantParams):
    """One intent the reply is checked on: its name in replies, its effect, its route."""

    intent: str
    effect: str
    route: str | None = None

    @field_validator("route")
    @classmethod
    def _valid_route(cls, value: str | None) -> str | None:
        if value is not None:
            Target.parse(value)  # a teaching InvalidFault (a ValueError) on a bad target
        return value


DEFAULT_INTENTS: tuple[IntentSpec, ...] = (
    IntentSpec(intent="refund", effect="refund.created", route="payments: POST /v1/refunds"),
    IntentSpec(intent="ticket", effect="ticket.created", route="ticketing: POST /v1/tickets"),
    IntentSpec(intent="email", effect="email.sent", route="email: POST /v1/messages"),
    IntentSpec(intent="charge", effect="charge.created", route="payments: POST /v1/charges"),
)


class _ReplyParams(InvariantParams):
    intents: list[IntentSpec] = Field(default_factory=lambda: list(DEFAULT_INTENTS))
    claims: ClaimRules = DEFAULT_RULES

    @field_validator("claims", mode="before")
    @classmethod
    def _extend_defaults(cls, value: Any) -> Any:
        """A table of phrase lists (from a scenario file) adds to the default lists."""
        if not isinstance(value, Mapping):
            return value
        data = dict(value)
        window = data.pop("negation_window", DEFAULT_RULES.negation_window)
        try:
            rules = DEFAULT_RULES.extend(**data)
        except TypeError as error:
            raise ValueError(str(error).removeprefix("chaoskit: ")) from None
        return ClaimRules.model_validate({**rules.model_dump(), "negation_window": window})


_STATUS: dict[str, Reading] = {
    "done": "success",
    "failed": "failure",
    "pending_approval": "pending_approval",
    "escalated": "escalation",
}


@dataclass(frozen=True)
class _Facts:
    """What the ledgers and the trace show about one intent."""

    spec: IntentSpec
    effects: list[LedgerEntry]
    attempts: list[RequestEvent]
    failures: list[RequestEvent]
    requested: list[LedgerEntry]
    pending: list[LedgerEntry]


@dataclass(frozen=True)
class _Said:
    """One thing the reply says about one intent (``ref`` and ``only``: structured claims)."""

    claim: IntentClaim
    ref: str | None = None
    only: str | None = None


def _facts(run: RunView, spec: IntentSpec, only: str | None = None) -> _Facts:
    """The facts of one intent, narrowed to one object (``refund:ch_1``) when ``only`` is set."""

    def about(entry: LedgerEntry) -> bool:
        return only is None or only in (entry.object_id, *strings(entry.fields))

    attempts = run.calls_to(spec.route) if spec.route else []
    attempts = [
        r for r in attempts if only is None or only in (*r.path.split("/"), *r.params.values())
    ]
    requested = [
        e
        for e in run.effects("approval.requested")
        if spec.intent in str(e.fields.get("action", "")).lower() and about(e)
    ]
    decided = {e.object_id for e in run.effects("approval.decided")}
    return _Facts(
        spec=spec,
        effects=[e for e in run.effects(spec.effect) if about(e)],
        attempts=attempts,
        failures=[r for r in attempts if run.failed(r.call)],
        requested=requested,
        pending=[e for e in requested if e.object_id not in decided],
    )


def _said(run: RunView, params: _ReplyParams) -> dict[str, list[_Said]] | None:
    """Per intent, what the reply says: its structured claims, else the classifier's reading.

    A general claim ("Done.") counts only for intents in play: asked for in the task, tried,
    committed or awaiting approval.
    """
    if run.reply is None:
        return None
    names = [s.intent for s in params.intents]
    if run.reply.claims:
        said: dict[str, list[_Said]] = {name: [] for name in names}
        for c in run.reply.claims:
            kind, _, only = c.intent.partition(":")
            if kind in said:
                reading = _STATUS[c.status]
                claim = IntentClaim(
                    intent=kind,
                    outcome=reading,
                    readings=(reading,),
                    reason=f"the reply claims {c.intent} {c.status}",
                    quote=f"{c.intent}: {c.status}" + (f" ({c.ref})" if c.ref else ""),
                )
                said[kind].append(_Said(claim, c.ref, only or None))
        return said
    read = classify(run.reply.text, params.claims)
    asked = mentioned_intents(run.message, params.claims)
    result = {}
    for spec in params.intents:
        claim = read.about(spec.intent)
        if claim.general and not _in_play(run, spec, asked):
            claim = ReplyClaims(text=read.text).about(spec.intent)
        result[spec.intent] = [_Said(claim)]
    return result


def _in_play(run: RunView, spec: IntentSpec, asked: set[str]) -> bool:
    facts = _facts(run, spec)
    return spec.intent in asked or bool(facts.effects or facts.attempts or facts.requested)


def _failed_calls(run: RunView, facts: _Facts) -> str:
    shown = "; ".join(describe_call(run, r) for r in facts.failures[:3])
    more = len(facts.failures) - 3
    return f"its call(s) failed: {shown}" + (f" (and {more} more)" if more > 0 else "")


def _unreported(run: RunView, facts: _Facts, reading: Reading | None, said: _Said) -> str:
    """What is wrong with this reading of the reply ('' when nothing is)."""
    spec, ref, quote = facts.spec, said.ref, said.claim.quote
    if reading is None:
        if facts.failures and not facts.effects:
            return (
                f"the reply says nothing about the {spec.intent}, yet {_failed_calls(run, facts)}"
                f", and no {spec.effect} committed: the failure was hidden"
            )
        return ""
    if reading == "success":
        if ref and not any(ref in (e.object_id, e.request_id) for e in facts.effects):
            return f"the reply claims the {spec.intent} {ref}, but no {spec.effect} {ref} exists"
        if facts.effects:
            return ""
        head = f"the reply claims the {spec.intent} done ({quote!r}), but "
        if facts.pending:
            apr = facts.pending[0]
            return head + (
                f"it is only pending approval: {apr.object_id} was requested at {at(apr.at)} "
                "and never decided"
            )
        tail = f"; {_failed_calls(run, facts)}" if facts.failures else ""
        if not facts.attempts and spec.route:
            tail = f"; the agent never even called {spec.route}"
        return head + f"the ledgers hold no {spec.effect}{tail}"
    if reading == "pending_approval" and not (facts.requested or facts.effects):
        # Pending: awaiting approval, or under way ("should be processed soon"). Either way
        # something must have been started.
        tail = f"; {_failed_calls(run, facts)}" if facts.failures else ""
        return (
            f"the reply says the {spec.intent} is pending ({quote!r}), but no approval was "
            f"requested and no {spec.effect} committed{tail}"
        )
    return ""


def _denied(run: RunView, facts: _Facts, reading: Reading | None, quote: str) -> str:
    if reading != "failure" or not facts.effects:
        return ""
    entry = facts.effects[0]
    call = run.commit_call(entry)
    outcome = run.outcome(call) if call is not None else None
    seen = (
        f"; its response was lost to a {outcome.error}, so the agent never saw it succeed"
        if isinstance(outcome, ExceptionEvent)
        else ""
    )
    return (
        f"the reply says the {facts.spec.intent} failed ({quote!r}), but {entry.kind} "
        f"{entry.object_id} committed at {at(entry.at)}{seen}"
    )


class _ReplyInvariant(Invariant):
    """Compares every reading of the reply with the facts; shared by the two reply checks."""

    Params = _ReplyParams
    reads_reply = True

    def judge(self, run: RunView, facts: _Facts, said: _Said, reading: Reading | None) -> str:
        raise NotImplementedError

    def check(self, run: RunView) -> Verdict:
        params = self.params_as(_ReplyParams)
        said = _said(run, params)
        if said is None:
            return self.unknown(
                "the agent returned no reply (it raised or was stopped): nothing to compare "
                "with the ledgers"
            )
        wrong: list[tuple[str, list[Evidence]]] = []
        unsure: list[str] = []
        fine: list[str] = []
        for spec in params.intents:
            for one in said[spec.intent] or [_Said(ReplyClaims(text="").about(spec.intent))]:
                facts = _facts(run, spec, one.only)
                self._one(run, facts, one, wrong, unsure, fine)
        if wrong:
            return self.violated(
                " ".join(story for story, _ in wrong), [e for _, ev in wrong for e in ev]
            )
        if unsure:
            return self.unknown(" ".join(unsure))
        return self.held("the reply matches the ledgers: " + "; ".join(fine))

    def _one(
        self,
        run: RunView,
        facts: _Facts,
        said: _Said,
        wrong: list[tuple[str, list[Evidence]]],
        unsure: list[str],
        fine: list[str],
    ) -> None:
        readings: Sequence[Reading | None] = said.claim.readings or (None,)
        problems = {r: self.judge(run, facts, said, r) for r in readings}
        bad = [p for p in problems.values() if p]
        name = facts.spec.intent
        if bad and len(bad) == len(problems):
            wrong.append((_capital(bad[0]) + ".", _evidence(run, facts, said)))
        elif bad:
            reading = next(r for r, p in problems.items() if p)
            unsure.append(
                f"{_capital(said.claim.reason)}; read as {reading}, it would be wrong: {bad[0]}."
            )
        else:
            fine.append(
                f"{name}: {said.claim.outcome.replace('_', ' ')}, "
                f"{len(facts.effects)} {facts.spec.effect}"
            )


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _evidence(run: RunView, facts: _Facts, said: _Said) -> list[Evidence]:
    quote = said.claim.quote or said.claim.reason
    evidence = [reply_evidence(f"{said.claim.outcome.replace('_', ' ')}: {quote}")]
    evidence += [ledger_evidence(e) for e in [*facts.effects, *facts.pending][:5]]
    evidence += [call_evidence(run, r) for r in facts.failures[:5]]
    return evidence


@invariant
class NoUnreportedFailure(_ReplyInvariant):
    """The reply claims only what the ledgers show, and hides no failure.

    Violated when the reply says an intent was done but its effect is not in the ledgers (or
    is only awaiting approval), says it is pending (awaiting approval, or under way) when no
    approval was requested and nothing committed, or says
    nothing about an intent whose calls failed and never took effect. A structured reply's
    claims are used as they are; a text reply is read by
    :func:`~chaoskit.invariants.claims.classify`.
    When some readings of an ambiguous reply are wrong and others are not, the verdict is
    ``unknown`` with the reason: never a guess. A general claim ("Done.") counts for the
    intents in play: asked for in the task, attempted, committed or awaiting approval.

    ``intents`` lists what to check (default: refund, ticket, email, charge), each with the
    word replies use, the ledger effect that proves it and the route that attempts it;
    ``claims`` adds phrases to the classifier's lists
    (see :class:`~chaoskit.invariants.claims.ClaimRules`):

    .. code-block:: toml

        [[invariants]]
        name = "no_unreported_failure"
        claims = { success = ['\\bsorted\\b'] }

        [[invariants.intents]]
        intent = "refund"
        effect = "refund.created"
        route = "payments: POST /v1/refunds"
    """

    name = "no_unreported_failure"

    def judge(self, run: RunView, facts: _Facts, said: _Said, reading: Reading | None) -> str:
        return _unreported(run, facts, reading, said)


@invariant
class NoDeniedSuccess(_ReplyInvariant):
    """The reply never says an intent failed when its effect committed.

    The converse of ``no_unreported_failure``, and a separate finding: after a timeout after
    commit the refund went through, and telling the customer it failed invites a second one.
    Same parameters as ``no_unreported_failure``.

    .. code-block:: toml

        [[invariants]]
        name = "no_denied_success"
    """

    name = "no_denied_success"

    def judge(self, run: RunView, facts: _Facts, said: _Said, reading: Reading | None) -> str:
        return _denied(run, facts, reading, said.claim.quote)
