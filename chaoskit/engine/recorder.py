"""One run, however it is driven: the API, the CLI and the pytest plugin all record through here.

>>> recorder = RunRecorder(seed=0, examples=100)
>>> recorder.invalid("scenarios/bad.toml", "scenarios/bad.toml: not valid TOML: …")
>>> recorder.add(explore(scenario, agent, agent_name="shop:agent"))  # doctest: +SKIP
>>> recorder.write("reports/chaoskit.html")  # doctest: +SKIP

After Ctrl-C, ``recorder.interrupt(stop)`` keeps the cut scenario's finished examples (the
engine's :class:`~chaoskit.core.errors.RunInterrupted` carries them) and marks the run
interrupted, so its report can never say PASS.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from chaoskit._version import __version__
from chaoskit.core.errors import RunInterrupted
from chaoskit.engine.tally import cut_short
from chaoskit.report.html import write_report
from chaoskit.results import InvalidInput, RunResult, ScenarioResult, Shard, Timing, model_mode

__all__ = ["RunRecorder"]


class RunRecorder:
    """Collects scenario results as they finish and turns them into one :class:`RunResult`.

    ``ordered`` sorts the results by scenario and agent (the plugin's results arrive in
    whatever order xdist workers finish); otherwise they keep the order they were added in.
    ``database`` records whether the engine used Hypothesis's example database
    (:attr:`EngineSettings.use_database <chaoskit.engine.settings.EngineSettings.use_database>`).
    ``shard``: this run is one shard of a run split across machines; it is always reported,
    even with nothing in it, so that ``chaoskit merge`` knows the shard ran. ``trials``: runs
    of each fault schedule the run was given (a scenario's own ``trials`` wins for it).
    """

    def __init__(
        self,
        *,
        seed: int | None,
        examples: int,
        ordered: bool = False,
        database: bool = False,
        shard: Shard | None = None,
        trials: int = 1,
    ) -> None:
        self.seed = seed
        self.examples = examples
        self.ordered = ordered
        self.database = database
        self.shard = shard
        self.trials = trials
        self.results: list[ScenarioResult] = []
        self.invalid_inputs: list[InvalidInput] = []
        self.interrupted = False
        self.started = time.time()
        self._partials: list[ScenarioResult] = []
        self._parts: dict[tuple[str, str], list[ScenarioResult]] = {}

    def add(self, result: ScenarioResult) -> None:
        """Record ``result``; the part of a split scenario is merged with its other parts
        (see :mod:`chaoskit.engine.parts`)."""
        if result.part is None:
            self.results.append(result)
            return
        from chaoskit.engine.parts import merge_parts

        key = (result.scenario, result.agent)
        parts = self._parts.setdefault(key, [])
        parts.append(result)
        merged = merge_parts(parts)
        kept = [r for r in self.results if r.parts == 1 or (r.scenario, r.agent) != key]
        self.results[:] = [*kept, merged]

    def invalid(self, source: str, message: str) -> None:
        """An input that could not be run (a scenario file that does not load): the run fails."""
        self.invalid_inputs.append(InvalidInput(source=source, message=message))

    def interrupt(self, stop: BaseException | None = None) -> None:
        """Ctrl-C: mark the run interrupted and keep what ``stop`` carries of the cut scenario.

        ``stop`` is the ``KeyboardInterrupt`` caught; when it is the engine's
        :class:`RunInterrupted`, its partial scenario result (examples that finished) is added.
        Safe to call twice with the same exception: the partial result is added once.
        """
        self.interrupted = True
        partial = stop.partial if isinstance(stop, RunInterrupted) else None
        if isinstance(partial, ScenarioResult) and not any(p is partial for p in self._partials):
            self._partials.append(partial)
            self.add(cut_short(partial))

    @property
    def recorded(self) -> bool:
        """Whether there is anything to report: a result, an invalid input, an interruption, or
        a shard (an empty shard is reported too: the merge must see that it ran)."""
        return bool(self.results or self.invalid_inputs or self.interrupted or self.shard)

    def result(self) -> RunResult:
        """The run so far: what finished, with the time since the recorder was made."""
        results = list(self.results)
        invalid = list(self.invalid_inputs) + self.missing_parts()
        if self.ordered:
            results.sort(key=lambda r: (r.scenario, r.agent))
            invalid.sort(key=lambda i: (i.source, i.message))
        return RunResult(
            chaoskit_version=__version__,
            python_version=sys.version.split()[0],
            agent=", ".join(sorted({r.agent for r in results})),
            seed=self.seed,
            examples_per_scenario=self.examples,
            model_mode=model_mode(results),
            scenarios=tuple(results),
            invalid=tuple(invalid),
            interrupted=self.interrupted or any(r.interrupted for r in results),
            database=self.database,
            shard=self.shard,
            trials=self.trials,
            timing=Timing(
                started=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.started)),
                duration_seconds=round(time.time() - self.started, 3),
            ),
        )

    def missing_parts(self) -> list[InvalidInput]:
        """A split scenario with a part that never reported was not explored in full: the
        run cannot pass (a crashed worker, or a part deselected with -k)."""
        from chaoskit.engine.parts import missing_parts

        return [
            InvalidInput(
                source=f"scenario {scenario} against {agent}",
                message=(
                    f"chaoskit: part {label} of scenario {scenario!r} against {agent} did not "
                    "report, so the scenario was explored on only some of its examples. Run "
                    "every part (do not deselect one with -k), or run without the split: "
                    "--chaos-split=1."
                ),
            )
            for (scenario, agent), parts in sorted(self._parts.items())
            for label in missing_parts(parts)
        ]

    def write(self, html: str | Path, json_path: str | Path | None = None) -> str | None:
        """Write the results JSON and the HTML report (JSON beside the HTML by default).

        A broken renderer must not lose the results: the JSON is always written, and the
        returned message (``None`` when all went well) says how to render it later.
        """
        html = Path(html)
        json_file = Path(json_path) if json_path is not None else html.with_suffix(".json")
        run = self.result()
        try:
            write_report(run, html, json_file)
        except Exception as error:
            json_file.parent.mkdir(parents=True, exist_ok=True)
            json_file.write_text(run.model_dump_json(indent=1), encoding="utf-8")
            return (
                f"chaoskit: could not render the HTML report ({type(error).__name__}: {error}); "
                f"the results are in {json_file}, render them later with "
                f"`chaoskit report {json_file}`."
            )
        return None
