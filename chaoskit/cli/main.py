"""The ``chaoskit`` command: demo, run, replay, report, merge, scenarios, matrix, serve, fakes."""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chaoskit.cli import ci, merge
from chaoskit.cli.fakes import add_fakes
from chaoskit.cli.model import add_model_options, model_cassette
from chaoskit.cli.serve import add_serve
from chaoskit.core.errors import UsageError

if TYPE_CHECKING:
    from chaoskit.results import Decision, Example
    from chaoskit.scenarios import Scenario

__all__ = ["main"]

DEFAULT_REPORT = Path("reports/chaoskit.html")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``chaoskit`` console script; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        status: int = args.handler(args)
    except UsageError as error:
        print(str(error), file=sys.stderr)
        return 4
    except KeyboardInterrupt:
        print("chaoskit: interrupted.", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader has gone (`chaoskit scenarios | head`): stop quietly
        # Python would complain again when flushing stdout at exit: point it at nothing.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return status


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chaoskit", description="Chaos and fault-injection testing for AI agents."
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    demo = commands.add_parser("demo", help="built-in scenarios against the bundled agents")
    _engine_options(demo)
    demo.set_defaults(handler=_demo, examples=60)

    run = commands.add_parser("run", help="explore scenarios against an agent")
    which = run.add_mutually_exclusive_group(required=True)
    which.add_argument("--agent", help="the agent, as module:callable")
    which.add_argument("--agent-cmd", help="the agent as a command, e.g. 'node agent.js'")
    which.add_argument("--agent-url", help="the agent as a running HTTP service (POST URL)")
    run.add_argument(
        "scenarios",
        nargs="*",
        help="files, folders or built-in scenario names (default: ./scenarios, else the built-ins)",
    )
    _engine_options(run)
    run.add_argument(
        "--part",
        type=_part,
        default=(1, 1),
        metavar="I/N",
        help="explore only part I of N independent searches of each scenario, with its share "
        "of the examples (what a scenario split across pytest-xdist workers runs; its failures "
        "name the part to reproduce them)",
    )
    ci.add_run_options(run)
    add_model_options(run)
    run.set_defaults(handler=_run)

    replay = commands.add_parser("replay", help="re-run a recorded failing example exactly")
    replay.add_argument("results", help="a results JSON (e.g. reports/chaoskit.json)")
    replay.add_argument("--scenario", help="which scenario (default: the only failing one)")
    replay.add_argument("--agent", help="override the agent (module:callable)")
    replay.set_defaults(handler=_replay)

    report = commands.add_parser("report", help="render an HTML report from saved results")
    report.add_argument("results", help="a results JSON")
    report.add_argument("-o", "--output", default=str(DEFAULT_REPORT), help="HTML path")
    report.set_defaults(handler=_report)
    merge.register(commands)

    scenarios = commands.add_parser("scenarios", help="list and validate scenario files")
    scenarios.add_argument(
        "paths",
        nargs="*",
        help="files, folders or built-in scenario names (default: ./scenarios, else the built-ins)",
    )
    scenarios.set_defaults(handler=_scenarios)

    matrix = commands.add_parser(
        "matrix", help="print the detection matrix of the reference agents"
    )
    matrix.add_argument("--examples", type=int, default=60)
    matrix.add_argument("--seed", type=int, default=0)
    matrix.set_defaults(handler=_matrix)
    add_serve(commands)
    add_fakes(commands)
    return parser


def _engine_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--examples", type=int, default=100, help="examples per scenario")
    parser.add_argument("--seed", type=int, default=None, help="seed (default: random)")
    parser.add_argument(
        "--wall-seconds",
        type=_positive_seconds,
        default=30.0,
        help="real seconds an example may run before the agent is interrupted, then abandoned "
        "(default 30; a scenario's [budget] wall_seconds wins)",
    )
    parser.add_argument(
        "--trials",
        type=_positive_count,
        default=1,
        help="runs of each drawn fault schedule, for an agent that is not deterministic (a "
        "real model): a pass rate per schedule and pass^k per scenario (default 1; a "
        "scenario's own trials wins)",
    )
    parser.add_argument("--report", default=str(DEFAULT_REPORT), help="HTML report path")
    parser.add_argument("--json", default=None, help="results JSON (default: beside the report)")


def _part(text: str) -> tuple[int, int]:
    index, slash, total = text.partition("/")
    if slash and index.isdigit() and total.isdigit() and 1 <= int(index) <= int(total):
        return int(index), int(total)
    raise argparse.ArgumentTypeError(f"takes I/N with 1 <= I <= N (e.g. 2/2), got {text!r}")


def _positive_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
    return seconds


def _positive_count(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if count < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return count


# -- commands ---------------------------------------------------------------------------------


def _run(args: argparse.Namespace) -> int:
    from chaoskit.cli.project import agent_search
    from chaoskit.engine.external import resolve_agent

    name = args.agent or (f"cmd: {args.agent_cmd}" if args.agent_cmd else f"url: {args.agent_url}")
    agent = resolve_agent(name, search=agent_search())
    paths = args.scenarios or _default_scenarios()
    scenarios, invalid = _load_scenarios(paths)
    for _, message in invalid:
        print(message, file=sys.stderr)
    if not scenarios and not invalid:
        where = ", ".join(map(str, paths))
        raise UsageError(f"chaoskit: no scenario files (*.toml) under {where}.")
    jobs = [(s, agent, name) for s in scenarios]
    jobs, invalid, shard = ci.select_shard(jobs, invalid, args.shard, name)
    result = _explore_all(jobs, args, invalid, shard=shard)
    ci.publish(result, args)
    return 0 if result.passed else 1


def _default_scenarios() -> list[str | Path]:
    """``./scenarios`` when there is one, else the built-in library; says which."""
    from chaoskit.scenarios import builtin_scenarios

    if Path("scenarios").is_dir():
        print("chaoskit: scenarios from ./scenarios")
        return ["scenarios"]
    builtin = builtin_scenarios()
    print(
        f"chaoskit: no ./scenarios folder here; using the {len(builtin)} built-in scenarios "
        "(pick one by name, e.g. refund-timeout-after-commit)"
    )
    return list(builtin)


def _load_scenarios(paths: Sequence[str | Path]) -> tuple[list[Any], list[tuple[str, str]]]:
    """Every ``*.toml`` under ``paths`` (and built-ins by name), loaded; and (input, message)
    for each one that is not."""
    from chaoskit.core.errors import InvalidScenario
    from chaoskit.core.paths import shown_path
    from chaoskit.scenarios import resolve_scenario
    from chaoskit.scenarios.load import scenario_refs

    loaded: list[Any] = []
    invalid: list[tuple[str, str]] = []
    for ref in scenario_refs(paths):
        try:
            loaded.append(resolve_scenario(ref))
        except InvalidScenario as error:
            name = isinstance(ref, str) and Path(ref).suffix != ".toml" and not Path(ref).exists()
            invalid.append((str(ref) if name else shown_path(ref), str(error)))
    return loaded, invalid


def _demo(args: argparse.Namespace) -> int:
    from chaoskit.examples.catalogue import demo_pairs

    pairs = demo_pairs()
    if importlib.util.find_spec("stripe") is None:
        skipped = [p for p in pairs if ".refunds:" in p[2]]
        pairs = [p for p in pairs if p not in skipped]
        print(
            f"chaoskit demo: skipping {len(skipped)} runs of the stripe-SDK refund agents; "
            "install them with: pip install 'chaoskit[examples]'"
        )
    print(f"chaoskit demo: {len(pairs)} runs of a reference agent, {args.examples} examples each")
    result = _explore_all(pairs, args)
    caught = sum(s.status == "violated" for s in result.scenarios)
    print(f"chaoskit demo: the naive agents were caught {caught} times; open {args.report}")
    return 0


def _explore_all(
    jobs: Sequence[tuple[Any, Any, str]],
    args: argparse.Namespace,
    invalid: Sequence[tuple[str, str]] = (),
    *,
    shard: Any = None,
) -> Any:
    """Explore every job and write the report; after Ctrl-C, write it marked INTERRUPTED.

    A seed given with ``--seed`` (or fixed to 0 in CI) turns Hypothesis's example database
    off, so the run is reproducible; a random seed keeps it, so found failures run first.
    """
    import os
    import random

    from chaoskit.engine import EngineSettings, RunRecorder, explore
    from chaoskit.engine.model import model_traffic_lines
    from chaoskit.report.text import describe_failure, run_summary_lines, summary_lines

    fixed = args.seed is not None or bool(os.environ.get("CI"))
    seed = args.seed if args.seed is not None else (0 if fixed else random.randrange(2**31))
    cassette = model_cassette(args)
    config = EngineSettings(
        examples=args.examples,
        seed=seed,
        database=not fixed,
        wall_guard=args.wall_seconds,
        model_cassette=cassette,
        part=getattr(args, "part", (1, 1)),
        trials=args.trials,
    )
    trials = f", {args.trials} trials per schedule" if args.trials > 1 else ""
    print(f"chaoskit: seed {seed} (reproduce with --seed {seed}){trials}")
    for line in model_traffic_lines([job[0] for job in jobs], cassette):
        print(line)
    if config.split:
        index, total = config.part
        print(f"chaoskit: part {index}/{total} of each scenario's search ({config.share} examples)")
    recorder = RunRecorder(
        seed=seed,
        examples=args.examples,
        database=config.use_database,
        shard=shard,
        trials=args.trials,
    )
    for source, message in invalid:
        recorder.invalid(source, message)
    try:
        for scenario, agent, name in jobs:
            result = explore(scenario, agent, agent_name=name, config=config, progress=_progress())
            # One part asked for on its own is this run's whole result, not a part to merge.
            recorder.add(result.model_copy(update={"part": None}))
            print(summary_lines([result])[0])
    except KeyboardInterrupt as stop:  # Ctrl-C still writes a report of what finished
        recorder.interrupt(stop)
        _write_report(recorder, args)
        print("\n".join(run_summary_lines(recorder.result())))
        raise
    _write_report(recorder, args)
    for result in recorder.results:
        if result.status != "held":
            print()
            print(describe_failure(result))
    run = recorder.result()
    print()
    print("\n".join(run_summary_lines(run)))
    return run


def _write_report(recorder: Any, args: argparse.Namespace) -> None:
    if not recorder.recorded:
        return
    json_path = args.json or Path(args.report).with_suffix(".json")
    problem = recorder.write(args.report, json_path)
    print(problem or f"chaoskit: report {args.report}, results {json_path}")


def _progress() -> Any:
    last = [time.perf_counter()]

    def show(progress: Any) -> None:
        now = time.perf_counter()
        if now - last[0] >= 5.0:
            last[0] = now
            print(
                f"  … {progress.scenario}: {progress.examples} examples, "
                f"{progress.faults_fired} faults fired",
                flush=True,
            )

    return show


def _replay(args: argparse.Namespace) -> int:
    from chaoskit.cli.project import agent_search
    from chaoskit.engine import replay
    from chaoskit.engine.external import resolve_agent
    from chaoskit.report.html import load_results
    from chaoskit.scenarios import load_scenario

    run = load_results(args.results)
    failing = [s for s in run.scenarios if s.counterexample is not None]
    if args.scenario:
        failing = [s for s in failing if s.scenario == args.scenario]
    if len(failing) != 1:
        names = ", ".join(s.scenario for s in run.scenarios if s.counterexample) or "none"
        raise UsageError(
            f"chaoskit: choose one failing scenario with --scenario (failing: {names})."
        )
    target = failing[0]
    if target.source is None:
        raise UsageError(f"chaoskit: scenario {target.scenario!r} has no source file to replay.")
    agent = resolve_agent(args.agent or target.agent, search=agent_search())
    recorded = target.counterexample
    assert recorded is not None
    scenario = load_scenario(_recorded_file(target.source, args.results))
    runs = [replay(scenario, agent, recorded) for _ in range(target.trials)]
    broken = [run for run in runs if run.failed]
    again = broken[0] if broken else runs[0]
    print(
        f"chaoskit: replayed {target.scenario!r} against {args.agent or target.agent} on the "
        f"recorded schedule: {_schedule(recorded)}"
    )
    if target.trials > 1:  # a schedule fails while one of its trials fails
        print(f"chaoskit: {len(broken)} of {target.trials} trials failed on it.")
    return _judged(
        again, same=again.verdicts == recorded.verdicts and again.trace == recorded.trace
    )


def _recorded_file(source: str, results: str) -> Path:
    """The scenario file a run recorded: relative names are relative to the folder the run was
    made in, which is here or, for ``reports/chaoskit.json``, the folder holding ``reports``."""
    recorded = Path(source)
    if recorded.is_absolute() or recorded.exists():
        return recorded
    saved = Path(results).resolve().parent
    for root in (saved.parent, saved):
        if (root / recorded).exists():
            return root / recorded
    raise UsageError(
        f"chaoskit: the run recorded its scenario file as {source!r}, relative to the folder "
        f"it was made in; neither this folder nor {saved.parent} holds it. Run `chaoskit "
        "replay` from the folder the run was made in."
    )


def _schedule(example: Example) -> str:
    picked = [_decided(d) for d in example.decisions if d.rule is not None]
    return "; ".join(picked) if picked else "no faults"


def _decided(decision: Decision) -> str:
    """``duplicate as delivery 2``, ``delivery 2 ran at call #3`` (a switch between deliveries
    run at once), else ``<rule> on call <n>``."""
    if decision.kind == "delivery":
        return f"{decision.rule} as delivery {decision.call}"
    if decision.kind == "switch":
        return f"{decision.rule} ran at call #{decision.call}"
    return f"{decision.rule} on call {decision.call}"


def _judged(again: Example, *, same: bool) -> int:
    """Say what the replayed run shows: still failing (1), or what now holds (0)."""
    for verdict in again.verdicts:
        if verdict.status != "held":
            print(f"  {verdict.status}: {verdict.invariant}: {verdict.explanation}")
    for finding in again.findings:
        print(f"  finding ({finding.kind}): {finding.message}")
    if again.failed:
        failing = [v.invariant for v in again.verdicts if v.status == "violated"]
        failing += [f"finding {f.kind}" for f in again.findings]
        exact = " (reproduced exactly)" if same else ""
        print(f"chaoskit: still fails on the recorded schedule{exact}: {', '.join(failing)}.")
        return 1
    unknown = [v.invariant for v in again.verdicts if v.status == "unknown"]
    if unknown:
        print(
            f"chaoskit: nothing fails on the recorded schedule, but {len(unknown)} invariant(s) "
            f"could not be judged: {', '.join(unknown)} (listed above)."
        )
    else:
        print(
            f"chaoskit: all invariants hold on the recorded schedule "
            f"({len(again.verdicts)} checked, no findings)."
        )
    return 0


def _report(args: argparse.Namespace) -> int:
    from chaoskit.report.html import load_results, write_report

    write_report(load_results(args.results), args.output)
    print(f"chaoskit: report {args.output}")
    return 0


def _deliveries(scenario: Scenario) -> str:
    """``; delivered up to 2 times, maybe twice, maybe with a follow-up`` (or nothing)."""
    spec = scenario.delivery
    said = [f"delivered up to {spec.attempts} times"] if spec.attempts > 1 else []
    said += ["maybe twice"] if spec.duplicate else []
    said += ["maybe with a follow-up"] if spec.follow_up else []
    said += ["maybe concurrently"] if spec.concurrent else []
    return "; " + ", ".join(said) if said else ""


def _scenarios(args: argparse.Namespace) -> int:
    from chaoskit.scenarios import load_scenarios

    scenarios, errors = load_scenarios(args.paths or _default_scenarios())
    for scenario in scenarios:
        faults = ", ".join(rule.label for rule in scenario.faults) or "no faults"
        print(f"ok   {scenario.name}  ({scenario.source}): {faults}{_deliveries(scenario)}")
    for error in errors:
        print(f"bad  {error}")
    print(f"{len(scenarios)} valid, {len(errors)} invalid")
    return 1 if errors else 0


def _matrix(args: argparse.Namespace) -> int:
    from chaoskit.examples.catalogue import detection_matrix, format_matrix

    print(format_matrix(detection_matrix(examples=args.examples, seed=args.seed)))
    return 0


def _version() -> str:
    from chaoskit._version import __version__

    return __version__


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
