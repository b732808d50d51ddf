"""Text for people: failure messages read in five seconds, summaries, agent loading errors."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from chaoskit.results import Example, FiredFault, RunResult, ScenarioResult

__all__ = [
    "decisions",
    "describe_failure",
    "run_summary_lines",
    "schedule_lines",
    "summary_lines",
    "switch_texts",
    "trials_text",
]

_STATUS = {
    "held": "held",
    "violated": "VIOLATED",
    "not_exercised": "NOT EXERCISED",
    "error": "ERROR",
    "interrupted": "INTERRUPTED",
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
    trials = trials_text(result)
    if trials:
        lines.append(f"  {trials}")
    if result.counterexample is not None:
        lines += _trial_lines(result)
        lines += _counterexample_lines(result.counterexample)
    for other in result.failures:
        failing = [v.invariant for v in other.verdicts if v.status == "violated"]
        failing += [f"finding {f.kind}" for f in other.findings]
        lines.append(
            f"  also failing in other examples: {', '.join(failing)} (smallest seen: world "
            f"{other.world_seed}, {len(decisions(other))} fault decision(s); story in the report)"
        )
    for reason in result.not_exercised:
        lines.append(f"  not exercised: {reason}; the scenario tested nothing there.")
    if result.interrupted:
        lines.append(
            f"  interrupted (Ctrl-C) after {result.examples} examples: the scenario was not "
            "explored to the end; run it again to know whether it holds."
        )
    if result.reproduction:
        lines.append(f"  reproduce: {result.reproduction}")
    if result.hypothesis_blob:
        lines.append(f"  hypothesis: {result.hypothesis_blob}")
    return "\n".join(lines)


def trials_text(result: ScenarioResult) -> str | None:
    """pass^k of a scenario run in trials, its threshold, and whether trials were skipped.

    >>> trials_text(result)  # doctest: +SKIP
    'pass^4 = 0.33 over 30 schedules × 4 trials (pass^1 = 0.83); min_pass_k 0.9: not reached'
    """
    if result.pass_k is None:
        return None
    k = result.trials
    text = f"pass^{k} = {result.pass_k:.2f} over {len(result.schedules)} schedules × {k} trials"
    if k > 1 and result.pass_curve:
        text += f" (pass^1 = {result.pass_curve[0]:.2f})"
    if result.min_pass_k is not None:
        reached = "reached" if result.pass_k >= result.min_pass_k else "not reached"
        text += f"; min_pass_k {result.min_pass_k:g}: {reached}"
    if result.deterministic:
        text += (
            "; trials skipped after the first schedules: the agent is deterministic (its "
            f"{k} trials of each were identical), so each later schedule ran once"
        )
    return text


def _trial_lines(result: ScenarioResult) -> list[str]:
    """Which trials of the counterexample's schedule failed."""
    trials = result.counterexample_trials
    if len(trials) < 2:
        return []
    failed = [str(n) for n, trial in enumerate(trials, start=1) if trial.failed]
    return [
        f"  on the minimal schedule, trial{'s' if len(failed) > 1 else ''} "
        f"{', '.join(failed)} of {len(trials)} failed ({len(trials) - len(failed)} passed); "
        "the story below is the first that failed"
    ]


def _counterexample_lines(example: Example) -> list[str]:
    lines = [
        f"  {v.status}: {v.invariant}: {v.explanation}"
        for v in example.verdicts
        if v.status != "held"
    ]
    lines += [f"  finding ({f.kind}): {f.message}" for f in example.findings]
    groups = decisions(example)
    hit = len(example.faults)
    count = f"{len(groups)} fault{'s' if len(groups) != 1 else ''}"
    if hit != len(groups):
        count = f"{len(groups)} decision{'s' if len(groups) != 1 else ''}, {hit} calls hit"
    drawn = [d for d in example.decisions if d.kind == "delivery" and d.rule is not None]
    if drawn:
        count += f", {len(drawn)} deliver{'ies' if len(drawn) != 1 else 'y'} drawn"
    lines.append(f"  minimal fault schedule ({count}):")
    lines += [_group_line(group) for group in groups]
    lines += [f"    delivery {d.call:<3} {(d.rule or '').replace('_', '-')}" for d in drawn]
    if not groups and not drawn:
        lines.append("    (none: the agent fails without any fault)")
    lines += _delivery_lines(example)
    lines += _interleaving_lines(example)
    if example.reply is not None:
        lines.append(f"  reply: {example.reply.text[:300]!r}")
    return lines


def _delivery_lines(example: Example) -> list[str]:
    """Each delivery of the task and how it ended: ``delivery 2 after a crash at call #3``."""
    if not example.deliveries:
        return []
    lines = ["  deliveries:"]
    for d in example.deliveries:
        if d.crashed_at is not None:
            ended = f"killed at call #{d.crashed_at} (agent_crash)"
        else:
            ended = f"replied {d.reply.text[:120]!r}" if d.reply is not None else "no reply"
        lines.append(f"    {d.label}: {ended}")
    return lines


def _interleaving_lines(example: Example) -> list[str]:
    """Two deliveries at once: the switches between them that the failure needs."""
    if not any(d.kind == "delivery" and d.rule == "concurrent" for d in example.decisions):
        return []
    switches = switch_texts(example)
    count = f"{len(switches)} switch{'es' if len(switches) != 1 else ''}"
    head = f"  two deliveries at once, interleaved with {count}:"
    return [head, *(f"    {text}" for text in switches)]


def switch_texts(example: Example) -> list[str]:
    """Each switch between deliveries running at once: ``delivery 2 ran at call #3``."""
    return [
        f"{d.rule} ran at call #{d.call}"
        for d in example.decisions
        if d.kind == "switch" and d.rule is not None
    ]


def decisions(example: Example) -> list[list[FiredFault]]:
    """The example's faults as the decisions that made them: a 5xx storm, one decision that
    hit every call until it ended, is one group; every other fault is its own."""
    decided = {d.call for d in example.decisions if d.kind == "fault" and d.rule is not None}
    groups: list[list[FiredFault]] = []
    for fault in example.faults:
        last = groups[-1][0] if groups else None
        storming = last is not None and fault.kind == last.kind == "server_error"
        if storming and last is not None and fault.rule == last.rule and fault.call not in decided:
            groups[-1].append(fault)
        else:
            groups.append([fault])
    return groups


def schedule_lines(example: Example) -> list[str]:
    """The example's fault schedule, one line per decision (a storm is one line)."""
    return [_group_line(group).strip() for group in decisions(example)]


def _group_line(group: list[FiredFault]) -> str:
    first, last = group[0], group[-1]
    line = f"    call {first.call:<3} t={first.at:<7g} {first.backend} {first.route}  {first.kind}"
    if len(group) > 1:
        line += f", storming {len(group)} calls (calls {first.call}-{last.call}, to t={last.at:g})"
    return line


def summary_lines(
    results: Iterable[ScenarioResult],
    *,
    details: bool = False,
    tests: Sequence[str | None] | None = None,
) -> list[str]:
    """One row per scenario run (status, examples, faults fired); with ``details``, one more
    line per violation: what broke and the minimal fault schedule.

    ``tests`` names the test of each result, in order (a pytest node id, or ``None``): its row
    starts with it. Identical rows (the same test running the same scenario the same way) are
    printed once, with their count.

    >>> summary_lines([result, result], tests=["tests/test_shop.py::test_refund"] * 2)[0]
    ... # doctest: +SKIP
    'held           tests/test_shop.py::test_refund: refund-timeout [shop:agent] 100 … (×2)'
    """
    named = tests or []
    counts: dict[tuple[str, ...], int] = {}
    for index, result in enumerate(results):
        test = named[index] if index < len(named) else None
        block = (_row(result, test), *(_detail_lines(result) if details else ()))
        counts[block] = counts.get(block, 0) + 1
    return [line for block, count in counts.items() for line in _counted(block, count)]


def _row(result: ScenarioResult, test: str | None) -> str:
    fired = sum(sum(kinds.values()) for kinds in result.coverage.faults.values())
    what = result.scenario
    if test and test.endswith(f"::{result.scenario}"):
        what = test  # a scenario file's item: its id already ends with the scenario's name
    elif test:
        what = f"{test}: {result.scenario}"
    row = (
        f"{_STATUS[result.status]:<14} {what} [{result.agent}] "
        f"{result.examples} examples, {fired} faults fired"
    )
    if result.pass_k is not None:
        row += f", pass^{result.trials} {result.pass_k:.2f}"
        if result.min_pass_k is not None:
            row += f" (min {result.min_pass_k:g})"
        if result.deterministic:
            row += ", trials skipped: deterministic agent"
    return row


def _counted(block: tuple[str, ...], count: int) -> list[str]:
    head, *rest = block
    return [f"{head}  (×{count})" if count > 1 else head, *rest]


def _detail_lines(result: ScenarioResult) -> list[str]:
    failure = result.counterexample
    if failure is None:
        return [
            f"               {reason}" for reason in (result.error, *result.not_exercised) if reason
        ]
    broken = [v.invariant for v in failure.verdicts if v.status == "violated"]
    broken += [f"finding:{f.kind}" for f in failure.findings]
    schedule = ", ".join(
        [_decision_text(group) for group in decisions(failure)] + switch_texts(failure)
    )
    return [f"               {', '.join(broken)}; schedule: {schedule or 'no fault needed'}"]


def _decision_text(group: list[FiredFault]) -> str:
    """``kind@backend route#call``; a storm as its call range and count of calls hit."""
    first, last = group[0], group[-1]
    text = f"{first.kind}@{first.backend} {first.route}#{first.call}"
    return text if len(group) == 1 else f"{text}-{last.call} (storming {len(group)} calls)"


def run_summary_lines(run: RunResult) -> list[str]:
    """What the whole run says: each invalid input, then the gate with the counts behind it.

    >>> run_summary_lines(run)[-1]  # doctest: +SKIP
    'chaoskit: FAIL: 1 violated, 2 held; 6 invalid inputs, not run: fix them (listed above)'
    """
    invalid = Counter(f"invalid        {_invalid_text(i.source, i.message)}" for i in run.invalid)
    lines = [line for text, count in invalid.items() for line in _counted((text,), count)]
    counts = ", ".join(
        f"{sum(s.status == status for s in run.scenarios)} {word.lower()}"
        for status, word in _STATUS.items()
        if any(s.status == status for s in run.scenarios)
    )
    parts = [counts or "no scenario ran"]
    if run.invalid:
        many = len(run.invalid) != 1
        parts.append(
            f"{len(run.invalid)} invalid input{'s' if many else ''}, not run: "
            f"fix {'them' if many else 'it'} (listed above)"
        )
    gate = run.gate.upper()
    if run.gate == "interrupted":
        gate += " by Ctrl-C"
        parts.append("the report holds only what finished, never a pass")
    lines.append(f"chaoskit: {gate}: {'; '.join(parts)}")
    return lines


def _invalid_text(source: str, message: str) -> str:
    """The message, prefixed with its file unless it names the file already."""
    return message if message.startswith(source) else f"{source}: {message}"
