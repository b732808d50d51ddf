"""The plugin's options, each with an ini twin, read once per session."""

from __future__ import annotations

import os
import random
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from chaoskit.core.agent import Agent
    from chaoskit.results import ScenarioResult
    from chaoskit.scenarios import Scenario

__all__ = [
    "DEFAULT_REPORT",
    "DEFAULT_SCENARIOS",
    "OPTIONS",
    "RESULT_KEY",
    "SETTINGS",
    "Settings",
    "explore_scenario",
    "is_worker",
]


RESULT_KEY = "chaoskit_result"


DEFAULT_REPORT = "reports/chaoskit.html"


DEFAULT_SCENARIOS = "scenarios"


OPTIONS: list[tuple[str, str, str, str]] = [
    # (option, ini name, ini type, help)
    ("agent", "chaos_agent", "string", "the agent under test, as module:callable"),
    ("scenarios", "chaos_scenarios", "args", "scenario files or folders (default: scenarios/)"),
    ("examples", "chaos_examples", "string", "Hypothesis examples per scenario (default 100)"),
    ("seed", "chaos_seed", "string", "seed of the run (default: random, printed in the header)"),
    ("report", "chaos_report", "string", f"HTML report path (default {DEFAULT_REPORT})"),
    ("json", "chaos_json", "string", "results JSON path (default: next to the report)"),
]


class Settings:
    def __init__(
        self,
        agent_spec: str | None,
        scenario_paths: list[Path],
        examples: int,
        seed: int,
        report: Path,
        json_path: Path,
    ) -> None:
        self.agent_spec = agent_spec
        self.scenario_paths = scenario_paths
        self.examples = examples
        self.seed = seed
        self.report = report
        self.json = json_path
        self._agent: Agent | None = None

    @classmethod
    def from_config(cls, config: pytest.Config) -> Settings:
        def get(ini: str) -> Any:
            value = config.getoption(ini)
            return value if value is not None else config.getini(ini)

        root = config.rootpath
        paths = get("chaos_scenarios") or [DEFAULT_SCENARIOS]
        report = Path(get("chaos_report") or DEFAULT_REPORT)
        json_path = Path(get("chaos_json") or report.with_suffix(".json"))
        return cls(
            agent_spec=get("chaos_agent") or None,
            scenario_paths=[_absolute(root, p) for p in paths],
            examples=_integer(get("chaos_examples"), "--chaos-examples", default=100),
            seed=_seed(config, get("chaos_seed")),
            report=_absolute(root, report),
            json_path=_absolute(root, json_path),
        )

    def agent(self) -> Agent:
        if self._agent is None:
            from chaoskit.core.loading import load_agent

            assert self.agent_spec is not None
            self._agent = load_agent(self.agent_spec)
        return self._agent


def _absolute(root: Path, path: str | Path) -> Path:
    path = Path(path)
    return path if path.is_absolute() else root / path


def _integer(value: Any, option: str, *, default: int) -> int:
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except ValueError:
        raise pytest.UsageError(
            f"chaoskit: {option} must be a whole number, got {value!r}."
        ) from None
    if number < 1:
        raise pytest.UsageError(f"chaoskit: {option} must be at least 1, got {number}.")
    return number


def _seed(config: pytest.Config, value: Any) -> int:
    if value not in (None, ""):
        return _integer(value, "--chaos-seed", default=0)
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and "chaoskit_seed" in workerinput:
        return int(workerinput["chaoskit_seed"])
    # In CI a fixed seed keeps runs derandomised; locally a fresh one explores more.
    return 0 if os.environ.get("CI") else random.randrange(2**31)


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


SETTINGS = pytest.StashKey[Settings]()


def explore_scenario(
    config: pytest.Config,
    scenario: Scenario,
    agent: Agent,
    agent_name: str,
    examples: int | None = None,
) -> ScenarioResult:
    from chaoskit.engine import EngineSettings, explore

    settings = config.stash[SETTINGS]
    engine = EngineSettings(examples=examples or settings.examples, seed=settings.seed)
    return explore(
        scenario, agent, agent_name=agent_name, config=engine, progress=_progress(config)
    )


def _progress(config: pytest.Config) -> Any:
    """Long runs show progress (examples, faults fired) every few seconds, never silence."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or is_worker(config):
        return None
    last = [time.perf_counter()]

    def show(progress: Any) -> None:
        now = time.perf_counter()
        if now - last[0] >= 5.0:
            last[0] = now
            reporter.write_line(
                f"chaoskit: {progress.scenario}: {progress.examples} examples, "
                f"{progress.faults_fired} faults fired"
            )

    return show
