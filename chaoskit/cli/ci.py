"""``chaoskit run`` in CI: ``--shard i/n`` for a run split across machines, ``--junitxml``, and
GitHub Actions annotations and job summary (written whenever GitHub Actions is detected)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chaoskit.results import RunResult, Shard

__all__ = ["add_run_options", "publish", "select_shard"]

Job = tuple[Any, Any, str]
Invalid = tuple[str, str]


def add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--shard",
        metavar="I/N",
        help="run only shard I of N of the scenario × agent items (e.g. 2/3 on the second of "
        "three machines); merge the shards' results with `chaoskit merge`",
    )
    parser.add_argument(
        "--junitxml", metavar="PATH", help="also write JUnit XML: one test case per scenario"
    )


def select_shard(
    jobs: Sequence[Job], invalid: Sequence[Invalid], spec: str | None, agent: str
) -> tuple[list[Job], list[Invalid], Shard | None]:
    """The jobs and invalid inputs of shard ``spec`` (all of them without one), and the shard."""
    if spec is None:
        return list(jobs), list(invalid), None
    from chaoskit.engine.shard import item_id, members, parse_shard

    shard = parse_shard(spec)
    ids = [item_id(job[0].name, job[2]) for job in jobs] + [item[0] for item in invalid]
    chosen = members(ids, shard)
    kept = [job for job, keep in zip(jobs, chosen[: len(jobs)], strict=True) if keep]
    bad = [item for item, keep in zip(invalid, chosen[len(jobs) :], strict=True) if keep]
    selected, collected = len(kept) + len(bad), len(jobs) + len(invalid)
    print(f"chaoskit: shard {shard.label}: {selected} of {collected} items run here")
    update = {"selected": selected, "collected": collected, "agent": agent}
    return kept, bad, shard.model_copy(update=update)


def publish(run: RunResult, args: argparse.Namespace) -> None:
    """The JUnit XML when asked for; on GitHub Actions, annotations and the job summary."""
    from chaoskit.report.github import publish as to_github

    if getattr(args, "junitxml", None):
        from chaoskit.report.junit import write_junit

        write_junit(run, args.junitxml)
        print(f"chaoskit: JUnit XML {args.junitxml}")
    for line in to_github(run):
        print(line, flush=True)
