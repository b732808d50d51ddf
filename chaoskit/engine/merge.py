"""The shards of one run, merged into one run with one verdict (``chaoskit merge``).

Merging refuses results that are not parts of one run: different chaoskit versions, seeds,
example counts, trials per schedule or agents, a shard given twice, or a scenario × agent in
two parts. A shard that is missing (``2/3`` of ``1/3`` and ``3/3``) is listed as an invalid
input of the merged run, so its gate can never say PASS.

>>> merged = merge_runs([("shard1.json", one), ("shard2.json", two)])  # doctest: +SKIP
>>> merged.gate  # doctest: +SKIP
'fail'
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from chaoskit.core.errors import UsageError
from chaoskit.results import InvalidInput, RunResult, Shard, Timing, model_mode

__all__ = ["merge_runs", "missing_shards"]

Named = tuple[str, RunResult]


def merge_runs(runs: Sequence[Named]) -> RunResult:
    """One run from the results of its shards, given as ``(file name, results)`` pairs."""
    if not runs:
        raise UsageError("chaoskit: merge needs at least one results JSON.")
    _check_same_run(runs)
    results = [r for _, run in runs for r in run.scenarios]
    _check_no_overlap(runs)
    invalid = {(i.source, i.message) for _, run in runs for i in run.invalid}
    invalid |= {(i.source, i.message) for i in missing_shards([run for _, run in runs])}
    first = runs[0][1]
    return RunResult(
        chaoskit_version=first.chaoskit_version,
        python_version=first.python_version,
        agent=_agent(runs),
        seed=first.seed,
        examples_per_scenario=first.examples_per_scenario,
        trials=first.trials,
        model_mode=model_mode(results),
        scenarios=tuple(sorted(results, key=lambda r: (r.scenario, r.agent))),
        invalid=tuple(InvalidInput(source=s, message=m) for s, m in sorted(invalid)),
        interrupted=any(run.interrupted for _, run in runs),
        database=any(run.database for _, run in runs),
        timing=_timing(runs),
    )


def missing_shards(runs: Sequence[RunResult]) -> list[InvalidInput]:
    """Each shard of the run that none of ``runs`` is, as an invalid input of the merge."""
    shards = [run.shard for run in runs if run.shard is not None]
    if not shards:
        return []
    total = shards[0].total
    present = {s.index for s in shards}
    return [
        InvalidInput(
            source=f"shard {index}/{total}",
            message=(
                f"chaoskit: shard {index}/{total} is missing from the merge: the scenarios it "
                f"holds were not run or not passed in, so this run cannot pass. Pass the "
                f"results JSON of every shard, 1/{total} to {total}/{total} (with a matrix "
                "job, download every shard's artifact, including the failed ones)."
            ),
        )
        for index in range(1, total + 1)
        if index not in present
    ]


def _check_same_run(runs: Sequence[Named]) -> None:
    _same(runs, "chaoskit version", lambda r: r.chaoskit_version, "run every shard with one")
    _same(
        runs,
        "seed",
        lambda r: r.seed,
        "shards of one run need one fixed seed: pass --chaos-seed=N to pytest or --seed N to "
        "chaoskit run (CI fixes 0 when CI is set)",
    )
    _same(runs, "examples per scenario", lambda r: r.examples_per_scenario, "use one")
    _same(runs, "trials per schedule", lambda r: r.trials, "run every shard with one --trials")
    sharded = [name for name, run in runs if run.shard is not None]
    if sharded and len(sharded) != len(runs):
        whole = [name for name, run in runs if run.shard is None]
        raise UsageError(
            f"chaoskit: cannot merge a whole run ({', '.join(whole)}) with shards "
            f"({', '.join(sharded)}): merge only the shards of one run."
        )
    if not sharded:
        _same(runs, "agent", lambda r: r.agent, "merge only runs of one agent, or shards")
        return
    _same(runs, "shard count", lambda r: _shard(r).total, "merge the shards of one run")
    _same(runs, "agent", lambda r: _shard(r).agent, "merge only the shards of one run")
    _check_no_repeat(runs)


def _same(runs: Sequence[Named], what: str, key: Callable[[RunResult], Any], fix: str) -> None:
    values = {repr(key(run)) for _, run in runs}
    if len(values) > 1:
        each = "; ".join(f"{name}: {key(run)}" for name, run in runs)
        raise UsageError(
            f"chaoskit: these results are not one run: they differ in {what} ({each}); {fix}."
        )


def _shard(run: RunResult) -> Shard:
    assert run.shard is not None
    return run.shard


def _check_no_repeat(runs: Sequence[Named]) -> None:
    seen: dict[int, str] = {}
    for name, run in runs:
        index = _shard(run).index
        if index in seen:
            raise UsageError(
                f"chaoskit: shard {_shard(run).label} is given twice ({seen[index]} and {name}); "
                "pass each shard's results once."
            )
        seen[index] = name


def _check_no_overlap(runs: Sequence[Named]) -> None:
    seen: dict[tuple[str, str], str] = {}
    for name, run in runs:
        for result in run.scenarios:
            key = (result.scenario, result.agent)
            if key in seen and seen[key] != name:
                raise UsageError(
                    f"chaoskit: scenario {result.scenario!r} against {result.agent} is in both "
                    f"{seen[key]} and {name}: these are not parts of one run."
                )
            seen[key] = name


def _agent(runs: Sequence[Named]) -> str:
    agents = {r.agent for _, run in runs for r in run.scenarios}
    if agents:
        return ", ".join(sorted(agents))
    shard = runs[0][1].shard
    return (shard.agent if shard else None) or runs[0][1].agent


def _timing(runs: Sequence[Named]) -> Timing | None:
    """The earliest start and the longest shard: shards run side by side."""
    timings = [run.timing for _, run in runs if run.timing is not None]
    if not timings:
        return None
    return Timing(
        started=min(t.started for t in timings),
        duration_seconds=max(t.duration_seconds for t in timings),
    )
