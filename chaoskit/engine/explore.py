"""The engine: explore a scenario's faults against an agent with Hypothesis, shrink what breaks.

Each Hypothesis example draws a world seed and then, lazily, call by call, whether an explore
fault fires. Shrinking therefore switches faults off and keeps the fewest that still break the
agent. A failing example is recorded with its decisions, so it can be replayed exactly with no
search at all (:func:`replay`).
"""

from __future__ import annotations

import os
import random
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import hypothesis.core as _hypothesis_core
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.database import ExampleDatabase
from hypothesis.errors import Flaky

from chaoskit._version import __version__
from chaoskit.core.agent import Agent, Principal, Task
from chaoskit.core.errors import UsageError
from chaoskit.engine.model import (
    API_KEYS,
    Chooser,
    install_model,
    misbehaviours_fired,
    model_findings,
)
from chaoskit.engine.runner import run_agent
from chaoskit.fakes.model import ModelCall
from chaoskit.invariants import Invariant, RunView, ledger_evidence
from chaoskit.results import (
    Coverage,
    Decision,
    Example,
    Finding,
    FiredFault,
    InvariantSummary,
    RunResult,
    ScenarioResult,
    ScenarioStatus,
    SummaryStatus,
    Timing,
    Verdict,
    model_mode,
)
from chaoskit.scenarios.model import Scenario
from chaoskit.world.data import WorldData, build_world
from chaoskit.world.faults import FaultRule, Target
from chaoskit.world.injector import Call
from chaoskit.world.trace import FaultEvent, RequestEvent, UnroutedEvent
from chaoskit.world.world import BUILTIN_BACKENDS, World

__all__ = ["EngineSettings", "Progress", "explore", "replay", "run_scenarios"]


@dataclass(frozen=True)
class EngineSettings:
    """How hard to look.

    ``database``: ``None`` means Hypothesis's local example database, except in CI (``CI`` is
    set), where it is off; ``True``/``False`` force it; an ``ExampleDatabase`` is used as is.
    With a database, a failure found once is tried first on the next run.
    """

    examples: int = 100
    seed: int | None = None
    database: bool | ExampleDatabase | None = None
    wall_guard: float = 30.0
    passing_samples: int = 2

    @property
    def in_ci(self) -> bool:
        return bool(os.environ.get("CI"))


@dataclass(frozen=True)
class Progress:
    """Reported after every example, so long runs are never silent."""

    scenario: str
    examples: int
    faults_fired: int
    failing: bool


ProgressCallback = Callable[[Progress], None]


class _Failed(Exception):
    """Raised inside the Hypothesis property so that it shrinks the example."""


@dataclass
class _Tally:
    examples: int = 0
    faults_fired: int = 0
    examples_with_faults: int = 0
    verdicts: dict[str, list[Verdict]] = field(default_factory=dict)
    coverage: dict[str, dict[str, int]] = field(default_factory=dict)
    sometimes: dict[str, int] = field(default_factory=dict)
    fired_rules: dict[str, int] = field(default_factory=dict)
    samples: list[Example] = field(default_factory=list)
    last_failure: Example | None = None


# -- one example ----------------------------------------------------------------------------------


def _backends(scenario: Scenario) -> list[Any]:
    names = scenario.backends or tuple(BUILTIN_BACKENDS)
    if scenario.model is not None and scenario.model.provider not in names:
        names = (*names, scenario.model.provider)
    fakes = [BUILTIN_BACKENDS[name]() for name in names]
    for fake in fakes:
        if fake.name == "approvals":
            fake.configure(  # type: ignore[attr-defined]
                reviewer=scenario.approvals.reviewer,
                decision_after=scenario.approvals.decision_after,
            )
    return fakes


def _task(scenario: Scenario, data: WorldData, world: World) -> Task:
    acting = data.user if scenario.principal == "user" else data.service_account
    scope = tuple(c.account_id for c in data.customers if c.in_scope and c.account_id)
    credentials = {name: acting.token for name in world.backends}
    if "payments" in world.backends:
        credentials["payments"] = world["payments"].DEFAULT_API_KEY  # type: ignore[attr-defined]
    credentials.update({k: v for k, v in API_KEYS.items() if k in world.backends})
    return Task(
        message=scenario.message(data),
        principal=Principal(user_id=acting.user_id, token=acting.token, scope=scope),
        urls=world.urls,
        credentials=credentials,
        budget=scenario.budget,
    )


def run_example(
    scenario: Scenario,
    agent: Agent,
    world: World,
    invariants: Sequence[Invariant],
    *,
    world_seed: int,
    decide: Callable[[Call, Sequence[FaultRule]], FaultRule | None] | None,
    decisions: list[Decision],
    wall_guard: float,
    misbehave: Chooser | None = None,
) -> Example:
    """Run the agent once in a fresh world and judge the run."""
    world.injector.decide = decide
    world.reset(seed=world_seed)
    data = build_world(world_seed, scenario.world, world.backends)
    model = install_model(scenario, world, data, misbehave)
    task = _task(scenario, data, world)
    with world:
        reply, findings = run_agent(agent, task, world.clock, wall_guard=wall_guard)
    trace = world.trace.events
    findings += _unrouted(world)
    faults = _fired(trace)
    usage: dict[str, float] = {}
    if model is not None:
        faults = tuple(sorted(faults + misbehaviours_fired(model, trace), key=lambda f: f.call))
        findings += model_findings(model, perturbed=bool(faults))
        usage = model.usage()
    view = RunView(
        scenario=scenario.name,
        message=task.message,
        reply=reply,
        trace=trace,
        ledgers=world.ledgers,
        faults=faults,
        findings=tuple(findings),
        budget=scenario.budget,
        world=data,
        virtual_seconds=world.clock.monotonic(),
        principal=task.principal.user_id,
        usage=usage,
    )
    verdicts = [inv.check(view) for inv in invariants] + _expectations(scenario, data, view)
    return Example(
        world_seed=world_seed,
        decisions=tuple(decisions),
        faults=faults,
        message=task.message,
        reply=reply,
        verdicts=tuple(verdicts),
        findings=tuple(findings),
        trace=trace,
        trace_dropped=world.trace.dropped,
        ledgers=world.ledgers,
        virtual_seconds=world.clock.monotonic(),
        usage=usage,
    )


def _fired(trace: Sequence[Any]) -> tuple[FiredFault, ...]:
    requests = {e.call: e for e in trace if isinstance(e, RequestEvent)}
    return tuple(
        FiredFault(
            call=e.call,
            at=requests[e.call].at,  # when the call was made, not when its timeout ran out
            backend=requests[e.call].backend,
            route=requests[e.call].route,
            kind=e.fault,
            rule=e.rule,
            detail=e.detail,
        )
        for e in trace
        if isinstance(e, FaultEvent)
    )


def _unrouted(world: World) -> list[Finding]:
    known = ", ".join(sorted(f.host for f in world.backends.values()))
    return [
        Finding(
            kind="unknown_host",
            message=(
                f"The agent called {e.method} {e.url}, which no fake backend serves; chaoskit "
                f"refused it with a connection error. Known hosts: {known}."
            ),
        )
        for e in world.trace.events
        if isinstance(e, UnroutedEvent)
    ]


def _expectations(scenario: Scenario, data: WorldData, view: RunView) -> list[Verdict]:
    from chaoskit.scenarios.model import task_context

    context = task_context(data)
    verdicts = []
    for expectation in scenario.expect:
        where = {k: v.format(**context) for k, v in expectation.where.items()}
        label = f"expect: {expectation.count} {expectation.effect}" + "".join(
            f" {k}={v}" for k, v in expectation.where.items()
        )
        matching = [
            e
            for e in view.effects(expectation.effect)
            if all(str(e.fields.get(k)) == v for k, v in where.items())
        ]
        wanted = f"{expectation.count} {expectation.effect}" + (f" with {where}" if where else "")
        ok = len(matching) == expectation.count
        verdicts.append(
            Verdict(
                invariant=label,
                status="held" if ok else "violated",
                explanation=f"expected {wanted}, the ledgers hold {len(matching)}",
                evidence=tuple(ledger_evidence(e) for e in matching),
            )
        )
    return verdicts


# -- exploring --------------------------------------------------------------------------------


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
        world = World(_backends(scenario), faults=scenario.faults)
    except Exception as problem:  # a usage mistake: report it, run the other scenarios
        return _errored(scenario, agent_name, f"{type(problem).__name__}: {problem}")
    tally = _Tally()
    owner = threading.get_ident()

    def one_example(data: st.DataObject) -> None:
        world_seed = data.draw(st.integers(0, 2**16 - 1), label="world seed")
        decisions: list[Decision] = []

        def decide(call: Call, candidates: Sequence[FaultRule]) -> FaultRule | None:
            if threading.get_ident() != owner:
                return None  # draws must come from the thread Hypothesis runs in
            pick = data.draw(st.sampled_from((None, *candidates)))
            decisions.append(Decision(call=call.index, rule=None if pick is None else pick.label))
            return pick

        def misbehave(call: ModelCall) -> str | None:
            if threading.get_ident() != owner or scenario.model is None:
                return None
            pick = data.draw(st.sampled_from((None, *scenario.model.explore)))
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
        _count(tally, scenario, example, config)
        if progress is not None:
            progress(Progress(scenario.name, tally.examples, tally.faults_fired, example.failed))
        if example.failed:
            tally.last_failure = example
            raise _Failed(scenario.name)

    test = _hypothesis_test(one_example, scenario, agent_name, config)
    error: str | None = None
    blob: str | None = None
    try:
        with _seeded(config.seed, f"{scenario.name}|{agent_name}"):
            test()
    except _Failed as found:
        blob = _blob(found)
    except UsageError as problem:  # e.g. a task template naming a field this world lacks
        error = str(problem)
    except Flaky as flaky:
        error = (
            "chaoskit: the agent failed an example once but not when it was run again with the "
            f"same seed and faults ({type(flaky).__name__}). Its behaviour depends on something "
            "chaoskit does not control (real randomness, global state kept between runs)."
        )
    return _summarise(scenario, agent_name, tally, config, error).model_copy(
        update={"hypothesis_blob": blob}
    )


def _blob(found: BaseException) -> str | None:
    """Hypothesis's ``@reproduce_failure(...)`` decorator for the failure, from its notes."""
    for note in getattr(found, "__notes__", ()):
        match = re.search(r"@reproduce_failure\(.*?\)", note)
        if match:
            return match.group(0)
    return None


def _hypothesis_test(
    body: Callable[[st.DataObject], None],
    scenario: Scenario,
    agent_name: str,
    config: EngineSettings,
) -> Callable[[], None]:
    database: ExampleDatabase | None
    if isinstance(config.database, ExampleDatabase):
        database = config.database
    else:
        use_database = config.database if config.database is not None else not config.in_ci
        database = settings().database if use_database else None
    test = settings(
        max_examples=config.examples,
        deadline=None,
        database=database,
        derandomize=config.in_ci and config.seed is None,
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
        report_multiple_bugs=False,
        print_blob=True,
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
    )(given(st.data())(body))
    # Each scenario × agent gets its own entry in the example database (the key is a digest of
    # the inner function, so the salt goes there).
    body._hypothesis_internal_add_digest = f"{scenario.name}|{agent_name}".encode()  # type: ignore[attr-defined]
    if config.seed is not None and not hasattr(_hypothesis_core, "threadlocal"):
        test = hypothesis_seed(config.seed)(test)  # fallback: reproducible, but no database
    return test


@contextmanager
def _seeded(seed: int | None, salt: str) -> Iterator[None]:
    """Make Hypothesis's own random choices follow ``seed`` while keeping its database.

    ``@hypothesis.seed`` would also do, but Hypothesis then neither saves nor replays failures
    (a seeded run is meant to be reproducible), and a found failure must run first next time.
    So the seed goes into the thread's Hypothesis generator, the one an unseeded test draws
    its own seed from. Salting with the scenario and agent keeps scenarios apart.
    """
    holder = getattr(_hypothesis_core, "threadlocal", None)
    if seed is None or holder is None:
        yield
        return
    saved = getattr(holder, "_hypothesis_global_random", None)
    holder._hypothesis_global_random = random.Random(f"{seed}|{salt}")
    try:
        yield
    finally:
        holder._hypothesis_global_random = saved


def _count(tally: _Tally, scenario: Scenario, example: Example, config: EngineSettings) -> None:
    tally.examples += 1
    tally.faults_fired += len(example.faults)
    tally.examples_with_faults += bool(example.faults)
    for verdict in example.verdicts:
        tally.verdicts.setdefault(verdict.invariant, []).append(verdict)
    for fault in example.faults:
        route = f"{fault.backend}: {fault.route}"
        kinds = tally.coverage.setdefault(route, {})
        kinds[fault.kind] = kinds.get(fault.kind, 0) + 1
        tally.fired_rules[fault.rule] = tally.fired_rules.get(fault.rule, 0) + 1
    for prop in scenario.sometimes:
        if any(_hits(prop.fault, prop.target, f) for f in example.faults):
            tally.sometimes[prop.name] = tally.sometimes.get(prop.name, 0) + 1
    if not example.failed and len(tally.samples) < config.passing_samples:
        tally.samples.append(example)


def _hits(kind: str | None, target: str | None, fault: FiredFault) -> bool:
    if kind is not None and fault.kind != kind:
        return False
    if target is None:
        return True
    parsed = Target.parse(target)
    method, _, template = fault.route.partition(" ")
    return parsed.matches(fault.backend, method, template)


def _summarise(
    scenario: Scenario,
    agent_name: str,
    tally: _Tally,
    config: EngineSettings,
    error: str | None,
) -> ScenarioResult:
    failure = tally.last_failure
    # The minimal failure's own verdicts tell the story best: put them first.
    shown = {v.invariant: v for v in failure.verdicts} if failure is not None else {}
    summaries = tuple(
        _summary(name, verdicts, shown.get(name)) for name, verdicts in tally.verdicts.items()
    )
    missing = _not_exercised(scenario, tally)
    status: ScenarioStatus
    if error is not None:
        status = "error"
    elif failure is not None:
        status = "violated"
    elif missing:
        status = "not_exercised"
    else:
        status = "held"
    return ScenarioResult(
        scenario=scenario.name,
        description=scenario.description,
        source=scenario.source,
        agent=agent_name,
        model=scenario.model.provider if scenario.model else None,
        status=status,
        examples=tally.examples,
        budget=scenario.budget,
        invariants=summaries,
        coverage=Coverage(
            faults=tally.coverage,
            sometimes={p.name: tally.sometimes.get(p.name, 0) for p in scenario.sometimes},
            examples_with_faults=tally.examples_with_faults,
        ),
        counterexample=failure,
        samples=tuple(tally.samples),
        reproduction=_reproduction(scenario, agent_name, config) if failure else None,
        error=error,
        not_exercised=missing,
    )


def _summary(name: str, verdicts: list[Verdict], lead: Verdict | None) -> InvariantSummary:
    counts = {s: sum(v.status == s for v in verdicts) for s in ("held", "violated", "unknown")}
    status: SummaryStatus = (
        "violated" if counts["violated"] else ("held" if counts["held"] else "unknown")
    )
    first = next((v for v in ([lead] if lead else []) + verdicts if v.status == status), None)
    return InvariantSummary(
        invariant=name,
        status=status,
        reason=first.explanation if first and status != "held" else None,
        **counts,
    )


def _not_exercised(scenario: Scenario, tally: _Tally) -> tuple[str, ...]:
    missing = [
        f"fault {rule.label!r} never fired"
        for rule in scenario.faults
        if not tally.fired_rules.get(rule.label)
    ]
    explored = scenario.model.explore if scenario.model else ()
    if explored and not any(rule.startswith("misbehaviour ") for rule in tally.fired_rules):
        missing.append("the model never misbehaved although [model] explore lists misbehaviours")
    missing += [
        f"sometimes-property {prop.name!r} never hit"
        for prop in scenario.sometimes
        if not tally.sometimes.get(prop.name)
    ]
    return tuple(missing)


def _reproduction(scenario: Scenario, agent_name: str, config: EngineSettings) -> str:
    seed = f" --seed {config.seed}" if config.seed is not None else ""
    where = scenario.source or scenario.name
    return f"chaoskit run --agent {agent_name}{seed} {where}"


def _errored(scenario: Scenario, agent_name: str, message: str) -> ScenarioResult:
    return ScenarioResult(
        scenario=scenario.name,
        description=scenario.description,
        source=scenario.source,
        agent=agent_name,
        status="error",
        error=message,
    )


# -- whole runs and replays ---------------------------------------------------------------------


def run_scenarios(
    scenarios: Sequence[Scenario],
    agent: Agent,
    *,
    agent_name: str,
    config: EngineSettings = EngineSettings(),
    progress: ProgressCallback | None = None,
) -> RunResult:
    """Explore every scenario; one that errors never stops the others."""
    started = time.time()
    results = tuple(
        explore(s, agent, agent_name=agent_name, config=config, progress=progress)
        for s in scenarios
    )
    return RunResult(
        chaoskit_version=__version__,
        python_version=sys.version.split()[0],
        agent=agent_name,
        seed=config.seed,
        examples_per_scenario=config.examples,
        model_mode=model_mode(results),
        scenarios=results,
        timing=Timing(
            started=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
            duration_seconds=round(time.time() - started, 3),
        ),
    )


def replay(
    scenario: Scenario, agent: Agent, example: Example, *, wall_guard: float = 30.0
) -> Example:
    """Re-run a recorded example exactly: same world seed, same fault on the same call."""
    world = World(_backends(scenario), faults=scenario.faults)
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
