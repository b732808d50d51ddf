"""The pytest plugin: scenario files as test items, the ``chaos`` fixture, one merged report.

Registered through the ``pytest11`` entry point; this module only wires. Options (each with an
ini twin): ``--chaos-agent``, ``--chaos-scenarios``, ``--chaos-examples``, ``--chaos-seed``,
``--chaos-report``, ``--chaos-json``.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from chaoskit.core.agent import Agent
    from chaoskit.results import ScenarioResult
    from chaoskit.scenarios.model import Scenario

_RESULT_KEY = "chaoskit_result"
_DEFAULT_REPORT = "reports/chaoskit.html"
_DEFAULT_SCENARIOS = "scenarios"
_OPTIONS: list[tuple[str, str, str, str]] = [
    # (option, ini name, ini type, help)
    ("agent", "chaos_agent", "string", "the agent under test, as module:callable"),
    ("scenarios", "chaos_scenarios", "args", "scenario files or folders (default: scenarios/)"),
    ("examples", "chaos_examples", "string", "Hypothesis examples per scenario (default 100)"),
    ("seed", "chaos_seed", "string", "seed of the run (default: random, printed in the header)"),
    ("report", "chaos_report", "string", f"HTML report path (default {_DEFAULT_REPORT})"),
    ("json", "chaos_json", "string", "results JSON path (default: next to the report)"),
]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("chaoskit", "chaoskit: fault injection for agents")
    for name, ini, kind, text in _OPTIONS:
        flag = f"--chaos-{name}"
        if kind == "args":
            group.addoption(flag, nargs="+", dest=ini, default=None, help=text)
        else:
            group.addoption(flag, dest=ini, default=None, help=text)
        parser.addini(ini, text, type=kind)  # type: ignore[arg-type]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "chaos(agent=None, scenarios=None, examples=None): choose the agent ('module:callable' "
        "or a callable), scenario paths and example count for the chaos fixture in this test.",
    )
    settings = _Settings.from_config(config)
    config.stash[_SETTINGS] = settings
    config.pluginmanager.register(_Session(config), "chaoskit-session")
    if settings.agent_spec:
        try:
            settings.agent()
        except ValueError as error:  # chaoskit's UsageError: exit status 4 with the message
            raise pytest.UsageError(str(error)) from None
    if settings.agent_spec and not _is_worker(config) and _uses_default_args(config):
        config.args.extend(str(p) for p in settings.scenario_paths)


def _uses_default_args(config: pytest.Config) -> bool:
    return config.args_source != pytest.Config.ArgsSource.ARGS


def pytest_report_header(config: pytest.Config) -> list[str]:
    settings = config.stash[_SETTINGS]
    agent = settings.agent_spec or "(none: scenario files are not collected)"
    return [
        f"chaoskit {_version()}: agent {agent}, {settings.examples} examples per scenario, "
        f"seed {settings.seed}",
        f"chaoskit: reproduce this run with: pytest --chaos-seed={settings.seed}",
    ]


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    settings = parent.config.stash[_SETTINGS]
    if file_path.suffix != ".toml" or not settings.agent_spec:
        return None
    if not any(_is_within(file_path, root) for root in settings.scenario_paths):
        return None
    return ScenarioFile.from_parent(parent, path=file_path)


def _is_within(path: Path, root: Path) -> bool:
    root = root.resolve()
    path = path.resolve()
    return path == root or root in path.parents


class ScenarioFile(pytest.File):
    """A scenario TOML file: one test item, or one item that fails with the file's error."""

    def collect(self) -> Iterator[pytest.Item]:
        from chaoskit.core.errors import InvalidScenario
        from chaoskit.scenarios.model import load_scenario

        try:
            scenario = load_scenario(self.path)
        except InvalidScenario as error:
            yield BadScenarioItem.from_parent(self, name=self.path.stem, message=str(error))
            return
        item = ScenarioItem.from_parent(self, name=scenario.name, scenario=scenario)
        for tag in scenario.tags:
            self.config.addinivalue_line("markers", f"{tag}: chaoskit scenario tag")
            item.add_marker(tag)
        yield item


class ScenarioItem(pytest.Item):
    """One scenario explored against the configured agent."""

    def __init__(self, *, scenario: Scenario, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario

    def runtest(self) -> None:
        settings = self.config.stash[_SETTINGS]
        result = _explore(self.config, self.scenario, settings.agent(), settings.agent_spec or "")
        # Results travel to the xdist controller as JSON in the report's user properties.
        self.user_properties.append((_RESULT_KEY, result.model_dump_json()))
        if result.status != "held":
            raise ChaosFailure(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, ChaosFailure):
            return excinfo.value.message
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"scenario {self.scenario.name}"


class BadScenarioItem(pytest.Item):
    """Stands for a scenario file that does not validate: it fails alone, the rest runs."""

    def __init__(self, *, message: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.message = message

    def runtest(self) -> None:
        raise ChaosFailure(None, self.message)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        return self.message

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"scenario file {self.path.name}"


class ChaosFailure(Exception):
    """A scenario that did not hold; its message is the whole story."""

    def __init__(self, result: ScenarioResult | None, message: str | None = None) -> None:
        from chaoskit.report.text import describe_failure

        self.result = result
        self.message = message or (describe_failure(result) if result else "")
        super().__init__(self.message)


def _explore(
    config: pytest.Config,
    scenario: Scenario,
    agent: Agent,
    agent_name: str,
    examples: int | None = None,
) -> ScenarioResult:
    from chaoskit.engine.explore import EngineSettings, explore

    settings = config.stash[_SETTINGS]
    engine = EngineSettings(examples=examples or settings.examples, seed=settings.seed)
    return explore(
        scenario, agent, agent_name=agent_name, config=engine, progress=_progress(config)
    )


def _progress(config: pytest.Config) -> Any:
    """Long runs show progress (examples, faults fired) every few seconds, never silence."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or _is_worker(config):
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


# -- the chaos fixture ------------------------------------------------------------------------


class Chaos:
    """What the ``chaos`` fixture yields: run scenarios against an agent, get typed results.

    >>> def test_refunds_survive_timeouts(chaos):
    ...     chaos.check("scenarios/refund_timeout_after_commit.toml", agent=my_agent)
    """

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self._config = request.config
        self._item = request.node
        marker = request.node.get_closest_marker("chaos")
        self._defaults: dict[str, Any] = dict(marker.kwargs) if marker else {}
        self.results: list[ScenarioResult] = []

    def run(
        self,
        scenario: Scenario | str | Path | None = None,
        *,
        agent: Agent | str | None = None,
        examples: int | None = None,
    ) -> ScenarioResult:
        """Explore one scenario and return its result.

        ``scenario`` is a :class:`Scenario`, a TOML file path, or the name of a built-in
        scenario such as ``"refund-timeout-after-commit"``.
        """
        from chaoskit.report.text import load_agent
        from chaoskit.scenarios.model import Scenario, resolve_scenario

        chosen = scenario or self._defaults.get("scenarios")
        if chosen is None:
            raise pytest.UsageError("chaoskit: chaos.run() needs a scenario (path or Scenario).")
        loaded = chosen if isinstance(chosen, Scenario) else resolve_scenario(chosen)
        agent = agent or self._defaults.get("agent") or self._config.stash[_SETTINGS].agent_spec
        if not agent:
            raise pytest.UsageError(
                "chaoskit: no agent: pass agent=..., use @pytest.mark.chaos(agent=...), "
                "or --chaos-agent=module:callable."
            )
        resolved = load_agent(agent) if isinstance(agent, str) else agent
        name = agent if isinstance(agent, str) else _callable_name(agent)
        result = _explore(
            self._config, loaded, resolved, name, examples or self._defaults.get("examples")
        )
        self.results.append(result)
        self._item.user_properties.append((_RESULT_KEY, result.model_dump_json()))
        return result

    def check(self, scenario: Scenario | str | Path | None = None, **kwargs: Any) -> ScenarioResult:
        """Like :meth:`run`, but fail the test with the full story unless the scenario held."""
        result = self.run(scenario, **kwargs)
        if result.status != "held":
            from chaoskit.report.text import describe_failure

            pytest.fail(describe_failure(result), pytrace=False)
        return result


def _callable_name(agent: Any) -> str:
    return f"{getattr(agent, '__module__', '?')}:{getattr(agent, '__qualname__', repr(agent))}"


@pytest.fixture
def chaos(request: pytest.FixtureRequest) -> Chaos:
    """Run chaoskit scenarios from a Python test; configure with ``@pytest.mark.chaos``."""
    return Chaos(request)


# -- results, summary, report -----------------------------------------------------------------


class _Session:
    """Collects every scenario result (its own and xdist workers') and reports once."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.results: list[ScenarioResult] = []
        self.started = time.time()
        self.report_error: str | None = None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # On the controller this sees its own items and every worker's reports.
        if report.when != "call":
            return
        from chaoskit.results import ScenarioResult

        for key, value in report.user_properties:
            if key == _RESULT_KEY:
                self.results.append(ScenarioResult.model_validate_json(str(value)))

    def pytest_sessionfinish(self) -> None:
        # Also runs after Ctrl-C, so a partial report of what finished is still written.
        if _is_worker(self.config) or not self.results:
            return
        settings = self.config.stash[_SETTINGS]
        run = _run_result(settings, self.results, self.started)
        self.report_error = _write_outputs(run, settings.report, settings.json)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.results or _is_worker(self.config):
            return
        from chaoskit.report.text import summary_lines

        write = terminalreporter.write_line
        terminalreporter.section("chaoskit")
        # The full story of each failure is in its test's failure section already.
        for line in summary_lines(self.results, details=True):
            write(line)
        settings = self.config.stash[_SETTINGS]
        write("")
        if self.report_error:
            write(self.report_error)
        else:
            write(f"chaoskit: report written to {settings.report} (results: {settings.json})")


def _write_outputs(run: Any, html: Path, json_path: Path) -> str | None:
    """Write results and report; a broken renderer must not lose the results."""
    from chaoskit.report.html import write_report

    try:
        write_report(run, html, json_path)
    except Exception as error:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(run.model_dump_json(indent=1), encoding="utf-8")
        return (
            f"chaoskit: could not render the HTML report ({type(error).__name__}: {error}); "
            f"the results are in {json_path}, render them later with "
            f"`chaoskit report {json_path}`."
        )
    return None


def _run_result(settings: _Settings, results: list[ScenarioResult], started: float) -> Any:
    import sys

    from chaoskit.results import RunResult, Timing, model_mode

    agents = sorted({r.agent for r in results})
    ordered = sorted(results, key=lambda r: (r.scenario, r.agent))
    return RunResult(
        chaoskit_version=_version(),
        python_version=sys.version.split()[0],
        agent=", ".join(agents),
        seed=settings.seed,
        examples_per_scenario=settings.examples,
        model_mode=model_mode(ordered),
        scenarios=tuple(ordered),
        timing=Timing(
            started=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
            duration_seconds=round(time.time() - started, 3),
        ),
    )


# -- settings ---------------------------------------------------------------------------------


class _Settings:
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
    def from_config(cls, config: pytest.Config) -> _Settings:
        def get(ini: str) -> Any:
            value = config.getoption(ini)
            return value if value is not None else config.getini(ini)

        root = config.rootpath
        paths = get("chaos_scenarios") or [_DEFAULT_SCENARIOS]
        report = Path(get("chaos_report") or _DEFAULT_REPORT)
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
            from chaoskit.report.text import load_agent

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


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist: every worker explores with the controller's seed."""
    node.workerinput["chaoskit_seed"] = node.config.stash[_SETTINGS].seed


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def _version() -> str:
    from chaoskit._version import __version__

    return __version__


_SETTINGS = pytest.StashKey[_Settings]()
