"""The engine: explore a scenario's faults against an agent with Hypothesis, shrink what breaks.

Each Hypothesis example draws a world seed and then, lazily, call by call, whether an explore
fault fires. Shrinking therefore switches faults off and keeps the fewest that still break the
agent. A failing example is recorded with its decisions, so it can be replayed exactly with no
search at all (:func:`replay`)."""

from __future__ import annotations

import dataclasses
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TypeVar

from chaoskit.core.agent import Agent
from chaoskit.core.errors import RunInterrupted, UsageError
from chaoskit.engine.example import Running, abandoned_example, backends_for, run_example
from chaoskit.engine.external import OutOfProcessAgent
from chaoskit.engine.hypothesis import (
    Draws,
    Failed,
    Flaky,
    collecting,
    draw_choice,
    draw_choice_elsewhere,
    draw_switch,
    draw_world_seed,
    hypothesis_test,
    reproduce_blob,
    seeded,
)
from chaoskit.engine.interleave import SwitchPoint, in_turn
from chaoskit.engine.recorder import RunRecorder
from chaoskit.engine.runner import Abandoned, GaveUp, Watch, supervise
from chaoskit.engine.settings import EngineSettings, Progress, ProgressCallback
from chaoskit.engine.tally import Tally, count, errored, summarise
from chaoskit.engine.trials import TrialExplorer, in_trials, with_trials
from chaoskit.fakes.model import ModelCall
from chaoskit.invariants import Invariant
from chaoskit.results import (
    Decision,
    Example,
    RunResult,
    ScenarioResult,
)
from chaoskit.scenarios import Scenario
from chaoskit.world.faults import FaultRule
from chaoskit.world.injector import Call
from chaoskit.world.trace import RequestEvent
from chaoskit.world.world import World

__all__ = ["explore", "fewest_switches", "replay", "run_scenarios"]

_T = TypeVar("_T")


def explore(
    scenario: Scenario,
    agent: Agent,
    *,
    agent_name: str,
    config: EngineSettings = EngineSettings(),
    progress: ProgressCallback | None = None,
    statistics: Callable[[str], None] | None = None,
) -> ScenarioResult:
    """Explore ``scenario`` against ``agent``: held over N examples, or a minimal failure.

    ``statistics``, if given, receives Hypothesis's statistics of the search, described as
    ``--hypothesis-show-statistics`` prints them.

    The exploration runs in a thread of its own, watched from this one (see
    :func:`~chaoskit.engine.runner.supervise`): an agent that cannot be stopped is given up on
    and its example reported, and Ctrl-C here raises :class:`RunInterrupted` with what finished.
    """
    try:
        invariants = scenario.build_invariants()
        world = World(backends_for(scenario, config.model_cassette), faults=scenario.faults)
    except Exception as problem:  # a usage mistake: report it, run the other scenarios
        return errored(scenario, agent_name, f"{type(problem).__name__}: {problem}")
    if in_trials(scenario, config):
        return _explore_in_trials(
            scenario, agent, world, invariants, agent_name, config, progress, statistics
        )
    tally = Tally()
    watch = Watch()

    def one_example(data: Draws) -> None:
        if watch.cancelled.is_set():
            raise GaveUp  # given up on: never enter a world again
        draws = _Drawing(data, watch, outside=isinstance(agent, OutOfProcessAgent))
        world_seed = draw_world_seed(data)
        decisions: list[Decision] = []

        def decide(call: Call, candidates: Sequence[FaultRule]) -> FaultRule | None:
            with draws.lock:
                if not draws.allowed():
                    return None  # a thread of the agent's own: its draws would not reproduce
                pick = draws.choice(candidates)
                decisions.append(
                    Decision(call=call.index, rule=None if pick is None else pick.label)
                )
                return pick

        def misbehave(call: ModelCall) -> str | None:
            with draws.lock:
                if scenario.model is None or not draws.allowed():
                    return None
                pick = draws.choice(scenario.model.explore)
                decisions.append(Decision(call=call.number, rule=pick, kind="model"))
                return pick

        def deliver(what: str, number: int) -> bool:
            with draws.lock:
                pick = draws.choice([what])
                decisions.append(Decision(call=number, rule=pick, kind="delivery"))
                return pick is not None

        def switch(point: SwitchPoint) -> int | None:
            with draws.lock:
                pick = watch.engine(lambda: draw_switch(data, point.others))
                shown = None if pick is None else f"delivery {pick}"
                decisions.append(Decision(call=point.call, rule=shown, kind="switch"))
                return pick

        example = run_example(
            scenario,
            agent,
            world,
            invariants,
            world_seed=world_seed,
            decide=decide,
            decisions=decisions,
            wall_limit=config.wall_guard,
            misbehave=misbehave,
            watch=watch,
            deliver=deliver,
            switch=switch,
        )
        count(tally, scenario, example, config)
        if progress is not None:
            progress(Progress(scenario.name, tally.examples, tally.faults_fired, example.failed))
        if example.failed:
            tally.last_failure = example
            if watch.hit_wall_limit:
                raise GaveUp  # each re-run would cost the wall limit again: keep this one
            raise Failed(scenario.name)

    test = hypothesis_test(one_example, scenario, agent_name, _searched(config))

    def search() -> tuple[str | None, str | None]:
        """``(error, blob)``, in the exploring thread."""
        try:
            label = f"scenario {scenario.name!r} against {agent_name}"
            with (
                seeded(config.seed, _salt(scenario, agent_name, config)),
                collecting(label, statistics),
            ):
                test()
        except Failed as found:
            return None, reproduce_blob(found)
        except GaveUp:
            pass  # the hung example is the counterexample, not shrunk
        except UsageError as problem:  # e.g. a task template naming a field this world lacks
            return str(problem), None
        except Flaky as flaky:
            return _flaky(flaky), None
        return None, None

    try:
        outcome = supervise(search, watch)
    except KeyboardInterrupt:  # Ctrl-C: what finished is kept, marked as cut short
        _give_up(watch)
        partial = summarise(scenario, agent_name, tally, config, None, interrupted=True)
        raise RunInterrupted(partial) from None
    if isinstance(outcome, Abandoned):
        tally.last_failure = abandoned_example(watch.current, outcome.thread)
        tally.examples += 1
        outcome = (None, None)
    error, blob = outcome
    if tally.last_failure is not None and error is None:
        tally.last_failure = fewest_switches(scenario, agent, tally.last_failure, config.wall_guard)
    return summarise(scenario, agent_name, tally, config, error).model_copy(
        update={"hypothesis_blob": blob}
    )


def _searched(config: EngineSettings) -> EngineSettings:
    """What Hypothesis is told: a part of a split search runs its share of the examples."""
    return replace(config, examples=config.share) if config.split else config


def _salt(scenario: Scenario, agent_name: str, config: EngineSettings) -> str:
    """Each part of a split search explores from a seed of its own; one search, as before."""
    salt = f"{scenario.name}|{agent_name}"
    return f"{salt}|part {config.part[0]}/{config.part[1]}" if config.split else salt


def _explore_in_trials(
    scenario: Scenario,
    agent: Agent,
    world: World,
    invariants: Sequence[Invariant],
    agent_name: str,
    config: EngineSettings,
    progress: ProgressCallback | None,
    statistics: Callable[[str], None] | None,
) -> ScenarioResult:
    """:func:`explore` for a scenario in trials (see :mod:`chaoskit.engine.trials`): measure
    the schedules, then shrink a failing one; both passes seeded alike."""
    tally = Tally()
    watch = Watch()
    explorer = TrialExplorer(scenario, agent, world, invariants, config, tally, watch, progress)
    # Both passes draw the same schedules in the same order: the shrinking pass finds the
    # failing schedule where the measuring pass did, remembered, at no cost.
    seed = config.seed if config.seed is not None else random.randrange(2**31)
    database = config.database if config.database is not None else config.use_database
    seeded_config = dataclasses.replace(config, seed=seed, database=database)

    def one_schedule(data: Draws) -> None:
        explorer.example(data)

    test = hypothesis_test(one_schedule, scenario, agent_name, _searched(seeded_config))
    label = f"scenario {scenario.name!r} against {agent_name}"

    def search() -> tuple[str | None, str | None]:
        try:
            salt = _salt(scenario, agent_name, config)
            with seeded(seed, salt), collecting(label, statistics):
                test()  # the measuring pass never fails
            if not explorer.found_failure:
                return None, None
            explorer.measuring = False
            with seeded(seed, salt):  # seeded afresh: the same schedules again
                test()
        except Failed as found:
            return None, reproduce_blob(found)
        except GaveUp:
            pass  # the hung example is the counterexample, not shrunk
        except UsageError as problem:
            return str(problem), None
        except Flaky as flaky:  # not the agent's nondeterminism: the trials absorb that
            return _flaky(flaky), None
        return None, None

    try:
        outcome = supervise(search, watch)
    except KeyboardInterrupt:
        _give_up(watch)
        partial = summarise(scenario, agent_name, tally, config, None, interrupted=True)
        raise RunInterrupted(with_trials(partial, scenario, explorer)) from None
    if isinstance(outcome, Abandoned):
        tally.last_failure = abandoned_example(watch.current, outcome.thread)
        explorer.failing_trials = (tally.last_failure,)
        tally.examples += 1
        outcome = (None, None)
    error, blob = outcome
    result = summarise(scenario, agent_name, tally, config, error)
    return with_trials(result, scenario, explorer).model_copy(update={"hypothesis_blob": blob})


class _Drawing:
    """Where an example's fault and misbehaviour decisions are drawn: in Hypothesis's own
    thread; for an agent in another process also in the server threads that serve its calls
    (one at a time, while Hypothesis's thread waits on the agent), never in an in-process
    agent's own threads, whose draws would not reproduce."""

    def __init__(self, data: Draws, watch: Watch, *, outside: bool) -> None:
        self.data = data
        self.watch = watch
        self.outside = outside
        self.owner = threading.get_ident()
        self.lock = threading.Lock()

    def allowed(self) -> bool:
        # A concurrent delivery's thread draws only while it holds the baton: one at a time,
        # in the order the switches fix, so its draws replay.
        return self.outside or threading.get_ident() == self.owner or in_turn()

    def choice(self, options: Sequence[_T]) -> _T | None:
        if threading.get_ident() == self.owner:
            return self.watch.engine(lambda: draw_choice(self.data, options))
        try:
            return draw_choice_elsewhere(self.data, options)
        except BaseException as error:  # Hypothesis ending the example: not the server's
            # business; raised again in Hypothesis's thread once the agent is done.
            self.watch.engine_error = self.watch.engine_error or error
            return None


def _give_up(watch: Watch) -> None:
    """After Ctrl-C: leave the world the exploring thread may still be in."""
    running = watch.current
    if isinstance(running, Running):
        running.world.leave()


def _flaky(flaky: BaseException) -> str:
    return (
        "chaoskit: the agent failed an example once but not when it was run again with the "
        f"same seed and faults ({type(flaky).__name__}). Its behaviour depends on something "
        "chaoskit does not control (real randomness, a real model, global state kept between "
        "runs). If that is expected, measure it: run each schedule in trials (trials = 4 in "
        "the scenario, --chaos-trials=4, or chaoskit run --trials 4) for a pass rate and "
        "pass^k instead of this error."
    )


def run_scenarios(
    scenarios: Sequence[Scenario],
    agent: Agent,
    *,
    agent_name: str,
    config: EngineSettings = EngineSettings(),
    progress: ProgressCallback | None = None,
) -> RunResult:
    """Explore every scenario; one that errors never stops the others.

    Write the report of the result with :class:`~chaoskit.engine.recorder.RunRecorder` or
    :func:`~chaoskit.report.html.write_report`.
    """
    recorder = RunRecorder(
        seed=config.seed,
        examples=config.examples,
        database=config.use_database,
        trials=config.trials,
    )
    for scenario in scenarios:
        recorder.add(
            explore(scenario, agent, agent_name=agent_name, config=config, progress=progress)
        )
    return recorder.result()


def fewest_switches(
    scenario: Scenario, agent: Agent, example: Example, wall_guard: float = 30.0
) -> Example:
    """The failing ``example`` with one switch between its concurrent deliveries, if one
    switch breaks the agent the same way; else the example itself.

    Hypothesis shrinks a switch away but seldom moves one later, so a race it first met with
    two switches can stay at two. Each single switch (at each call, to each other delivery of
    the pair) is replayed with the example's other decisions, earliest first.
    """
    switches = [d for d in example.decisions if d.kind == "switch" and d.rule is not None]
    if len(switches) < 2:
        return example
    kept = tuple(d for d in example.decisions if d.kind != "switch")
    others = sorted({d.number for d in example.deliveries if d.reason == "concurrent"})
    calls = max((e.call for e in example.trace if isinstance(e, RequestEvent)), default=0)
    broken = _broken(example)
    for call in range(1, calls + 1):
        for number in others:
            one = Decision(call=call, rule=f"delivery {number}", kind="switch")
            trial = example.model_copy(update={"decisions": (*kept, one)})
            again = replay(scenario, agent, trial, wall_guard=wall_guard)
            if _broken(again) == broken:
                return again
    return example


def _broken(example: Example) -> set[str]:
    """What an example fails: its violated invariants and the kinds of its findings."""
    return {v.invariant for v in example.verdicts if v.status == "violated"} | {
        f"finding {f.kind}" for f in example.findings
    }


def replay(
    scenario: Scenario, agent: Agent, example: Example, *, wall_guard: float = 30.0
) -> Example:
    """Re-run a recorded example exactly: same world seed, same fault on the same call."""
    world = World(backends_for(scenario), faults=scenario.faults)
    rules = {rule.label: rule for rule in scenario.faults}
    chosen = {d.call: d.rule for d in example.decisions if d.kind == "fault"}
    misbehaved = {d.call: d.rule for d in example.decisions if d.kind == "model"}
    delivered = {(d.call, d.rule) for d in example.decisions if d.kind == "delivery"}
    switched = {
        d.call: int(d.rule.removeprefix("delivery "))
        for d in example.decisions
        if d.kind == "switch" and d.rule is not None
    }
    decisions: list[Decision] = []

    def decide(call: Call, candidates: Sequence[FaultRule]) -> FaultRule | None:
        label = chosen.get(call.index)
        decisions.append(Decision(call=call.index, rule=label))
        return rules[label] if label is not None else None

    def misbehave(call: ModelCall) -> str | None:
        name = misbehaved.get(call.number)
        decisions.append(Decision(call=call.number, rule=name, kind="model"))
        return name

    def deliver(what: str, number: int) -> bool:
        happens = (number, what) in delivered
        decisions.append(Decision(call=number, rule=what if happens else None, kind="delivery"))
        return happens

    def switch(point: SwitchPoint) -> int | None:
        pick = switched.get(point.call)
        if pick not in point.others:
            pick = None  # a schedule tried on another interleaving: no such switch there
        shown = None if pick is None else f"delivery {pick}"
        decisions.append(Decision(call=point.call, rule=shown, kind="switch"))
        return pick

    invariants = scenario.build_invariants()
    watch = Watch()

    def again() -> Example:
        return run_example(
            scenario,
            agent,
            world,
            invariants,
            world_seed=example.world_seed,
            decide=decide,
            decisions=decisions,
            wall_limit=wall_guard,
            misbehave=misbehave,
            watch=watch,
            deliver=deliver,
            switch=switch,
        )

    try:
        outcome = supervise(again, watch)
    except KeyboardInterrupt:
        _give_up(watch)
        raise
    if isinstance(outcome, Abandoned):
        return abandoned_example(watch.current, outcome.thread)
    return outcome
