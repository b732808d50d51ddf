"""The results model: versioned, JSON-serialisable, the one input of reports and replays.

Same seed, same results: nothing here depends on wall-clock time, except ``RunResult.timing``,
which is excluded from the canonical JSON (see :meth:`RunResult.canonical_json`). A run that used
Hypothesis's example database says so (``RunResult.database``): replaying saved failures first
changes what the run explores, so only a run without it is reproducible byte for byte.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import Field

from chaoskit.core.agent import Budget, Reply
from chaoskit.core.models import FrozenModel
from chaoskit.fakes import LedgerEntry
from chaoskit.world.trace import Event

__all__ = [
    "READABLE_SCHEMA_VERSIONS",
    "SCHEMA_VERSION",
    "Coverage",
    "Decision",
    "DeliveryRecord",
    "Evidence",
    "Example",
    "Finding",
    "FiredFault",
    "Gate",
    "InvalidInput",
    "InvariantSummary",
    "RunResult",
    "ScenarioResult",
    "ScheduleTrials",
    "Shard",
    "Verdict",
    "model_mode",
]

#: Version 2 added ``invalid``, ``interrupted`` and ``database`` to the run, ``interrupted`` to
#: scenarios, and the scenario status ``interrupted``. Version 3 added the run's ``shard``.
#: Version 4 added a scenario's ``part`` and ``parts`` (one scenario split across workers),
#: and trials: the run's ``trials``; each scenario's ``trials``, ``pass_k``, ``pass_curve``,
#: ``min_pass_k``, ``schedules``, ``deterministic`` and ``counterexample_trials``.
SCHEMA_VERSION = 4
#: Versions this chaoskit reads: every field added since has a default.
READABLE_SCHEMA_VERSIONS = (1, 2, 3, 4)

VerdictStatus = Literal["held", "violated", "unknown"]
SummaryStatus = Literal["held", "violated", "unknown", "not_exercised"]
#: ``interrupted``: Ctrl-C cut the scenario short before it found a violation; never held.
ScenarioStatus = Literal["held", "violated", "not_exercised", "error", "interrupted"]
#: What a whole run says: ``interrupted`` wins over ``fail``, and neither is ever a pass.
Gate = Literal["pass", "fail", "interrupted"]
FindingKind = Literal[
    "agent_raised",
    "agent_hung",
    "unknown_host",
    "threads_left",
    "bad_reply",
    "model_script",
    "model_cassette",
    "ground_truth_tampered",
    "network_refused",
    "process_spawned",
    "delivery_blocked",
]


class Evidence(FrozenModel):
    """One piece of evidence: a ledger entry, a trace position or a part of the reply."""

    kind: Literal["ledger", "trace", "reply"]
    ref: str
    detail: str


class Verdict(FrozenModel):
    """What one invariant says about one run, in plain words, with its evidence."""

    invariant: str
    status: VerdictStatus
    explanation: str
    evidence: tuple[Evidence, ...] = ()


class Finding(FrozenModel):
    """Something wrong with the agent itself: it raised, hung, called an unknown host…"""

    kind: FindingKind
    message: str


class Decision(FrozenModel):
    """One explore decision: on call ``call``, rule ``rule`` fired (None: no fault).

    ``kind="model"`` decisions are the fake model's misbehaviours, numbered by model call;
    ``kind="delivery"`` decisions whether delivery ``call`` of the task happens, and as what
    (``rule``: ``"duplicate"``, ``"follow_up"`` or ``"concurrent"``; None: it does not);
    ``kind="switch"`` decisions which of deliveries running at once makes call ``call``
    (``rule``: ``"delivery 2"``; None: the one that reached it goes on).
    """

    call: int
    rule: str | None
    kind: Literal["fault", "model", "delivery", "switch"] = "fault"


DeliveryReason = Literal["first", "redelivery", "duplicate", "follow_up", "concurrent"]


class DeliveryRecord(FrozenModel):
    """One delivery of the task in an example: why, what the agent was sent, how it ended.

    ``after_crash`` is the call the delivery before it was killed at (for a redelivery);
    ``crashed_at`` the call this one was killed at (then it has no reply). ``started`` and
    ``ended`` are virtual times.
    """

    number: int
    reason: DeliveryReason
    message: str
    reply: Reply | None = None
    after_crash: int | None = None
    crashed_at: int | None = None
    started: float = 0.0
    ended: float = 0.0

    @property
    def label(self) -> str:
        """``delivery 2 after a crash at call #3``, ``delivery 2 (a duplicate)``…"""
        head = f"delivery {self.number}"
        if self.reason == "redelivery" and self.after_crash is not None:
            return f"{head} after a crash at call #{self.after_crash}"
        shown = {
            "duplicate": " (a duplicate)",
            "follow_up": " (a follow-up message)",
            "concurrent": " (at the same time)",
        }
        return head + shown.get(self.reason, "")


class FiredFault(FrozenModel):
    """A fault that fired: where, when, what."""

    call: int
    at: float
    backend: str
    route: str
    kind: str
    rule: str
    detail: str | None = None


class Example(FrozenModel):
    """One complete run, enough to tell its story and to replay it exactly."""

    world_seed: int
    decisions: tuple[Decision, ...]
    faults: tuple[FiredFault, ...]
    message: str
    reply: Reply | None
    verdicts: tuple[Verdict, ...]
    findings: tuple[Finding, ...]
    trace: tuple[Event, ...]
    trace_dropped: int = 0
    ledgers: dict[str, tuple[LedgerEntry, ...]]
    virtual_seconds: float
    usage: dict[str, float] = Field(default_factory=dict)
    #: Every delivery of the task, when there was more than one or one crashed.
    deliveries: tuple[DeliveryRecord, ...] = ()

    @property
    def failed(self) -> bool:
        return bool(self.findings) or any(v.status == "violated" for v in self.verdicts)


class ScheduleTrials(FrozenModel):
    """One drawn fault schedule run ``trials`` times: how many of them passed.

    ``ran`` is how many trials were really run: 1 once the agent was found deterministic, the
    one run then standing for all ``trials`` (its outcome would be the same each time).
    """

    world_seed: int
    faults: int = 0
    trials: int = Field(ge=1)
    passed: int = Field(ge=0)
    ran: int = Field(ge=1)

    @property
    def pass_rate(self) -> float:
        return self.passed / self.trials


class InvariantSummary(FrozenModel):
    """One invariant over all examples of a scenario."""

    invariant: str
    status: SummaryStatus
    held: int = 0
    violated: int = 0
    unknown: int = 0
    reason: str | None = None


class Coverage(FrozenModel):
    """Which faults fired where, and which sometimes-properties were hit, over all examples."""

    faults: dict[str, dict[str, int]] = Field(default_factory=dict)
    sometimes: dict[str, int] = Field(default_factory=dict)
    examples_with_faults: int = 0


class ScenarioResult(FrozenModel):
    """A scenario explored against an agent."""

    scenario: str
    description: str = ""
    source: str | None = None
    agent: str
    #: The fake model's provider when the scenario scripts one; ``"passthrough"`` for the
    #: agent's real model.
    model: str | None = None
    status: ScenarioStatus
    examples: int = 0
    budget: Budget | None = None
    invariants: tuple[InvariantSummary, ...] = ()
    coverage: Coverage = Coverage()
    counterexample: Example | None = None
    #: The smallest example seen for each violated invariant and finding kind that the
    #: counterexample does not show: shrinking keeps one failure and may drift from another.
    failures: tuple[Example, ...] = ()
    samples: tuple[Example, ...] = ()
    reproduction: str | None = None
    #: Hypothesis's ``@reproduce_failure(...)`` for the minimal failure (same Hypothesis only).
    hypothesis_blob: str | None = None
    error: str | None = None
    not_exercised: tuple[str, ...] = ()
    #: Ctrl-C stopped the exploration: only the examples that finished are counted.
    interrupted: bool = False
    #: ``(i, n)`` on the result of one part of a split search, before it is merged.
    part: tuple[int, int] | None = None
    #: How many independent searches (xdist workers) this result merges; 1 when not split.
    parts: int = Field(default=1, ge=1)
    #: Runs of each drawn fault schedule (``trials`` in the scenario, ``--chaos-trials``).
    trials: int = 1
    #: pass^k at k = ``trials``: the chance that all k trials of a schedule pass, estimated
    #: over the schedules explored (``None``: the scenario was not run in trials).
    pass_k: float | None = None
    #: pass^1 … pass^k, for k = 1 … ``trials``.
    pass_curve: tuple[float, ...] = ()
    #: The scenario's threshold: it holds when ``pass_k`` reaches it.
    min_pass_k: float | None = None
    #: Each schedule explored and how many of its trials passed (shrinking's not counted).
    schedules: tuple[ScheduleTrials, ...] = ()
    #: The agent's trials were identical on its first faulted schedules: later schedules ran
    #: once, that run standing for all ``trials``.
    deterministic: bool = False
    #: Every trial of the counterexample's schedule, in order (the counterexample is the first
    #: that failed).
    counterexample_trials: tuple[Example, ...] = ()


class InvalidInput(FrozenModel):
    """An input the run could not use (a scenario file that does not load): the run fails."""

    source: str
    message: str


class Timing(FrozenModel):
    """Wall-clock facts: useful in a report, excluded from the canonical JSON."""

    started: str
    duration_seconds: float


class Shard(FrozenModel):
    """Which part of a run split across machines this is: shard ``index`` of ``total``.

    ``selected`` items of the ``collected`` ones ran here; ``agent`` is the agent the whole
    run was given (``--agent``/``--chaos-agent``), so ``chaoskit merge`` can tell the shards of
    one run from another run's.
    """

    index: int = Field(ge=1)
    total: int = Field(ge=1)
    selected: int = Field(default=0, ge=0)
    collected: int = Field(default=0, ge=0)
    agent: str | None = None

    @property
    def label(self) -> str:
        return f"{self.index}/{self.total}"


class RunResult(FrozenModel):
    """A whole run: every scenario, plus what is needed to reproduce it."""

    schema_version: int = SCHEMA_VERSION
    chaoskit_version: str
    python_version: str
    agent: str
    seed: int | None
    examples_per_scenario: int
    model_mode: Literal["scripted", "live", "none"] = "none"
    scenarios: tuple[ScenarioResult, ...] = ()
    #: Inputs that could not be run, e.g. scenario files that do not validate.
    invalid: tuple[InvalidInput, ...] = ()
    #: Ctrl-C stopped the run: the results hold only what finished.
    interrupted: bool = False
    #: Hypothesis's example database was used (saved failures ran first).
    database: bool = False
    #: One shard of a run split across machines (``--shard i/n``); ``None``: the whole run.
    shard: Shard | None = None
    #: Trials per schedule the run was given (``--chaos-trials``, ``--trials``); a scenario's
    #: own ``trials`` wins for that scenario.
    trials: int = 1
    timing: Timing | None = Field(default=None)

    @property
    def gate(self) -> Gate:
        """``pass`` only when the run finished, every input was valid and every scenario held."""
        if self.interrupted or any(s.interrupted for s in self.scenarios):
            return "interrupted"
        if self.invalid or any(s.status != "held" for s in self.scenarios):
            return "fail"
        return "pass"

    @property
    def passed(self) -> bool:
        return self.gate == "pass"

    def canonical_json(self) -> str:
        """The JSON without wall-clock facts: identical for identical seeds."""
        return self.model_dump_json(exclude={"timing"}, indent=1)


def model_mode(scenarios: Sequence[ScenarioResult]) -> Literal["scripted", "live", "none"]:
    """``live`` when any scenario reached a real model (``model = "passthrough"``), else
    ``scripted`` when any played the fake model, else ``none``."""
    if any(s.model == "passthrough" for s in scenarios):
        return "live"
    return "scripted" if any(s.model for s in scenarios) else "none"
