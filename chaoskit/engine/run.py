"""The engine: explore a scenario's faults against an agent with Hypothesis, shrink what breaks.

Each Hypothesis example draws a world seed and then, lazily, call by call, whether an explore
fault fires. Shrinking therefore switches faults off and keeps the fewest that still break the
agent. A failing example is recorded with its decisions, so it can be replayed exactly with no
search at all (:func:`replay`)."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import closing

from chaoskit.core.agent import Agent
from chaoskit.core.errors import RunInterrupted, UsageError
from chaoskit.engine.example import backends_for, run_example
from chaoskit.engine.hypothesis import (
    Draws,
    Failed,
    Flaky,
    draw_choice,
    draw_world_seed,
    hypothesis_test,
    reproduce_blob,
    seeded,
)
from chaoskit.engine.recorder import RunRecorder
from chaoskit.engine.runner import Conductor
from chaoskit.engine.settings import EngineSettings, Progress, ProgressCallback
from chaoskit.engine.tally import Tally, count, errored, summarise
from chaoskit.fakes.model import ModelCall
from chaoskit.results import (
    Decision,
    Example,
    RunResult,
    ScenarioResult,
)
from chaoskit.scenarios import Scenario
from chaoskit.world.faults import FaultRule
from chaoskit.world.injector import Call
from chaoskit.world.world import World

__all__ = ["explore", "replay", "run_scenarios"]


class _GaveUp(BaseException):
    """An example ran into the wall limit: stop exploring (a BaseException: Hypothesis lets it
    through at once instead of shrinking, which would run the hung agent again and again)."""


def explore(
    scenario: Scenario,
    agent: Agent,
    *,
    agent_name: str,
    config: EngineSettings = EngineSettings(),
    progress: ProgressCallback | None = None,
) -> ScenarioResult:
    """Explore ``scenario`` against ``agent``: held over N examples, or a minimal failure."""
    try:
        invariants = scenario.build_invariants()
        world = World(backends_for(scenario), faults=scenario.faults)
    except Exception as problem:  # a usage mistake: report it, run the other scenarios
        return errored(scenario, agent_name, f"{type(problem).__name__}: {problem}")
    tally = Tally()
    conductor = Conductor()  # the agent runs in a thread of its own; draws happen here

    def one_example(data: Draws) -> None:
        world_seed = draw_world_seed(data)
        decisions: list[Decision] = []

        def decide(call: Call, candidates: Sequence[FaultRule]) -> FaultRule | None:
            if not conductor.may_ask():
                return None  # a thread of the agent's own: its draws would not reproduce
            pick: FaultRule | None = conductor.ask(lambda: draw_choice(data, candidates))
            decisions.append(Decision(call=call.index, rule=None if pick is None else pick.label))
            return pick

        def misbehave(call: ModelCall) -> str | None:
            if scenario.model is None or not conductor.may_ask():
                return None
            explorable = scenario.model.explore
            pick: str | None = conductor.ask(lambda: draw_choice(data, explorable))
            decisions.append(Decision(call=call.number, rule=pick, kind="model"))
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
            conductor=conductor,
        )
        count(tally, scenario, example, config)
        if progress is not None:
            progress(Progress(scenario.name, tally.examples, tally.faults_fired, example.failed))
        if example.failed:
            tally.last_failure = example
            if conductor.hit_wall_limit:
                raise _GaveUp  # each re-run would cost the wall limit again: keep this one
            raise Failed(scenario.name)

    test = hypothesis_test(one_example, scenario, agent_name, config)
    error: str | None = None
    blob: str | None = None
    try:
        with seeded(config.seed, f"{scenario.name}|{agent_name}"), closing(conductor):
            test()
    except Failed as found:
        blob = reproduce_blob(found)
    except _GaveUp:
        pass  # the hung example is the counterexample, not shrunk
    except KeyboardInterrupt:  # Ctrl-C: what finished is kept, marked as cut short
        partial = summarise(scenario, agent_name, tally, config, None, interrupted=True)
        raise RunInterrupted(partial) from None
    except UsageError as problem:  # e.g. a task template naming a field this world lacks
        error = str(problem)
    except Flaky as flaky:
        error = (
            "chaoskit: the agent failed an example once but not when it was run again with the "
            f"same seed and faults ({type(flaky).__name__}). Its behaviour depends on something "
            "chaoskit does not control (real randomness, global state kept between runs)."
        )
    return summarise(scenario, agent_name, tally, config, error).model_copy(
        update={"hypothesis_blob": blob}
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
    recorder = RunRecorder(seed=config.seed, examples=config.examples, database=config.use_database)
    for scenario in scenarios:
        recorder.add(
            explore(scenario, agent, agent_name=agent_name, config=config, progress=progress)
        )
    return recorder.result()


def replay(
    scenario: Scenario, agent: Agent, example: Example, *, wall_guard: float = 30.0
) -> Example:
    """Re-run a recorded example exactly: same world seed, same fault on the same call."""
    world = World(backends_for(scenario), faults=scenario.faults)
    rules = {rule.label: rule for rule in scenario.faults}
    chosen = {d.call: d.rule for d in example.decisions if d.kind == "fault"}
    misbehaved = {d.call: d.rule for d in example.decisions if d.kind == "model"}
    decisions: list[Decision] = []

    def decide(call: Call, candidates: Sequence[FaultRule]) -> FaultRule | None:
        label = chosen.get(call.index)
        decisions.append(Decision(call=call.index, rule=label))
        return rules[label] if label is not None else None

    def misbehave(call: ModelCall) -> str | None:
        name = misbehaved.get(call.number)
        decisions.append(Decision(call=call.number, rule=name, kind="model"))
        return name

    return run_example(
        scenario,
        agent,
        world,
        scenario.build_invariants(),
        world_seed=example.world_seed,
        decide=decide,
        decisions=decisions,
        wall_limit=wall_guard,
        misbehave=misbehave,
    )
