"""Counting examples as they run, and summing them up into a scenario's result."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from chaoskit.engine.external import agent_option
from chaoskit.engine.settings import EngineSettings
from chaoskit.results import (
    Coverage,
    Example,
    FiredFault,
    InvariantSummary,
    ScenarioResult,
    ScenarioStatus,
    SummaryStatus,
    Verdict,
)
from chaoskit.world.faults import Target

if TYPE_CHECKING:  # the run recorder needs the tally, not the scenario layer's validation
    from chaoskit.scenarios import Scenario

__all__ = [
    "Tally",
    "count",
    "cut_short",
    "errored",
    "failure_keys",
    "other_failures",
    "size",
    "summarise",
]


@dataclass
class Tally:
    examples: int = 0
    faults_fired: int = 0
    examples_with_faults: int = 0
    verdicts: dict[str, list[Verdict]] = field(default_factory=dict)
    coverage: dict[str, dict[str, int]] = field(default_factory=dict)
    sometimes: dict[str, int] = field(default_factory=dict)
    fired_rules: dict[str, int] = field(default_factory=dict)
    samples: list[Example] = field(default_factory=list)
    last_failure: Example | None = None
    #: The smallest failing example seen for each failure (see :func:`failure_keys`).
    smallest: dict[str, Example] = field(default_factory=dict)


def count(tally: Tally, scenario: Scenario, example: Example, config: EngineSettings) -> None:
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
        if prop.delivery is not None:
            hit = any(d.reason == prop.delivery for d in example.deliveries)
        else:
            hit = any(_hits(prop.fault, prop.target, f) for f in example.faults)
        if hit:
            tally.sometimes[prop.name] = tally.sometimes.get(prop.name, 0) + 1
    if not example.failed and len(tally.samples) < config.passing_samples:
        tally.samples.append(example)
    for key in failure_keys(example):
        kept = tally.smallest.get(key)
        if kept is None or size(example) < size(kept):
            tally.smallest[key] = example


def failure_keys(example: Example) -> list[str]:
    """What an example shows failing: each violated invariant, each kind of finding."""
    return [f"invariant {v.invariant}" for v in example.verdicts if v.status == "violated"] + [
        f"finding {f.kind}" for f in example.findings
    ]


def size(example: Example) -> tuple[int, int, int]:
    decided = sum(d.rule is not None for d in example.decisions)
    return decided, len(example.faults), len(example.trace)


def other_failures(smallest: dict[str, Example], shown: Example | None) -> tuple[Example, ...]:
    """The smallest example of each failure (by key) that ``shown`` does not show already."""
    covered = set(failure_keys(shown)) if shown is not None else set()
    others: list[Example] = []
    for key in sorted(smallest):
        example = smallest[key]
        if key in covered or any(example is o for o in others):
            continue
        others.append(example)
        covered.update(failure_keys(example))
    return tuple(others)


def _hits(kind: str | None, target: str | None, fault: FiredFault) -> bool:
    if kind is not None and fault.kind != kind:
        return False
    if target is None:
        return True
    parsed = Target.parse(target)
    method, _, template = fault.route.partition(" ")
    return parsed.matches(fault.backend, method, template)


def summarise(
    scenario: Scenario,
    agent_name: str,
    tally: Tally,
    config: EngineSettings,
    error: str | None,
    *,
    interrupted: bool = False,
) -> ScenarioResult:
    """The scenario's result from its tally; ``interrupted``: Ctrl-C cut the exploration short.

    Status, first that applies: ``error``, ``violated`` (a failure found, even if Ctrl-C then
    stopped its shrinking), ``interrupted`` (never held: the examples never ran out), then
    ``not_exercised`` and ``held``. A cut-short scenario lists nothing as not exercised: the
    missing faults might still have fired.
    """
    failure = tally.last_failure
    # The minimal failure's own verdicts tell the story best: put them first.
    shown = {v.invariant: v for v in failure.verdicts} if failure is not None else {}
    summaries = tuple(
        _summary(name, verdicts, shown.get(name)) for name, verdicts in tally.verdicts.items()
    )
    missing = () if interrupted else _not_exercised(scenario, tally)
    status: ScenarioStatus
    if error is not None:
        status = "error"
    elif failure is not None:
        status = "violated"
    elif interrupted:
        status = "interrupted"
    elif missing:
        status = "not_exercised"
    else:
        status = "held"
    return ScenarioResult(
        scenario=scenario.name,
        description=scenario.description,
        source=scenario.source,
        agent=agent_name,
        model=scenario.model.provider if scenario.model else _passthrough(scenario),
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
        failures=other_failures(tally.smallest, failure),
        samples=tuple(tally.samples),
        reproduction=_reproduction(scenario, agent_name, config) if failure else None,
        error=error,
        not_exercised=missing,
        interrupted=interrupted,
        part=config.part if config.split else None,
    )


def cut_short(result: ScenarioResult) -> ScenarioResult:
    """``result`` marked as cut short by Ctrl-C, with the status :func:`summarise` would give."""
    status: ScenarioStatus = (
        "interrupted" if result.status in ("held", "not_exercised") else result.status
    )
    return result.model_copy(update={"interrupted": True, "status": status, "not_exercised": ()})


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


def _not_exercised(scenario: Scenario, tally: Tally) -> tuple[str, ...]:
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
    from chaoskit.scenarios.load import builtin_name

    seed = f" --seed {config.seed}" if config.seed is not None else ""
    if config.split:
        seed += f" --part {config.part[0]}/{config.part[1]}"
    if scenario.trials is None and config.trials > 1:  # the scenario's own trials go with it
        seed += f" --trials {config.trials}"
    # A built-in is run by its name: its file's path is inside the installed package.
    where = (scenario.source and builtin_name(scenario.source)) or scenario.source or scenario.name
    return f"chaoskit run {agent_option(agent_name)}{seed} {where}"


def errored(scenario: Scenario, agent_name: str, message: str) -> ScenarioResult:
    return ScenarioResult(
        scenario=scenario.name,
        description=scenario.description,
        source=scenario.source,
        agent=agent_name,
        status="error",
        error=message,
    )


def _passthrough(scenario: Scenario) -> str | None:
    return "passthrough" if scenario.passthrough is not None else None
