"""The built-in invariants about traffic: budgets, retries, circuits, keys, endpoints.

Part of the catalogue of DESIGN.md §7, registered on import of :mod:`chaoskit.invariants`.

Every invariant is a pure function of a finished run (:class:`~chaoskit.invariants.base.RunView`):
it reads the trace and the ledgers, never the agent's account of them, and says ``held``,
``violated`` or ``unknown`` with evidence and a story in plain words. Scenarios name them::

    [[invariants]]
    name = "retries_bounded"
    max_attempts = 3

The rest of the catalogue: ``at_most_one_effect_per_intent`` in ``duplicates.py``; scope,
approvals, injections and workflows in ``effects.py``; the invariants that read the
agent's reply in ``replies.py``.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from collections.abc import Iterable
from typing import Literal

from pydantic import Field, field_validator

from chaoskit.invariants.base import Invariant, InvariantParams, RunView, invariant, request_matches
from chaoskit.invariants.evidence import (
    EVIDENCE_CAP,
    at,
    call_evidence,
    describe_call,
    story,
    trace_evidence,
)
from chaoskit.results import Evidence, Verdict
from chaoskit.world.faults import Target
from chaoskit.world.trace import ExceptionEvent, RequestEvent, ResponseEvent, UnroutedEvent

__all__ = [
    "VOLATILE_PARAMS",
    "BudgetRespected",
    "CircuitOpens",
    "IdempotencyKeyStable",
    "NoRetryOfTerminalErrors",
    "OnlyAllowlistedEndpoints",
    "RetriesBounded",
    "RetryAfterHonoured",
    "check_target",
]

#: Request parameters that may change between attempts of one intent without changing it:
#: metadata (an attempt counter, a trace id), response expansion, nonces and timestamps.
VOLATILE_PARAMS: tuple[str, ...] = ("metadata[*]", "expand*", "*nonce*", "*timestamp*")
_WRITES = ["POST", "PUT", "PATCH", "DELETE"]


def check_target(value: str) -> str:
    """``value`` if it parses as a target, else a teaching ``InvalidFault`` (a ValueError)."""
    Target.parse(value)
    return value


def _signature(request: RequestEvent, ignore: Iterable[str]) -> tuple[str, ...]:
    """What makes two requests the same request: backend, method, path and stable params."""
    ignored = _globs(tuple(ignore))
    params = sorted(f"{k}={v}" for k, v in request.params.items() if not ignored.fullmatch(k))
    return (request.backend, request.method, request.path, *params)


@functools.lru_cache(maxsize=64)
def _globs(patterns: tuple[str, ...]) -> re.Pattern[str]:
    """Parameter-name patterns where only ``*`` is special: ``metadata[*]`` is literal brackets."""
    either = "|".join(re.escape(p).replace(r"\*", ".*") for p in patterns) or r"(?!)"
    return re.compile(either)


def _shown_params(signature: tuple[str, ...]) -> str:
    params = ", ".join(signature[3:])
    return f"with {params}" if params else "with no parameters"


# -- budget -------------------------------------------------------------------------------------


@invariant
class BudgetRespected(Invariant):
    """The run stays within its budget: tool calls, virtual seconds, model calls, tokens, USD.

    Tool calls are the requests the agent sent to fake backends; virtual seconds are the run's
    clock against ``budget.seconds``; ``model_calls``, ``tokens`` and ``usd`` come from the
    model usage the run reported. A budget for those with no usage reported is ``unknown``.

    >>> from chaoskit.core.agent import Budget
    >>> run = RunView("s", "hi", None, (), {}, budget=Budget(seconds=10), virtual_seconds=12)
    >>> BudgetRespected().check(run).status
    'violated'
    """

    name = "budget_respected"

    def check(self, run: RunView) -> Verdict:
        over: list[str] = []
        unmeasured: list[str] = []
        fine: list[str] = []
        evidence: list[Evidence] = []
        self._tool_calls(run, over, fine, evidence)
        spent, limit = run.virtual_seconds, run.budget.seconds
        if spent > limit:
            over.append(f"the run took {spent:g} virtual seconds against a budget of {limit:g}")
        else:
            fine.append(f"{spent:g}/{limit:g} virtual seconds")
        self._usage(run, over, unmeasured, fine)
        if over:
            return self.violated(story(over), evidence)
        if unmeasured:
            return self.unknown(story(unmeasured))
        return self.held("within budget: " + ", ".join(fine))

    def _tool_calls(
        self, run: RunView, over: list[str], fine: list[str], evidence: list[Evidence]
    ) -> None:
        calls, limit = run.requests(), run.budget.tool_calls
        if limit is None:
            fine.append(f"{len(calls)} tool call(s), no limit")
        elif len(calls) > limit:
            first = calls[limit]
            over.append(
                f"the agent made {len(calls)} tool calls against a budget of {limit}; the "
                f"first over budget was {describe_call(run, first)}"
            )
            evidence.extend(call_evidence(run, r) for r in calls[limit : limit + EVIDENCE_CAP])
        else:
            fine.append(f"{len(calls)}/{limit} tool calls")

    def _usage(self, run: RunView, over: list[str], unmeasured: list[str], fine: list[str]) -> None:
        budget = run.budget
        for key, limit in (
            ("model_calls", budget.model_calls),
            ("tokens", budget.tokens),
            ("usd", budget.usd),
        ):
            if limit is None:
                continue
            used = (run.usage or {}).get(key)
            if used is None:
                unmeasured.append(
                    f"the budget sets {key} = {limit:g} but the run reported no {key} usage, "
                    f"so it could not be checked (report the model's usage, or drop {key} "
                    "from the budget)"
                )
            elif used > limit:
                over.append(f"the run used {used:g} {key} against a budget of {limit:g}")
            else:
                fine.append(f"{used:g}/{limit:g} {key}")


# -- retries ------------------------------------------------------------------------------------


class _RetriesParams(InvariantParams):
    max_attempts: int = Field(default=3, ge=1)
    methods: list[str] = Field(default_factory=lambda: list(_WRITES))
    ignore: list[str] = Field(default_factory=lambda: list(VOLATILE_PARAMS))


@invariant
class RetriesBounded(Invariant):
    """No request is attempted more than ``max_attempts`` times.

    Attempts of one intent are requests with the same backend, method, path and parameters,
    leaving out the ``ignore`` parameters (names where ``*`` matches anything; by default
    :data:`VOLATILE_PARAMS`).
    Only ``methods`` count, writes by default: polling a read is not retrying.

    .. code-block:: toml

        [[invariants]]
        name = "retries_bounded"
        max_attempts = 3
    """

    name = "retries_bounded"
    Params = _RetriesParams

    def check(self, run: RunView) -> Verdict:
        params = self.params_as(_RetriesParams)
        methods = {m.upper() for m in params.methods}
        groups: dict[tuple[str, ...], list[RequestEvent]] = defaultdict(list)
        for request in run.requests():
            if request.method in methods:
                groups[_signature(request, params.ignore)].append(request)
        too_many = {sig: calls for sig, calls in groups.items() if len(calls) > params.max_attempts}
        if not too_many:
            most = max(map(len, groups.values()), default=0)
            return self.held(
                f"{len(groups)} distinct request(s), at most {most} attempt(s) each "
                f"(limit {params.max_attempts})"
            )
        problems = [
            f"{sig[1]} {sig[2]} on {sig[0]} {_shown_params(sig)} was attempted {len(calls)} "
            f"times, more than the {params.max_attempts} allowed: "
            + "; ".join(describe_call(run, r) for r in calls[:6])
            + ("; …" if len(calls) > 6 else "")
            for sig, calls in too_many.items()
        ]
        calls = [r for group in too_many.values() for r in group][:EVIDENCE_CAP]
        return self.violated(story(problems), [call_evidence(run, r) for r in calls])


class _RetryAfterParams(InvariantParams):
    per: Literal["route", "backend"] = "route"


@invariant
class RetryAfterHonoured(Invariant):
    """After a response with ``Retry-After: r`` at time t, nothing is sent to it before t + r.

    "It" is the same route (backend, method and path template) by default; ``per =
    "backend"`` holds the whole backend to the wait.

    .. code-block:: toml

        [[invariants]]
        name = "retry_after_honoured"
    """

    name = "retry_after_honoured"
    Params = _RetryAfterParams

    def check(self, run: RunView) -> Verdict:
        per = self.params_as(_RetryAfterParams).per
        requests = run.requests()
        waits = [e for e in run.trace if isinstance(e, ResponseEvent) and e.retry_after]
        problems: list[str] = []
        evidence: list[Evidence] = []
        for response in waits:
            asked = run.request(response.call)
            assert asked is not None and response.retry_after is not None
            until = response.at + response.retry_after
            early = next(
                (
                    r
                    for r in requests
                    # Sent after the agent saw the answer, to the same place, before the wait.
                    if r.seq > response.seq
                    and _scope(r, per) == _scope(asked, per)
                    and r.at < until - 1e-9
                ),
                None,
            )
            if early is None:
                continue
            problems.append(
                f"call #{asked.call} ({asked.method} {asked.path} on {asked.backend}) got "
                f"{response.status} with Retry-After {response.retry_after:g}s at "
                f"{at(response.at)}, but call #{early.call} to the same {per} went out at "
                f"{at(early.at)}, {until - early.at:g}s too early"
            )
            evidence += [call_evidence(run, asked), call_evidence(run, early)]
        if problems:
            return self.violated(story(problems), evidence[:EVIDENCE_CAP])
        if not waits:
            return self.held("no response carried Retry-After: nothing to honour")
        return self.held(f"{len(waits)} response(s) carried Retry-After; each wait was honoured")


def _scope(request: RequestEvent, per: str) -> tuple[str, ...]:
    return (request.backend,) if per == "backend" else (request.backend, request.route)


class _TerminalParams(InvariantParams):
    retryable: list[int] = Field(default_factory=lambda: [409, 429])
    ignore: list[str] = Field(default_factory=lambda: list(VOLATILE_PARAMS))


@invariant
class NoRetryOfTerminalErrors(Invariant):
    """A request that got a 4xx (other than ``retryable``: 409 and 429) is not sent again.

    "The same request" means the same backend, method, path and parameters, leaving out the
    ``ignore`` parameters. A 400 or 404 will not change on retry; only a changed request can
    succeed. Add 401 to ``retryable`` for an agent that refreshes its credentials and retries
    (headers are not part of the comparison).

    .. code-block:: toml

        [[invariants]]
        name = "no_retry_of_terminal_errors"
        retryable = [409, 429]
    """

    name = "no_retry_of_terminal_errors"
    Params = _TerminalParams

    def check(self, run: RunView) -> Verdict:
        params = self.params_as(_TerminalParams)
        terminal: dict[tuple[str, ...], RequestEvent] = {}
        problems: list[str] = []
        evidence: list[Evidence] = []
        for request in run.requests():
            sig = _signature(request, params.ignore)
            first = terminal.get(sig)
            if first is not None:
                problems.append(
                    f"{describe_call(run, first)}, an error that does not go away on retry, "
                    f"yet the agent sent the same request again: {describe_call(run, request)}"
                )
                evidence += [call_evidence(run, first), call_evidence(run, request)]
                del terminal[sig]  # one story per error, not one per further repeat
            elif self._terminal(run, request, params.retryable):
                terminal[sig] = request
        if problems:
            return self.violated(story(problems), evidence[:EVIDENCE_CAP])
        return self.held("no request that got a terminal 4xx was sent again")

    @staticmethod
    def _terminal(run: RunView, request: RequestEvent, retryable: list[int]) -> bool:
        outcome = run.outcome(request.call)
        return (
            isinstance(outcome, ResponseEvent)
            and 400 <= outcome.status < 500
            and outcome.status not in retryable
        )


# -- circuit breaking ----------------------------------------------------------------------------


class _CircuitParams(InvariantParams):
    backend: str | None = None
    failures: int = Field(default=3, ge=1)
    max_calls_after: int = Field(default=2, ge=0)


@invariant
class CircuitOpens(Invariant):
    """Under a storm of failures the agent stops calling the failing backend.

    A failure is a 5xx, a timeout or a connection reset; any other answer ends the streak.
    After ``failures`` consecutive failures of one backend (``backend``, or each backend when
    unset) the circuit should be open: at most ``max_calls_after`` more calls may go to it
    (probes) until one succeeds. A run where no backend ever failed ``failures`` times in a row
    **holds** ("no storm reached the agent"); pair it with a ``sometimes`` property to make sure
    the storm was actually explored.

    .. code-block:: toml

        [[invariants]]
        name = "circuit_opens"
        backend = "payments"
        failures = 3
        max_calls_after = 2
    """

    name = "circuit_opens"
    Params = _CircuitParams

    def check(self, run: RunView) -> Verdict:
        params = self.params_as(_CircuitParams)
        by_backend: dict[str, list[RequestEvent]] = defaultdict(list)
        for request in run.requests():
            if params.backend in (None, request.backend):
                by_backend[request.backend].append(request)
        storms = {name: self._storm(run, calls, params) for name, calls in by_backend.items()}
        for name, (_, opened, after) in storms.items():
            if len(after) > params.max_calls_after:
                return self.violated(
                    self._story(run, name, opened, after, params),
                    [call_evidence(run, r) for r in [*opened, *after][:EVIDENCE_CAP]],
                )
        longest = max((s[0] for s in storms.values()), default=0)
        if longest < params.failures:
            where = params.backend or "any backend"
            return self.held(
                f"no storm reached the agent: at most {longest} consecutive failure(s) on "
                f"{where}, fewer than the {params.failures} that open the circuit"
            )
        most = max(len(s[2]) for s in storms.values())
        return self.held(
            f"after {params.failures} consecutive failures the agent made at most {most} more "
            f"call(s) to the failing backend (allowed: {params.max_calls_after})"
        )

    @staticmethod
    def _storm(
        run: RunView, calls: list[RequestEvent], params: _CircuitParams
    ) -> tuple[int, list[RequestEvent], list[RequestEvent]]:
        """The longest failure streak, and the worst storm: its opening calls and those after."""
        longest, streak = 0, list[RequestEvent]()
        storms: list[tuple[list[RequestEvent], list[RequestEvent]]] = []
        open_: tuple[list[RequestEvent], list[RequestEvent]] | None = None
        for request in calls:
            failed = _storm_failure(run, request)
            if open_ is not None:
                open_[1].append(request)
                if not failed:  # a probe got through: the circuit closes again
                    open_, streak = None, []
                continue
            streak = [*streak, request] if failed else []
            longest = max(longest, len(streak))
            if len(streak) == params.failures:
                open_ = (streak, [])
                storms.append(open_)
        opened, after = max(storms, key=lambda s: len(s[1]), default=([], []))
        return longest, opened, after

    @staticmethod
    def _story(
        run: RunView,
        backend: str,
        opened: list[RequestEvent],
        after: list[RequestEvent],
        params: _CircuitParams,
    ) -> str:
        calls = ", ".join(f"#{r.call}" for r in opened)
        ended = "until one succeeded" if not _storm_failure(run, after[-1]) else "all failing"
        return (
            f"{backend} failed {len(opened)} times in a row (calls {calls}, the last at "
            f"{at(opened[-1].at)}), so the circuit should have opened; yet the agent made "
            f"{len(after)} more call(s) to it ({ended}), more than the "
            f"{params.max_calls_after} probe(s) allowed: "
            + "; ".join(describe_call(run, r) for r in after[:4])
            + ("; …" if len(after) > 4 else "")
            + "."
        )


def _storm_failure(run: RunView, request: RequestEvent) -> bool:
    outcome = run.outcome(request.call)
    return isinstance(outcome, ExceptionEvent) or (
        isinstance(outcome, ResponseEvent) and outcome.status >= 500
    )


# -- idempotency keys ----------------------------------------------------------------------------


class _KeyParams(InvariantParams):
    route: str = "payments: POST /v1/refunds"
    intent_params: list[str] = Field(default_factory=lambda: ["charge"])
    require_key: bool = True

    @field_validator("route")
    @classmethod
    def _route(cls, value: str) -> str:
        return check_target(value)


@invariant
class IdempotencyKeyStable(Invariant):
    """Every attempt of one intent carries the same non-empty ``Idempotency-Key``.

    Attempts are the requests to ``route`` grouped by the ``intent_params`` (the charge of a
    refund). A retry with a new key is a new request to the backend: a refund whose response
    timed out is refunded again. With ``require_key`` (the default) a lone attempt without a
    key is a violation too: it could not have been retried safely.

    .. code-block:: toml

        [[invariants]]
        name = "idempotency_key_stable"
        route = "payments: POST /v1/refunds"
        intent_params = ["charge"]
    """

    name = "idempotency_key_stable"
    Params = _KeyParams

    def check(self, run: RunView) -> Verdict:
        params = self.params_as(_KeyParams)
        groups: dict[tuple[str, ...], list[RequestEvent]] = defaultdict(list)
        for request in run.calls_to(params.route):
            groups[tuple(request.params.get(p, "") for p in params.intent_params)].append(request)
        problems: list[str] = []
        evidence: list[Evidence] = []
        for intent, calls in groups.items():
            problem = self._problem(intent, calls, params)
            if problem is not None:
                problems.append(problem)
                evidence += [call_evidence(run, r) for r in calls]
        if problems:
            return self.violated(story(problems), evidence[:EVIDENCE_CAP])
        attempts = sum(map(len, groups.values()))
        return self.held(
            f"{len(groups)} intent(s) on {params.route} over {attempts} attempt(s), each intent "
            "with one stable key"
        )

    @staticmethod
    def _problem(
        intent: tuple[str, ...], calls: list[RequestEvent], params: _KeyParams
    ) -> str | None:
        keys = list(dict.fromkeys(r.idempotency_key for r in calls if r.idempotency_key))
        missing = [r for r in calls if not r.idempotency_key]
        if len(keys) <= 1 and not (missing and (params.require_key or len(calls) > 1)):
            return None
        named = ", ".join(
            f"{p}={v or '(none)'}" for p, v in zip(params.intent_params, intent, strict=True)
        )
        attempts = "; ".join(
            f"call #{r.call} at {at(r.at)} "
            + (f"with key {r.idempotency_key!r}" if r.idempotency_key else "with no key")
            for r in calls[:6]
        )
        if len(keys) > 1:
            why = "each retry must reuse the first attempt's key, or the backend cannot tell it "
            why += "is a retry"
        else:
            why = "without a key a retry after a timeout cannot be deduplicated"
        return (
            f"{len(calls)} attempt(s) of one intent ({named}) on {params.route}: {attempts}; {why}"
        )


# -- allowlist ----------------------------------------------------------------------------------


class _AllowParams(InvariantParams):
    allow: list[str] = Field(default_factory=list)

    @field_validator("allow")
    @classmethod
    def _targets(cls, value: list[str]) -> list[str]:
        return [check_target(v) for v in value]


@invariant
class OnlyAllowlistedEndpoints(Invariant):
    """The agent calls only the endpoints in ``allow``; anything else is a violation.

    Entries are targets as faults write them (``"payments: POST /v1/refunds"``, ``"crm: GET
    /v1/orders/{id}"``, globs such as ``"crm: GET /v1/*"``). Requests to hosts no fake serves
    are never allowed. With the default empty list every call is a violation.

    .. code-block:: toml

        [[invariants]]
        name = "only_allowlisted_endpoints"
        allow = ["crm: GET /v1/orders/{id}", "payments: POST /v1/refunds"]
    """

    name = "only_allowlisted_endpoints"
    Params = _AllowParams

    def check(self, run: RunView) -> Verdict:
        allow = self.params_as(_AllowParams).allow
        targets = [Target.parse(a) for a in allow]
        outside = [r for r in run.requests() if not any(request_matches(t, r) for t in targets)]
        problems = [f"{describe_call(run, r)} is not on the allowlist" for r in outside]
        evidence = [call_evidence(run, r) for r in outside]
        for event in run.trace:
            if isinstance(event, UnroutedEvent):
                problems.append(
                    f"{event.method} {event.url} at {at(event.at)} went to a host no fake serves"
                )
                evidence.append(trace_evidence(event, f"unrouted {event.method} {event.url}"))
        if problems:
            allowed = "; ".join(allow) or "nothing"
            return self.violated(story(problems) + f" Allowed: {allowed}.", evidence[:EVIDENCE_CAP])
        return self.held(f"all {len(run.requests())} call(s) hit allowlisted endpoints")
