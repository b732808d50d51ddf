"""The engine: explore a scenario's faults against an agent with Hypothesis, shrink what breaks.

Each Hypothesis example draws a world seed and then, lazily, call by call, whether an explore
fault fires. Shrinking therefore switches faults off and keeps the fewest that still break the
agent. A failing example is recorded with its decisions, so it can be replayed exactly with no
search at all (:func:`replay`)."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from chaoskit.core.agent import Agent
from chaoskit.core.errors import UsageError
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
    owner = threading.get_ident()

    def one_example(data: Draws) -> None:
        world_seed = draw_world_seed(data)
        decisions: list[Decision] = []

        def decide(call: Call, candidates: Sequence[FaultRule]) -> FaultRule | None:
            if threading.get_ident() != owner:
                return None  # draws must come from the thread Hypothesis runs in
            pick = draw_choice(data, candidates)
            decisions.append(Decision(call=call.index, rule=None if pick is None else pick.label))
            return pick

        def misbehave(call: ModelCall) -> str | None:
            if threading.get_ident() != owner or scenario.model is None:
                return None
            pick = draw_choice(data, scenario.model.explore)
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
            wall_guard=config.wall_guard,
            misbehave=misbehave,
        )
        count(tally, scenario, example, config)
        if progress is not None:
            progress(Progress(scenario.name, tally.examples, tally.faults_fired, example.failed))
        if example.failed:
            tally.last_failure = example
            raise Failed(scenario.name)

    test = hypothesis_test(one_example, scenario, agent_name, config)
    error: str | None = None
    blob: str | None = None
    try:
        with seeded(config.seed, f"{scenario.name}|{agent_name}"):
            test()
    except Failed as found:
        blob = reproduce_blob(found)
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
    recorder = RunRecorder(seed=config.seed, examples=config.examples)
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
        wall_guard=wall_guard,
        misbehave=misbehave,
    )
