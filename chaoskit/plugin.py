"""The pytest plugin: scenario files as test items, the ``chaos`` fixture, one merged report.

Registered through the ``pytest11`` entry point; this module only wires what
:mod:`chaoskit.testing` defines. Options (each with an ini twin): ``--chaos-agent``,
``--chaos-agent-cmd``, ``--chaos-agent-url``,
``--chaos-scenarios``, ``--chaos-examples``, ``--chaos-seed``, ``--chaos-report``,
``--chaos-json``, ``--chaos-record-model``, ``--chaos-replay-model``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chaoskit.testing.collect import ScenarioFile, is_within
from chaoskit.testing.fixture import Chaos
from chaoskit.testing.session import ChaosSession
from chaoskit.testing.settings import OPTIONS, SETTINGS, Settings, is_worker


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("chaoskit", "chaoskit: fault injection for agents")
    for name, ini, kind, text in OPTIONS:
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
    settings = Settings.from_config(config)
    config.stash[SETTINGS] = settings
    config.pluginmanager.register(ChaosSession(config), "chaoskit-session")
    if settings.agent_spec:
        try:
            settings.agent()
        except ValueError as error:  # chaoskit's UsageError: exit status 4 with the message
            raise pytest.UsageError(str(error)) from None
    if settings.agent_spec and not is_worker(config) and _uses_default_args(config):
        config.args.extend(str(p) for p in settings.scenario_paths)


def _uses_default_args(config: pytest.Config) -> bool:
    return config.args_source != pytest.Config.ArgsSource.ARGS


def pytest_report_header(config: pytest.Config) -> list[str]:
    from chaoskit._version import __version__

    settings = config.stash[SETTINGS]
    agent = settings.agent_spec or "(none: scenario files are not collected)"
    trials = f", {settings.trials} trials per schedule" if settings.trials > 1 else ""
    lines = [
        f"chaoskit {__version__}: agent {agent}, {settings.examples} examples per scenario"
        f"{trials}, seed {settings.seed}",
        f"chaoskit: reproduce this run with: pytest --chaos-seed={settings.seed}",
    ]
    cassette = settings.model_cassette
    if cassette is not None:
        done = "recorded to" if cassette.mode == "record" else "answered from"
        lines.append(f"chaoskit: passthrough model calls are {done} the cassette {cassette.path}")
    return lines


def pytest_report_collectionfinish(config: pytest.Config, items: list[pytest.Item]) -> list[str]:
    """Scenario files whose model traffic leaves the machine are named before anything runs."""
    from chaoskit.testing.collect import model_traffic

    return model_traffic(config, items)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    settings = parent.config.stash[SETTINGS]
    if file_path.suffix != ".toml" or not settings.agent_spec:
        return None
    if not any(is_within(file_path, root) for root in settings.scenario_paths):
        return None
    return ScenarioFile.from_parent(parent, path=file_path)


@pytest.fixture
def chaos(request: pytest.FixtureRequest) -> Chaos:
    """Run chaoskit scenarios from a Python test; configure with ``@pytest.mark.chaos``.

    >>> def test_refunds_survive_timeouts(chaos):
    ...     chaos.check("refund-timeout-after-commit", agent=my_agent)
    """
    return Chaos(request)


@pytest.fixture
def chaos_server(chaos: Chaos) -> Any:
    """Every built-in fake served on loopback for this test (``chaos.serve()``), stopped after.

    >>> def test_cli_agent_refunds(chaos_server):
    ...     subprocess.run(["./agent"], env={**os.environ, **chaos_server.env}, check=True)
    ...     assert chaos_server.world.ledger("payments")
    """
    return chaos.serve()


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist: every worker explores with the controller's seed and database choice."""
    settings = node.config.stash[SETTINGS]
    node.workerinput["chaoskit_seed"] = settings.seed
    node.workerinput["chaoskit_database"] = settings.database
