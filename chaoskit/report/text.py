"""Text for people: failure messages read in five seconds, summaries, agent loading errors."""

from __future__ import annotations

from collections.abc import Iterable

from chaoskit.results import Example, ScenarioResult

__all__ = ["describe_failure", "summary_lines"]

_STATUS = {
    "held": "held",
    "violated": "VIOLATED",
    "not_exercised": "NOT EXERCISED",
    "error": "ERROR",
}


def describe_failure(result: ScenarioResult) -> str:
    """What went wrong with a scenario, its minimal fault schedule and how to reproduce it."""
    head = (
        f"chaoskit: scenario {result.scenario!r} {_STATUS[result.status]} against "
        f"{result.agent} (after {result.examples} examples)"
    )
    lines = [head]
    if result.error:
        lines.append(f"  {result.error}")
    if result.counterexample is not None:
        lines += _counterexample_lines(result.counterexample)
    for reason in result.not_exercised:
        lines.append(f"  not exercised: {reason}; the scenario tested nothing there.")
    if result.reproduction:
        lines.append(f"  reproduce: {result.reproduction}")
    if result.hypothesis_blob:
        lines.append(f"  hypothesis: {result.hypothesis_blob}")
    return "\n".join(lines)


def _counterexample_lines(example: Example) -> list[str]:
    lines = [
        f"  {v.status}: {v.invariant}: {v.explanation}"
        for v in example.verdicts
        if v.status != "held"
    ]
    lines += [f"  finding ({f.kind}): {f.message}" for f in example.findings]
    count = len(example.faults)
    lines.append(f"  minimal fault schedule ({count} fault{'s' if count != 1 else ''}):")
    lines += [
        f"    call {f.call:<3} t={f.at:<7g} {f.backend} {f.route}  {f.kind}" for f in example.faults
    ] or ["    (none: the agent fails without any fault)"]
    if example.reply is not None:
        lines.append(f"  reply: {example.reply.text[:300]!r}")
    return lines


def summary_lines(results: Iterable[ScenarioResult], *, details: bool = False) -> list[str]:
    """One line per scenario (status, examples, faults fired); with ``details``, one more
    line per violation: what broke and the minimal fault schedule."""
    lines = []
    for result in results:
        fired = sum(sum(kinds.values()) for kinds in result.coverage.faults.values())
        lines.append(
            f"{_STATUS[result.status]:<14} {result.scenario} [{result.agent}] "
            f"{result.examples} examples, {fired} faults fired"
        )
        if details:
            lines += _detail_lines(result)
    return lines


def _detail_lines(result: ScenarioResult) -> list[str]:
    failure = result.counterexample
    if failure is None:
        return [
            f"               {reason}" for reason in (result.error, *result.not_exercised) if reason
        ]
    broken = [v.invariant for v in failure.verdicts if v.status == "violated"]
    broken += [f"finding:{f.kind}" for f in failure.findings]
    schedule = ", ".join(f"{f.kind}@{f.backend} {f.route}#{f.call}" for f in failure.faults)
    return [f"               {', '.join(broken)}; schedule: {schedule or 'no fault needed'}"]
