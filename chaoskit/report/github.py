"""GitHub Actions: an ``::error`` annotation per violation and per invalid scenario file, and
a Markdown job summary (the gate, the scenario × invariant matrix, the minimal schedules).

Both the pytest plugin and ``chaoskit run`` call :func:`publish`, which does nothing outside
GitHub Actions: annotations only when ``GITHUB_ACTIONS=true``, the summary only when
``GITHUB_STEP_SUMMARY`` names a file.

>>> escape_property("scenarios/a,b.toml: 50%")
'scenarios/a%2Cb.toml%3A 50%25'
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from chaoskit.report.lines import field_path, invariant_path, line_of, read_toml
from chaoskit.report.text import describe_failure, run_summary_lines, schedule_lines
from chaoskit.results import Example, InvalidInput, RunResult, ScenarioResult

__all__ = [
    "SUMMARY_LIMIT",
    "error_annotations",
    "error_command",
    "escape_data",
    "escape_property",
    "in_actions",
    "publish",
    "step_summary",
]

#: GitHub refuses a job summary over 1 MiB; past this many characters the stories are cut.
SUMMARY_LIMIT = 900_000

_CELL = {"held": "✅", "violated": "❌", "unknown": "❔", "not_exercised": "⚪"}
_STATUS = {
    "held": "✅ held",
    "violated": "❌ violated",
    "not_exercised": "⚪ not exercised",
    "error": "💥 error",
    "interrupted": "⏸ interrupted",
}
_MARKDOWN = re.compile(r"([\\`*_\[\]<>|~&#])")


def escape_data(text: str) -> str:
    """A workflow command's message: ``%``, CR and LF escaped, as GitHub's toolkit does."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value: also ``:`` and ``,``, which end a property."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def in_actions(environ: Mapping[str, str] | None = None) -> bool:
    """Whether this runs in GitHub Actions (``GITHUB_ACTIONS=true``)."""
    return (os.environ if environ is None else environ).get("GITHUB_ACTIONS") == "true"


def publish(
    run: RunResult, *, environ: Mapping[str, str] | None = None, annotate: bool = True
) -> list[str]:
    """Append the job summary when ``GITHUB_STEP_SUMMARY`` is set; return the annotation lines
    to print when ``GITHUB_ACTIONS`` is ``true`` and ``annotate`` (else none)."""
    env = os.environ if environ is None else environ
    summary = env.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(step_summary(run))
    if not annotate or not in_actions(env):
        return []
    return error_annotations(run, root=Path(env.get("GITHUB_WORKSPACE") or Path.cwd()))


# --- annotations ----------------------------------------------------------------------------


def error_annotations(run: RunResult, *, root: Path) -> list[str]:
    """One ``::error`` command per invalid input, violated invariant, finding and scenario that
    could not run, then one per scenario not exercised; paths relative to ``root``.

    GitHub shows only the first few annotations of a step, so the failures come first.
    """
    lines = [_invalid(item, root) for item in run.invalid]
    for result in run.scenarios:
        lines += [error_command(*error) for error in _errors(result, root)]
    for result in run.scenarios:
        if result.not_exercised:
            lines.append(error_command(*_unexercised(result, root)))
    return lines


def error_command(title: str, message: str, file: str | None = None, line: int = 1) -> str:
    """``::error file=…,line=…,title=…::message``, escaped; without a file, no position."""
    props = f"file={escape_property(file)},line={line}," if file else ""
    return f"::error {props}title={escape_property(title)}::{escape_data(message)}"


def _invalid(item: InvalidInput, root: Path) -> str:
    file = _file(item.source, root)
    line = 1
    if file is not None:
        text, _ = read_toml(_absolute(item.source))
        where = field_path(item.source, item.message)
        line = where if isinstance(where, int) else line_of(text, where)
    title = "chaoskit: invalid scenario file" if file else f"chaoskit: {item.source}"
    return error_command(title, item.message, file, line)


Error = tuple[str, str, str | None, int]


def _errors(result: ScenarioResult, root: Path) -> Iterator[Error]:
    file, text, data = _scenario_file(result, root)
    who = f"{result.scenario} [{result.agent}]"
    tail = f"\nreproduce: {result.reproduction}" if result.reproduction else ""
    for summary in result.invariants:
        if summary.status == "violated":
            line = line_of(text, invariant_path(data, summary.invariant))
            story = _violation(result, summary.invariant)
            yield f"chaoskit: {summary.invariant} violated by {who}", story + tail, file, line
    for kind, message in _findings(result):
        yield f"chaoskit: {who}: {kind.replace('_', ' ')}", message + tail, file, 1
    if result.status == "error" and result.error:
        yield f"chaoskit: {who} could not run", result.error, file, 1


def _scenario_file(result: ScenarioResult, root: Path) -> tuple[str | None, str, dict[str, Any]]:
    """The scenario's file as GitHub names it, its text and its data (empty if unreadable)."""
    if result.source is None:
        return None, "", {}
    text, data = read_toml(_absolute(result.source))
    return _file(result.source, root), text, data


def _unexercised(result: ScenarioResult, root: Path) -> Error:
    """The reasons a scenario tested nothing, at the table of the first one."""
    file, text, data = _scenario_file(result, root)
    line = line_of(text, _reason_path(result.not_exercised[0], data))
    reasons = "\n".join(f"{reason}." for reason in result.not_exercised)
    title = f"chaoskit: {result.scenario} [{result.agent}] not exercised"
    return title, f"{reasons}\nThe scenario tested nothing there.", file, line


def _violation(result: ScenarioResult, invariant: str) -> str:
    """The explanation and minimal schedule of the smallest example that violates it."""
    for example in _failing(result):
        for verdict in example.verdicts:
            if verdict.invariant == invariant and verdict.status == "violated":
                return f"{verdict.explanation}\n{_schedule(example)}"
    return f"{invariant} was violated (see the report)."


def _failing(result: ScenarioResult) -> list[Example]:
    first = [result.counterexample] if result.counterexample is not None else []
    return [*first, *result.failures]


def _schedule(example: Example) -> str:
    lines = schedule_lines(example)
    if not lines:
        return "minimal fault schedule: none, the agent fails without any fault"
    return "minimal fault schedule:\n" + "\n".join(f"  {line}" for line in lines)


def _findings(result: ScenarioResult) -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for example in _failing(result):
        for finding in example.findings:
            seen.setdefault(finding.kind, f"{finding.message}\n{_schedule(example)}")
    return list(seen.items())


def _reason_path(reason: str, data: dict[str, object]) -> tuple[str | int, ...]:
    """The table a not-exercised reason is about: a ``[[sometimes]]``, ``[[faults]]`` or the
    ``[model]``."""
    quoted = re.search(r"'([^']*)'", reason)
    name = quoted[1] if quoted else ""
    table = "sometimes" if reason.startswith("sometimes") else "faults"
    if reason.startswith("the model"):
        return ("model", "explore")
    entries = data.get(table)
    if isinstance(entries, list):
        for index, entry in enumerate(entries):
            if isinstance(entry, dict) and name in (entry.get("name"), _label(entry)):
                return (table, index)
    return (table,)


def _label(fault: dict[str, object]) -> str:
    target = re.sub(r"\s+", " ", str(fault.get("target", ""))).strip()
    return f"{fault.get('kind')} @ {target}"


def _absolute(source: str) -> Path:
    path = Path(source)
    return path if path.is_absolute() else Path.cwd() / path


def _file(source: str, root: Path) -> str | None:
    """The path GitHub links to (relative to the workspace); ``None`` when it is no file."""
    path = _absolute(source)
    if not path.is_file():
        return None
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return source


# --- job summary ----------------------------------------------------------------------------


def step_summary(run: RunResult) -> str:
    """The run as Markdown: the gate, the scenario × invariant matrix, each minimal schedule."""
    parts = [_head(run), _matrix(run), *_invalid_list(run)]
    stories = [_story(result) for result in run.scenarios if result.status != "held"]
    kept = _within_limit(stories, SUMMARY_LIMIT - sum(len(p) for p in parts))
    return "\n\n".join([*parts, *kept]) + "\n\n"


def _head(run: RunResult) -> str:
    # The terminal lists invalid inputs above the verdict; this page lists them below it.
    verdict = run_summary_lines(run)[-1].removeprefix("chaoskit: ")
    verdict = verdict.replace("(listed above)", "(listed below)")
    facts = [f"seed {run.seed}", f"{run.examples_per_scenario} examples per scenario"]
    if run.trials > 1:
        facts.append(f"{run.trials} trials per schedule")
    if run.shard is not None:
        shard = run.shard
        facts.append(f"shard {shard.label} ({shard.selected} of {shard.collected} items)")
    facts.append(f"chaoskit {run.chaoskit_version}")
    icon = {"pass": "✅", "fail": "❌", "interrupted": "⏸"}[run.gate]
    return f"## {icon} chaoskit: {_md(verdict)}\n\n{_md(' · '.join(facts))}"


def _matrix(run: RunResult) -> str:
    if not run.scenarios:
        return "No scenario ran."
    names = list(dict.fromkeys(s.invariant for r in run.scenarios for s in r.invariants))
    trials = any(r.pass_k is not None for r in run.scenarios)
    rows = [
        "| scenario | agent | status | "
        + ("pass^k | " if trials else "")
        + " | ".join(_md(n) for n in names)
        + " |",
        "|---|---|---|" + "---|" * (len(names) + trials),
    ]
    for result in run.scenarios:
        cells = {s.invariant: _CELL[s.status] for s in result.invariants}
        row = [_md(result.scenario), _md(result.agent), _STATUS[result.status]]
        if trials:
            row.append(_pass_k(result))
        rows.append("| " + " | ".join(row + [cells.get(n, "·") for n in names]) + " |")
    legend = "✅ held · ❌ violated · ❔ unknown · ⚪ not exercised · · not checked"
    return "\n".join(rows) + f"\n\n{legend}"


def _pass_k(result: ScenarioResult) -> str:
    """pass^k with its k, and the threshold when the scenario sets one."""
    if result.pass_k is None:
        return "·"
    text = f"pass^{result.trials} {result.pass_k:.2f}"
    return text if result.min_pass_k is None else f"{text} (min {result.min_pass_k:g})"


def _invalid_list(run: RunResult) -> list[str]:
    if not run.invalid:
        return []
    items = [f"- {_md(_named(i))}" for i in run.invalid]
    return ["### Invalid inputs (not run)\n\n" + "\n".join(items)]


def _named(item: InvalidInput) -> str:
    """The message, prefixed with its source unless it starts with it already."""
    if item.message.startswith(item.source):
        return item.message
    return f"{item.source}: {item.message}"


def _story(result: ScenarioResult) -> str:
    text = describe_failure(result)
    fence = "`" * max(3, _longest_backticks(text) + 1)
    title = f"### {_md(result.scenario)} against {_md(result.agent)}: {_STATUS[result.status]}"
    return f"{title}\n\n{fence}text\n{text}\n{fence}"


def _longest_backticks(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


def _within_limit(stories: list[str], room: int) -> list[str]:
    kept: list[str] = []
    for story in stories:
        if len(story) > room:
            left = len(stories) - len(kept)
            kept.append(f"*{left} more failure(s) not shown here: see the report artifact.*")
            break
        kept.append(story)
        room -= len(story)
    return kept


def _md(text: str) -> str:
    """Text shown as itself in Markdown (and on one line, so it can sit in a table cell)."""
    return _MARKDOWN.sub(r"\\\1", " ".join(text.split()))
