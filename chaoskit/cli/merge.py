"""``chaoskit merge``: the results of a run's shards as one report with one verdict."""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["register"]


def register(commands: Any) -> None:
    """Add the ``merge`` subcommand to the ``chaoskit`` parser's subcommands."""
    merge = commands.add_parser(
        "merge", help="merge the results JSON of a run's shards into one report"
    )
    merge.add_argument("results", nargs="+", help="each shard's results JSON")
    merge.add_argument("-o", "--output", default="reports/chaoskit.html", help="HTML path")
    merge.add_argument("--json", default=None, help="also write the merged results JSON here")
    merge.set_defaults(handler=_merge)


def _merge(args: argparse.Namespace) -> int:
    from chaoskit.engine.merge import merge_runs, missing_shards
    from chaoskit.report.github import error_command, in_actions, publish
    from chaoskit.report.html import load_results, write_report
    from chaoskit.report.text import run_summary_lines, summary_lines

    runs = [(path, load_results(path)) for path in args.results]
    merged = merge_runs(runs)
    write_report(merged, args.output, args.json)
    shards = sorted({r.shard.label for _, r in runs if r.shard is not None})
    print(f"chaoskit: merged {len(runs)} results ({', '.join(shards) or 'whole runs'})")
    print("\n".join(summary_lines(merged.scenarios)))
    for missing in missing_shards([run for _, run in runs]):
        print(f"chaoskit: MISSING {missing.source}: {missing.message}", file=sys.stderr)
        if in_actions():  # the shards' own jobs annotated everything else
            print(error_command(f"chaoskit: {missing.source} missing", missing.message))
    print("\n".join(run_summary_lines(merged)))
    written = f", results {args.json}" if args.json else ""
    print(f"chaoskit: report {args.output}{written}")
    publish(merged, annotate=False)  # the job summary of the merged run
    return 0 if merged.passed else 1
