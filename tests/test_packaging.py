"""The distribution ships the fakes and scenarios inside `chaoskit`, nothing at top level."""

from __future__ import annotations

import subprocess
import sys
import types
import zipfile
from pathlib import Path

import pytest

import chaoskit

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(ROOT),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = out.glob("chaoskit-*.whl")
    return set(zipfile.ZipFile(wheel).namelist())


def test_the_wheel_ships_fakes_and_scenarios_inside_chaoskit(wheel_names: set[str]) -> None:
    assert "chaoskit/fakes/payments.py" in wheel_names
    assert "chaoskit/scenarios/builtin/refund_timeout_after_commit.toml" in wheel_names
    assert "chaoskit/report/assets/report.js" in wheel_names
    assert "chaoskit/py.typed" in wheel_names


def test_the_wheel_claims_no_generic_top_level_package(wheel_names: set[str]) -> None:
    tops = {name.split("/")[0] for name in wheel_names if not name.startswith("chaoskit-")}
    assert tops == {"chaoskit"}


EXPORTED = [
    "Agent", "Budget", "Call", "ChaoskitError", "Claim", "ConnectionReset", "Decider",
    "EngineSettings", "Event", "Example", "Fault", "FaultRule", "InvalidFault",
    "InvalidScenario", "Invariant", "InvariantViolation", "Latency", "MalformedResponse",
    "PoisonedDocument", "Principal", "RateLimit", "Reply", "RunResult", "RunView", "Scenario",
    "ScenarioResult", "ServerError", "StaleRead", "Target", "Task", "TimeoutAfterCommit",
    "TimeoutBeforeCommit", "Trace", "UsageError", "Verdict", "VirtualClock", "World",
    "WorldError", "__version__", "default_backends", "explore", "invariant", "load_results",
    "load_scenario", "load_scenarios", "render_html", "replay", "run_scenarios", "scenario",
    "write_report",
]  # fmt: skip


def test_the_public_names_are_exactly_the_curated_facade() -> None:
    """Adding or removing a public name must be a deliberate edit of this list."""
    assert chaoskit.__all__ == EXPORTED
    public = {
        name
        for name, value in vars(chaoskit).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public - {"annotations"} == set(EXPORTED) - {"__version__"}
