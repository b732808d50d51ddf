"""One scenario searched as independent parts (one per xdist worker), merged into one result.

Each part explores its share of the examples from a seed of its own (see
:attr:`EngineSettings.part <chaoskit.engine.settings.EngineSettings.part>`), finds and shrinks
its own failures, and returns a result marked with its ``part``. :func:`merge_parts` makes
the scenario's one result out of them: one verdict, the smallest failure any part found as
its counterexample, the examples, coverage and invariant counts summed; in trials, pass^k
over every part's schedules.

>>> merged = merge_parts([part_one, part_two])  # doctest: +SKIP
>>> merged.parts, merged.examples  # doctest: +SKIP
(2, 200)
"""

from __future__ import annotations

from collections.abc import Sequence

from chaoskit.core.errors import UsageError
from chaoskit.engine.passk import decided_status, pass_curve
from chaoskit.engine.tally import failure_keys, other_failures, size
from chaoskit.results import (
    Coverage,
    Example,
    InvariantSummary,
    ScenarioResult,
    ScenarioStatus,
    SummaryStatus,
)

__all__ = ["merge_parts", "missing_parts"]


def merge_parts(parts: Sequence[ScenarioResult]) -> ScenarioResult:
    """The scenario's result from the results of its parts (all of one scenario and agent).

    Status, first that applies: ``error`` (any part), ``violated`` (any part found a failure),
    ``interrupted`` (any part cut short), ``not_exercised`` (something none of the parts
    exercised), ``held``. The counterexample is the smallest failure of all parts (fewest
    decided faults, then faults fired, then trace length), with its part's reproduction.
    """
    if not parts:
        raise UsageError("chaoskit: nothing to merge: no part of the scenario finished.")
    if len({(p.scenario, p.agent) for p in parts}) > 1:
        raise UsageError("chaoskit: only parts of one scenario against one agent merge.")
    ordered = sorted(parts, key=lambda p: p.part or (1, 1))
    first = ordered[0]
    failing = [p for p in ordered if p.counterexample is not None]
    chosen = min(failing, key=lambda p: size(_shown(p)), default=None)
    counterexample = chosen.counterexample if chosen is not None else None
    missing = tuple(m for m in first.not_exercised if all(m in p.not_exercised for p in ordered))
    interrupted = any(p.interrupted for p in ordered)
    errors = [f"part {_label(p)}: {p.error}" for p in ordered if p.error is not None]
    merged = first.model_copy(
        update={
            "status": _status(ordered, errors, counterexample, interrupted, missing),
            "examples": sum(p.examples for p in ordered),
            "invariants": _invariants(ordered, counterexample),
            "coverage": _coverage(ordered),
            "counterexample": counterexample,
            "failures": _failures(ordered, counterexample),
            "samples": tuple(s for p in ordered for s in p.samples)[: max(len(first.samples), 2)],
            "reproduction": chosen.reproduction if chosen is not None else None,
            "hypothesis_blob": chosen.hypothesis_blob if chosen is not None else None,
            "error": "; ".join(errors) if errors else None,
            "not_exercised": () if interrupted else missing,
            "interrupted": interrupted,
            "part": None,
            "parts": max(len(ordered), *(p.part[1] for p in ordered if p.part)),
        }
    )
    return _with_trials(merged, ordered, chosen)


def _with_trials(
    merged: ScenarioResult, parts: Sequence[ScenarioResult], chosen: ScenarioResult | None
) -> ScenarioResult:
    """A scenario run in trials: pass^k over every part's schedules, which then decides with
    ``min_pass_k``; the counterexample's trials come from its part."""
    if merged.pass_k is None:
        return merged
    schedules = tuple(s for p in parts for s in p.schedules)
    curve = pass_curve(schedules, merged.trials)
    pass_k = curve[-1] if curve else None
    return merged.model_copy(
        update={
            "status": decided_status(merged, pass_k, merged.min_pass_k),
            "schedules": schedules,
            "pass_curve": curve,
            "pass_k": pass_k,
            "deterministic": any(p.deterministic for p in parts),
            "counterexample_trials": chosen.counterexample_trials if chosen else (),
        }
    )


def missing_parts(parts: Sequence[ScenarioResult]) -> list[str]:
    """The labels (``"2/3"``) of the parts of a split scenario that none of ``parts`` is."""
    total = max((p.part[1] for p in parts if p.part), default=1)
    present = {p.part[0] for p in parts if p.part}
    return [f"{i}/{total}" for i in range(1, total + 1) if i not in present]


def _label(part: ScenarioResult) -> str:
    return f"{part.part[0]}/{part.part[1]}" if part.part else "1/1"


def _shown(part: ScenarioResult) -> Example:
    assert part.counterexample is not None
    return part.counterexample


def _status(
    parts: Sequence[ScenarioResult],
    errors: list[str],
    counterexample: Example | None,
    interrupted: bool,
    missing: tuple[str, ...],
) -> ScenarioStatus:
    if errors:
        return "error"
    if counterexample is not None or any(p.status == "violated" for p in parts):
        return "violated"
    if interrupted:
        return "interrupted"
    return "not_exercised" if missing else "held"


def _invariants(
    parts: Sequence[ScenarioResult], counterexample: Example | None
) -> tuple[InvariantSummary, ...]:
    """Counts summed per invariant; the reason of the counterexample's part leads."""
    lead = {v.invariant: v.explanation for v in counterexample.verdicts} if counterexample else {}
    names = list(dict.fromkeys(s.invariant for p in parts for s in p.invariants))
    merged = []
    for name in names:
        each = [s for p in parts for s in p.invariants if s.invariant == name]
        counts = {k: sum(getattr(s, k) for s in each) for k in ("held", "violated", "unknown")}
        status: SummaryStatus = (
            "violated" if counts["violated"] else ("held" if counts["held"] else each[0].status)
        )
        reasons = [s.reason for s in each if s.status == status and s.reason]
        reason = lead.get(name) if status == "violated" and name in lead else None
        merged.append(
            InvariantSummary(
                invariant=name,
                status=status,
                reason=reason or (reasons[0] if reasons else None),
                **counts,
            )
        )
    return tuple(merged)


def _coverage(parts: Sequence[ScenarioResult]) -> Coverage:
    faults: dict[str, dict[str, int]] = {}
    sometimes: dict[str, int] = {}
    for part in parts:
        for route, kinds in part.coverage.faults.items():
            into = faults.setdefault(route, {})
            for kind, n in kinds.items():
                into[kind] = into.get(kind, 0) + n
        for name, n in part.coverage.sometimes.items():
            sometimes[name] = sometimes.get(name, 0) + n
    return Coverage(
        faults=faults,
        sometimes=sometimes,
        examples_with_faults=sum(p.coverage.examples_with_faults for p in parts),
    )


def _failures(
    parts: Sequence[ScenarioResult], counterexample: Example | None
) -> tuple[Example, ...]:
    """The smallest example of each failure the counterexample does not show, over all parts."""
    smallest: dict[str, Example] = {}
    candidates = [p.counterexample for p in parts if p.counterexample is not None]
    candidates += [f for p in parts for f in p.failures]
    for example in candidates:
        for key in failure_keys(example):
            kept = smallest.get(key)
            if kept is None or size(example) < size(kept):
                smallest[key] = example
    return other_failures(smallest, counterexample)
