"""The plugin's options, each with an ini twin, read once per session."""

from __future__ import annotations

import json
import os
import random
import sys
import time
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from chaoskit.core.agent import Agent
    from chaoskit.fakes.model import Cassette
    from chaoskit.results import ScenarioResult, Shard
    from chaoskit.scenarios import Scenario

__all__ = [
    "DEFAULT_REPORT",
    "DEFAULT_SCENARIOS",
    "INVALID_KEY",
    "OPTIONS",
    "RESULT_KEY",
    "SETTINGS",
    "Settings",
    "agent_search",
    "explore_scenario",
    "invalid_property",
    "is_worker",
    "result_property",
]


RESULT_KEY = "chaoskit_result"
#: The user property of an input that could not be run: JSON ``{"source", "message"}``.
INVALID_KEY = "chaoskit_invalid"


DEFAULT_REPORT = "reports/chaoskit.html"


DEFAULT_SCENARIOS = "scenarios"


DEFAULT_WALL_SECONDS = 30.0


#: Hypothesis's own default ``max_examples``.
DEFAULT_EXAMPLES = 100


OPTIONS: list[tuple[str, str, str, str]] = [
    # (option, ini name, ini type, help)
    ("agent", "chaos_agent", "string", "the agent under test, as module:callable"),
    (
        "agent-cmd",
        "chaos_agent_cmd",
        "string",
        "the agent under test as a command run per example, e.g. 'node agent.js' (the task in "
        "environment variables and on stdin as JSON, the reply on stdout)",
    ),
    (
        "agent-url",
        "chaos_agent_url",
        "string",
        "the agent under test as a running HTTP service POSTed each task as JSON, e.g. "
        "http://127.0.0.1:8000/task",
    ),
    ("scenarios", "chaos_scenarios", "args", "scenario files or folders (default: scenarios/)"),
    (
        "examples",
        "chaos_examples",
        "string",
        "Hypothesis examples per scenario (default: the Hypothesis profile's max_examples, 100)",
    ),
    (
        "seed",
        "chaos_seed",
        "string",
        "seed of the run, 0 or more (default: random, 0 in CI; printed in the header). A fixed "
        "seed turns Hypothesis's example database off, so the run is reproducible",
    ),
    (
        "wall-seconds",
        "chaos_wall_seconds",
        "string",
        "real seconds an example may run before the agent is interrupted, then abandoned "
        f"(default {DEFAULT_WALL_SECONDS:g}; a scenario's [budget] wall_seconds wins)",
    ),
    (
        "split",
        "chaos_split",
        "string",
        "explore each scenario file as N independent searches (items NAME[i/N]) merged into one "
        "result, so that one scenario uses every xdist worker (default: auto, the number of "
        "xdist workers; 1: no split)",
    ),
    (
        "trials",
        "chaos_trials",
        "string",
        "runs of each drawn fault schedule, for an agent that is not deterministic (a real "
        "model): a pass rate per schedule and pass^k per scenario instead of a flaky error "
        "(default 1; a scenario's own trials wins)",
    ),
    ("report", "chaos_report", "string", f"HTML report path (default {DEFAULT_REPORT})"),
    ("json", "chaos_json", "string", "results JSON path (default: next to the report)"),
    (
        "record-model",
        "chaos_record_model",
        "string",
        'save every model request and response of model = "passthrough" scenarios to this '
        "cassette (JSON), for --chaos-replay-model",
    ),
    (
        "replay-model",
        "chaos_replay_model",
        "string",
        "answer passthrough model calls from this cassette (made with --chaos-record-model), "
        "with no network; a request it lacks is a finding",
    ),
    (
        "shard",
        "chaos_shard",
        "string",
        "run only shard i of n of the items (e.g. 2/3 on the second of three machines), the "
        "others are deselected; merge the shards' results with `chaoskit merge`",
    ),
]


class Settings:
    """The session's options. ``database``: whether Hypothesis's example database is used,
    only when the seed was neither given (``--chaos-seed``) nor fixed by CI."""

    def __init__(
        self,
        agent_spec: str | None,
        scenario_paths: list[Path],
        examples: int | None,
        seed: int,
        report: Path,
        json_path: Path,
        database: bool = False,
        wall_seconds: float = DEFAULT_WALL_SECONDS,
        shard: Shard | None = None,
        search: list[tuple[Path, str]] | None = None,
        model_cassette: Cassette | None = None,
        split: int = 1,
        trials: int = 1,
    ) -> None:
        self.agent_spec = agent_spec
        self.scenario_paths = scenario_paths
        #: ``--chaos-examples`` (or its ini twin), if given; see :attr:`examples`.
        self.examples_option = examples
        self.seed = seed
        self.report = report
        self.json = json_path
        self.database = database
        self.wall_seconds = wall_seconds
        self.shard = shard
        #: ``--chaos-trials``: runs of each fault schedule (a scenario's ``trials`` wins).
        self.trials = trials
        #: Where an agent that is not installed is looked for (see :func:`agent_search`).
        self.search = search
        #: ``--chaos-record-model`` / ``--chaos-replay-model``, opened once for the session.
        self.model_cassette = model_cassette
        #: Into how many independent searches each scenario file's item is split.
        self.split = split
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
        seed, fixed = _seed(config, get("chaos_seed"))
        return cls(
            agent_spec=_agent_spec(
                get("chaos_agent"), get("chaos_agent_cmd"), get("chaos_agent_url")
            ),
            scenario_paths=[_absolute(root, p) for p in paths],
            examples=_integer(get("chaos_examples"), "--chaos-examples", default=None),
            seed=seed,
            report=_absolute(root, report),
            json_path=_absolute(root, json_path),
            database=not fixed,
            wall_seconds=_seconds(get("chaos_wall_seconds"), "--chaos-wall-seconds"),
            shard=_shard(get("chaos_shard"), get("chaos_agent") or None),
            search=agent_search(config),
            model_cassette=_cassette(
                root, get("chaos_record_model"), get("chaos_replay_model"), _workers(config)
            ),
            split=_split(get("chaos_split")),
            trials=_integer(get("chaos_trials"), "--chaos-trials", default=1),
        )

    @property
    def examples(self) -> int:
        """``--chaos-examples`` if given, else the active Hypothesis profile's ``max_examples``
        (``settings.load_profile`` in conftest.py, or ``--hypothesis-profile``)."""
        if self.examples_option is not None:
            return self.examples_option
        if "hypothesis" not in sys.modules:
            return DEFAULT_EXAMPLES  # no profile can be loaded without importing Hypothesis
        from chaoskit.engine.hypothesis import profile_examples

        return profile_examples()

    def agent(self) -> Agent:
        if self._agent is None:
            from chaoskit.engine.external import resolve_agent

            assert self.agent_spec is not None
            self._agent = resolve_agent(self.agent_spec, search=self.search)
        return self._agent


def agent_search(config: pytest.Config) -> list[tuple[Path, str]]:
    """Where pytest itself would find the agent's package: the ``pythonpath`` ini entries (put
    on ``sys.path`` before any plugin's ``pytest_configure``; listed again so the error names
    them), the rootdir, then the directory pytest was started in."""
    from chaoskit.core.loading import merged

    inifile = config.inipath.name if config.inipath else "the ini options"
    places = [(Path(p), f"pythonpath in {inifile}") for p in config.getini("pythonpath")]
    places += [
        (config.rootpath, "pytest's rootdir"),
        (config.invocation_params.dir, "the current directory"),
    ]
    return merged(places)


def _agent_spec(agent: Any, command: Any, url: Any) -> str | None:
    """One agent: ``module:callable``, or ``cmd: COMMAND``, or ``url: URL`` (how results name
    an agent in another process)."""
    given = [
        (option, value)
        for option, value in (
            ("--chaos-agent", agent),
            ("--chaos-agent-cmd", command),
            ("--chaos-agent-url", url),
        )
        if value
    ]
    if len(given) > 1:
        raise pytest.UsageError(
            f"chaoskit: {' and '.join(o for o, _ in given)} were both given; choose one agent "
            "(the options and their ini twins chaos_agent, chaos_agent_cmd, chaos_agent_url)."
        )
    if command:
        return f"cmd: {command}"
    if url:
        return f"url: {url}"
    return agent or None


def _workers(config: pytest.Config) -> bool:
    """Whether the session runs on xdist workers (``-n``), or is one of them."""
    return is_worker(config) or bool(config.getoption("numprocesses", None))


def _cassette(root: Path, record: Any, replay: Any, workers: bool = False) -> Cassette | None:
    """The session's model cassette: recorded to, or replayed from (never both)."""
    if not record and not replay:
        return None
    if record and workers:
        raise pytest.UsageError(
            "chaoskit: --chaos-record-model records one run's model traffic into one file, "
            "which xdist workers would each write over; record without -n (replaying with "
            "-n is fine)."
        )
    if record and replay:
        raise pytest.UsageError(
            "chaoskit: --chaos-record-model and --chaos-replay-model were both given; record "
            "once, then replay in another run (or set one of chaos_record_model, "
            "chaos_replay_model)."
        )
    from chaoskit.core.errors import UsageError
    from chaoskit.fakes.model import Cassette

    if record:
        return Cassette.record(_absolute(root, record))
    try:
        return Cassette.replay(_absolute(root, replay))
    except UsageError as error:
        raise pytest.UsageError(str(error)) from None


def _absolute(root: Path, path: str | Path) -> Path:
    path = Path(path)
    return path if path.is_absolute() else root / path


def _integer(value: Any, option: str, *, default: Any, minimum: int = 1) -> Any:
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except ValueError:
        raise pytest.UsageError(
            f"chaoskit: {option} must be a whole number, got {value!r}."
        ) from None
    if number < minimum:
        raise pytest.UsageError(f"chaoskit: {option} must be at least {minimum}, got {number}.")
    return number


def _seconds(value: Any, option: str) -> float:
    if value in (None, ""):
        return DEFAULT_WALL_SECONDS
    try:
        seconds = float(value)
    except ValueError:
        raise pytest.UsageError(
            f"chaoskit: {option} must be a number of seconds, got {value!r}."
        ) from None
    if not seconds > 0:
        raise pytest.UsageError(f"chaoskit: {option} must be more than 0, got {value!r}.")
    return seconds


def _shard(value: Any, agent: str | None) -> Shard | None:
    if value in (None, ""):
        return None
    from chaoskit.core.errors import UsageError
    from chaoskit.engine.shard import parse_shard

    try:
        return parse_shard(str(value), option="--chaos-shard").model_copy(update={"agent": agent})
    except UsageError as error:
        raise pytest.UsageError(str(error)) from None


def _split(value: Any) -> int:
    """``--chaos-split``: a number, or ``auto`` (the default): one part per xdist worker. Only
    workers collect under xdist, and each knows the worker count."""
    if value in (None, "", "auto"):
        return int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    return int(_integer(value, "--chaos-split (a number of parts, or auto)", default=1))


def _seed(config: pytest.Config, value: Any) -> tuple[int, bool]:
    """The seed, and whether it is fixed (given, or CI's 0): a fixed seed means no database."""
    if value not in (None, ""):
        return _integer(value, "--chaos-seed", default=0, minimum=0), True
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and "chaoskit_seed" in workerinput:
        # xdist: the controller decided; a worker explores exactly as it would.
        return int(workerinput["chaoskit_seed"]), not workerinput.get("chaoskit_database", False)
    forced = config.getoption("hypothesis_seed", None)  # None too when Hypothesis's plugin is off
    if forced not in (None, ""):
        return _seed_from(str(forced)), True
    # In CI a fixed seed keeps runs derandomised; locally a fresh one explores more.
    if os.environ.get("CI"):
        return 0, True
    return random.randrange(2**31), False


def _seed_from(text: str) -> int:
    """``--hypothesis-seed`` as a chaos seed: the number itself, or a digest of any other text
    (Hypothesis accepts both)."""
    try:
        number = int(text)
    except ValueError:
        number = -1
    return number if number >= 0 else zlib.crc32(text.encode())


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def result_property(result: ScenarioResult) -> tuple[str, str]:
    """A scenario result as a test report's user property: it travels to the xdist controller."""
    return RESULT_KEY, result.model_dump_json()


def invalid_property(source: str, message: str) -> tuple[str, str]:
    """An input that could not be run, as a user property (see :func:`result_property`)."""
    return INVALID_KEY, json.dumps({"source": source, "message": message})


SETTINGS = pytest.StashKey[Settings]()


def explore_scenario(
    config: pytest.Config,
    scenario: Scenario,
    agent: Agent,
    agent_name: str,
    examples: int | None = None,
    item: pytest.Item | None = None,
    part: tuple[int, int] = (1, 1),
) -> ScenarioResult:
    """Explore with the session's settings; with ``--hypothesis-show-statistics``, Hypothesis's
    statistics of the search go to ``item`` for Hypothesis's own summary to print."""
    from chaoskit.engine import EngineSettings, explore

    settings = config.stash[SETTINGS]
    engine = EngineSettings(
        examples=examples or settings.examples,
        seed=settings.seed,
        database=settings.database,
        wall_guard=settings.wall_seconds,
        model_cassette=settings.model_cassette,
        part=part,
        trials=settings.trials,
    )
    return explore(
        scenario,
        agent,
        agent_name=agent_name,
        config=engine,
        progress=_progress(config),
        statistics=_statistics(config, item),
    )


def _statistics(config: pytest.Config, item: pytest.Item | None) -> Any:
    if item is None or not config.getoption("hypothesis_show_statistics", False):
        return None

    def keep(described: str) -> None:
        # Hypothesis's plugin prints an item's ``hypothesis_statistics`` in its summary (and
        # ships it from xdist workers), as for any @given test.
        before = getattr(item, "hypothesis_statistics", None) or f"{item.nodeid}:"
        item.hypothesis_statistics = f"{before}\n\n{described}"  # type: ignore[attr-defined]

    return keep


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
