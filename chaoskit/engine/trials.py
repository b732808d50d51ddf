"""Trials: each drawn fault schedule run K times, and pass^k measured over the schedules.

An agent behind a real model is not deterministic: the same faults on the same world may break
it on one run and not on the next. Run once per schedule, such an agent looks flaky to
Hypothesis; run in trials, its pass rate is a measurement. With ``trials = K`` (a scenario's
field, ``--chaos-trials=K``, ``chaoskit run --trials K``):

- each fault schedule Hypothesis draws (world seed, fault and misbehaviour decisions) is run K
  times on the same world seed, so only the agent's own nondeterminism varies; the schedule is
  drawn up front (:func:`~chaoskit.engine.hypothesis.draw_schedule`), never from what the agent
  does, and each schedule is measured once and remembered, so Hypothesis always sees the same
  outcome for the same schedule and never reports it as flaky;
- **shrinking rule**: a schedule counts as failing while at least one of its K trials fails;
  Hypothesis shrinks the first failing schedule to the fewest, earliest faults under that rule;
- the schedules are first explored without stopping at a failure (``examples`` of them), and
  pass^k is estimated over those (:func:`~chaoskit.engine.passk.pass_curve`); only then is a
  failing schedule shrunk, so shrinking, which seeks failures, never biases the measure;
- a scenario's ``min_pass_k`` decides its outcome: it holds when pass^K reaches it; without
  one, any failing trial fails it, as with a single run;
- an agent whose K trials were identical (same trace, same reply) on its first
  :data:`DETERMINISTIC_AFTER` schedules where a fault fired is deterministic: later schedules
  run once, that run standing for all K.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from chaoskit.core.agent import Agent
from chaoskit.engine.example import run_example
from chaoskit.engine.external import OutOfProcessAgent
from chaoskit.engine.hypothesis import Draws, Failed, Schedule, draw_schedule
from chaoskit.engine.passk import decided_status, pass_curve
from chaoskit.engine.runner import GaveUp, Watch
from chaoskit.engine.settings import EngineSettings, Progress, ProgressCallback
from chaoskit.engine.tally import Tally, count
from chaoskit.fakes.model import ModelCall
from chaoskit.invariants import Invariant
from chaoskit.results import Decision, Example, ScenarioResult, ScheduleTrials
from chaoskit.scenarios import Scenario
from chaoskit.world.faults import FaultRule
from chaoskit.world.injector import Call
from chaoskit.world.world import World

__all__ = [
    "DETERMINISTIC_AFTER",
    "TrialExplorer",
    "in_trials",
    "trials_for",
    "with_trials",
]

#: Faulted schedules whose trials must all be identical before the agent is judged
#: deterministic and later schedules are run once.
DETERMINISTIC_AFTER = 5


def trials_for(scenario: Scenario, config: EngineSettings) -> int:
    """The scenario's own ``trials``, else the run's (``--chaos-trials``)."""
    return scenario.trials if scenario.trials is not None else config.trials


def in_trials(scenario: Scenario, config: EngineSettings) -> bool:
    """Whether the scenario is explored in trials: K > 1, or a ``min_pass_k`` to measure."""
    return trials_for(scenario, config) > 1 or scenario.min_pass_k is not None


@dataclass
class _Measured:
    """A schedule's trials, as run (one run for a deterministic agent)."""

    runs: tuple[Example, ...]

    @property
    def failed(self) -> bool:
        return any(run.failed for run in self.runs)

    def first_failure(self) -> Example:
        return next(run for run in self.runs if run.failed)


#: What is remembered of a schedule whose every trial passed.
_PASSED = _Measured(())


@dataclass
class TrialExplorer:
    """The Hypothesis example body of a scenario explored in trials (see the module's doc).

    :meth:`example` is run first with :attr:`measuring` on (every schedule counted, none
    raised), then, if a schedule failed, with it off: Hypothesis, seeded alike, finds the same
    failing schedule again (remembered, not re-run) and shrinks it.
    """

    scenario: Scenario
    agent: Agent
    world: World
    invariants: Sequence[Invariant]
    config: EngineSettings
    tally: Tally
    watch: Watch
    progress: ProgressCallback | None = None
    measuring: bool = True
    #: Each measured schedule's trials, in the order explored (the measuring pass only).
    schedules: list[ScheduleTrials] = field(default_factory=list)
    #: ``None`` until decided; see :data:`DETERMINISTIC_AFTER`.
    deterministic: bool | None = None
    #: Every trial of the last failing schedule seen (the shrunk one, once shrinking is done).
    failing_trials: tuple[Example, ...] = ()
    _memo: dict[Schedule, _Measured] = field(default_factory=dict)
    _identical: int = 0

    @property
    def trials(self) -> int:
        return trials_for(self.scenario, self.config)

    @property
    def found_failure(self) -> bool:
        return any(measured.failed for measured in self._memo.values())

    def example(self, data: Draws) -> None:
        if self.watch.cancelled.is_set():
            raise GaveUp  # given up on: never enter a world again
        explore = self.scenario.model.explore if self.scenario.model else ()
        rules = sum(rule.explore for rule in self.scenario.faults)
        schedule = draw_schedule(
            data,
            rules=rules,
            misbehaviours=len(explore),
            deliveries=len(_optional_deliveries(self.scenario)),
        )
        measured = self._memo.get(schedule)
        if measured is None:
            measured = self._measure(schedule)
            # Only a failing schedule's runs are needed again (its story): keep memory flat.
            self._memo[schedule] = measured if measured.failed else _PASSED
            if self.measuring:
                self.schedules.append(self._summary(schedule, measured))
        if not measured.failed:
            return
        self.tally.last_failure = measured.first_failure()
        self.failing_trials = measured.runs
        if not self.measuring:
            raise Failed(self.scenario.name)

    def _summary(self, schedule: Schedule, measured: _Measured) -> ScheduleTrials:
        runs = measured.runs
        passed = sum(not run.failed for run in runs)
        if len(runs) < self.trials:  # one run of a deterministic agent stands for all
            passed = self.trials if passed else 0
        faults = max(len(run.faults) for run in runs)
        return ScheduleTrials(
            world_seed=schedule.world_seed,
            faults=faults,
            trials=self.trials,
            passed=passed,
            ran=len(runs),
        )

    def _measure(self, schedule: Schedule) -> _Measured:
        runs: list[Example] = []
        wanted = 1 if self.deterministic else self.trials
        for _ in range(wanted):
            run = self._run(schedule)
            runs.append(run)
            if self.watch.hit_wall_limit:
                self.tally.last_failure = run
                self.failing_trials = tuple(runs)
                raise GaveUp  # each re-run would cost the wall limit again: keep this one
        self.tally.examples += 1 - len(runs)  # count() counted runs: examples are schedules
        self._judge_determinism(runs)
        if self.progress is not None:
            self.progress(
                Progress(
                    self.scenario.name,
                    self.tally.examples,
                    self.tally.faults_fired,
                    any(r.failed for r in runs),
                )
            )
        return _Measured(tuple(runs))

    def _run(self, schedule: Schedule) -> Example:
        decisions: list[Decision] = []
        owner = _Owner(outside=isinstance(self.agent, OutOfProcessAgent))
        run = run_example(
            self.scenario,
            self.agent,
            self.world,
            self.invariants,
            world_seed=schedule.world_seed,
            decide=_decider(schedule.faults, decisions, owner),
            decisions=decisions,
            wall_limit=self.config.wall_guard,
            misbehave=self._misbehaver(schedule.misbehaviours, decisions, owner),
            watch=self.watch,
            deliver=self._deliverer(schedule.deliveries, decisions),
        )
        count(self.tally, self.scenario, run, self.config)
        return run

    def _misbehaver(
        self, picks: tuple[int, ...], decisions: list[Decision], owner: _Owner
    ) -> Callable[[ModelCall], str | None]:
        explore = self.scenario.model.explore if self.scenario.model else ()
        remaining = iter(picks)

        def misbehave(call: ModelCall) -> str | None:
            with owner.lock:
                if not explore or not owner.allowed():
                    return None
                pick = next(remaining, 0)
                name = explore[(pick - 1) % len(explore)] if pick else None
                decisions.append(Decision(call=call.number, rule=name, kind="model"))
                return name

        return misbehave

    def _deliverer(
        self, picks: tuple[int, ...], decisions: list[Decision]
    ) -> Callable[[str, int], bool]:
        optional = _optional_deliveries(self.scenario)

        def deliver(what: str, number: int) -> bool:
            at = optional.index(what) if what in optional else len(picks)
            happens = at < len(picks) and picks[at] > 0
            decisions.append(Decision(call=number, rule=what if happens else None, kind="delivery"))
            return happens

        return deliver

    def _judge_determinism(self, runs: list[Example]) -> None:
        if self.deterministic is not None or len(runs) < 2:
            return
        first = runs[0]
        if any(r.trace != first.trace or r.reply != first.reply for r in runs[1:]):
            self.deterministic = False
            return
        if any(run.faults for run in runs):
            self._identical += 1
            if self._identical >= DETERMINISTIC_AFTER:
                self.deterministic = True


def _optional_deliveries(scenario: Scenario) -> tuple[str, ...]:
    """The deliveries Hypothesis decides on, in the order of the schedule's picks."""
    spec = scenario.delivery
    return tuple(
        name
        for name, allowed in (("duplicate", spec.duplicate), ("follow_up", spec.follow_up))
        if allowed
    )


class _Owner:
    """Which threads may take a decision: the exploring thread (where the agent runs), and for
    an agent in another process the server threads serving its calls too; never an in-process
    agent's own threads, whose order of calls would not repeat."""

    def __init__(self, *, outside: bool) -> None:
        self.outside = outside
        self.ident = threading.get_ident()
        self.lock = threading.Lock()
        self._current = threading.get_ident

    def allowed(self) -> bool:
        return self.outside or self._current() == self.ident


def _decider(
    picks: tuple[int, ...], decisions: list[Decision], owner: _Owner
) -> Callable[[Call, Sequence[FaultRule]], FaultRule | None]:
    """Decide the n-th targeted call from the schedule's n-th pick (0: no fault)."""
    remaining = iter(picks)

    def decide(call: Call, candidates: Sequence[FaultRule]) -> FaultRule | None:
        with owner.lock:
            if not owner.allowed():
                return None
            pick = next(remaining, 0)
            rule = candidates[(pick - 1) % len(candidates)] if pick else None
            decisions.append(Decision(call=call.index, rule=None if rule is None else rule.label))
            return rule

    return decide


def with_trials(
    result: ScenarioResult, scenario: Scenario, explorer: TrialExplorer
) -> ScenarioResult:
    """``result`` with what the trials measured; with ``min_pass_k``, pass^K decides."""
    k = explorer.trials
    curve = pass_curve(explorer.schedules, k)
    pass_k = curve[-1] if curve else None
    return result.model_copy(
        update={
            "status": decided_status(result, pass_k, scenario.min_pass_k),
            "trials": k,
            "pass_k": pass_k,
            "pass_curve": curve,
            "min_pass_k": scenario.min_pass_k,
            "schedules": tuple(explorer.schedules),
            "deterministic": bool(explorer.deterministic),
            "counterexample_trials": explorer.failing_trials
            if result.counterexample is not None
            else (),
        }
    )
