"""A new user's first ten minutes: an agent of their own, not installed, found the way pytest
finds code; built-in scenarios known by name; ``python -m chaoskit``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chaoskit.cli.main import main
from chaoskit.scenarios import builtin_scenarios
from tests.test_cli import HARDENED, NAIVE
from tests.test_plugin import AGENTS, REFUND

pytest_plugins = ["pytester"]


@pytest.fixture
def layout(pytester: pytest.Pytester) -> pytest.Pytester:
    """A project with an ini file at its root, a scenario, no conftest (nothing on sys.path)."""
    pytester.makeini("[pytest]\n")
    (pytester.path / "scenarios").mkdir()
    (pytester.path / "scenarios" / "refund.toml").write_text(REFUND)
    (pytester.path / "tests").mkdir()
    return pytester


def test_pytest_run_from_a_subfolder_imports_the_agent_from_the_rootdir(
    layout: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    layout.makepyfile(myagent=AGENTS)
    monkeypatch.chdir(layout.path / "tests")
    result = layout.runpytest("--chaos-agent=myagent:hardened", "--chaos-examples=5", "--co")
    assert result.ret == 0, result.stderr.str()
    result.stdout.fnmatch_lines(["*<ScenarioItem refund-timeout-after-commit>"])


def test_pytest_imports_the_agent_from_the_pythonpath_ini_option(layout: pytest.Pytester) -> None:
    layout.makeini("[pytest]\npythonpath = src\n")
    (layout.path / "src").mkdir()
    (layout.path / "src" / "myagent.py").write_text(AGENTS)
    result = layout.runpytest("--chaos-agent=myagent:hardened", "--chaos-examples=5", "--co")
    assert result.ret == 0, result.stderr.str()


def test_an_agent_found_nowhere_names_the_places_searched(layout: pytest.Pytester) -> None:
    (layout.path / "src").mkdir()
    (layout.path / "src" / "myagent.py").write_text(AGENTS)
    result = layout.runpytest("--chaos-agent=myagent:hardened", "--co")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert (
        f"no module named 'myagent': searched sys.path, then {layout.path} (pytest's "
        f"rootdir, the current directory). It is in {layout.path / 'src'}: put that folder "
        "on pytest's `pythonpath` (pytest.ini: `pythonpath = src` under [pytest]"
    ) in result.stderr.str()


def test_python_dash_m_chaoskit_is_the_chaoskit_command(tmp_path: Path) -> None:
    ran = subprocess.run(
        [sys.executable, "-m", "chaoskit", "scenarios", "refund-timeout-after-commit"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    assert "ok   refund-timeout-after-commit" in ran.stdout
    usage = subprocess.run(
        [sys.executable, "-m", "chaoskit", "--help"], capture_output=True, text=True, check=False
    )
    assert usage.stdout.startswith("usage: chaoskit ")


def test_scenarios_without_a_folder_lists_the_builtins_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["scenarios"]) == 0
    out = capsys.readouterr().out
    count = len(builtin_scenarios())
    assert f"no ./scenarios folder here; using the {count} built-in scenarios" in out
    assert "ok   refund-timeout-after-commit" in out
    assert f"{count} valid, 0 invalid" in out


def test_scenarios_with_a_folder_lists_the_folder_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "mine.toml").write_text(REFUND.replace("refund-timeout", "mine"))
    assert main(["scenarios"]) == 0
    out = capsys.readouterr().out
    assert "chaoskit: scenarios from ./scenarios" in out
    assert "ok   mine-after-commit" in out and "1 valid, 0 invalid" in out


def test_run_resolves_a_builtin_scenario_by_name_outside_a_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["run", "--agent", HARDENED, "--examples", "5", "--seed", "1"]
    assert main([*args, "refund-timeout-after-commit"]) == 0
    assert "refund-timeout-after-commit [tests.test_engine:retries_with_one_key]" in (
        capsys.readouterr().out
    )
    assert (tmp_path / "reports" / "chaoskit.json").exists()
    naive = ["run", "--agent", NAIVE, "--examples", "20", "--seed", "1"]
    assert main([*naive, "refund-timeout-after-commit"]) == 1
    assert f"reproduce: chaoskit run --agent {NAIVE} --seed 1 refund-timeout-after-commit\n" in (
        capsys.readouterr().out
    )


def test_a_name_that_is_neither_a_file_nor_a_builtin_gets_a_did_you_mean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["run", "--agent", HARDENED, "--examples", "5", "--seed", "1"]
    assert main([*args, "refund-timeout-after-comit"]) == 1
    assert (
        "no scenario file 'refund-timeout-after-comit' and no built-in scenario of that name. "
        "Did you mean 'refund-timeout-after-commit'?"
    ) in capsys.readouterr().err


def test_a_missing_scenario_file_suggests_its_neighbour(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "refund.toml").write_text(REFUND)
    assert main(["scenarios", str(tmp_path / "refnd.toml")]) == 1
    assert f"Did you mean '{tmp_path / 'refund.toml'}'?" in capsys.readouterr().out


HEAVY = [
    "chaoskit.engine",
    "chaoskit.report",
    "chaoskit.fakes",
    "chaoskit.world",
    "chaoskit.scenarios",
    "hypothesis",
    "jinja2",
    "pydantic",
    "respx",
    "faker",
    "httpx",
]

RECORD_MODULES = """
import json, sys

def pytest_collection_finish(session):
    with open("modules.json", "w") as out:
        json.dump(sorted(sys.modules), out)
"""


def _modules_after_collection(pytester: pytest.Pytester, *args: str) -> set[str]:
    result = pytester.runpytest_subprocess("--co", "-q", "-p", "no:cacheprovider", *args)
    assert result.ret == 0, result.stderr.str()
    return set(json.loads((pytester.path / "modules.json").read_text()))


def test_collecting_a_suite_with_no_chaos_test_imports_nothing_heavy(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(RECORD_MODULES)
    pytester.makepyfile(test_plain="def test_one():\n    assert True\n")
    with_plugin = _modules_after_collection(pytester)
    without = _modules_after_collection(pytester, "-p", "no:chaoskit")
    assert "chaoskit.plugin" in with_plugin and "chaoskit.plugin" not in without
    # Other plugins of the environment (respx's, Faker's) may import their own package; the
    # chaoskit plugin must add none of the heavy modules.
    added = {m for m in with_plugin - without if m.partition(".")[0] != "chaoskit"}
    assert not [m for m in added if any(m == h or m.startswith(h + ".") for h in HEAVY)], added
    ours = {m for m in with_plugin if m.startswith("chaoskit")}
    assert not [m for m in ours if any(m == h or m.startswith(h + ".") for h in HEAVY)], ours
    assert "hypothesis.core" not in with_plugin


def test_recording_results_imports_neither_hypothesis_nor_the_world() -> None:
    """An xdist controller only records what its workers explored: importing the engine's
    whole stack (Hypothesis, the world, the fakes) there stalled the loop that hands out tests."""
    code = (
        "import sys, chaoskit.engine.recorder, chaoskit.report.text; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('hypothesis', 'faker', "
        "'respx') or m in ('chaoskit.engine.run', 'chaoskit.world.world', 'chaoskit.scenarios')))"
    )
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert ran.stdout.strip() == "[]"


def test_a_new_users_project_runs_from_its_root_without_being_installed(tmp_path: Path) -> None:
    """The issue's first ten minutes, as a user types them: an agent module and a scenario file
    of their own, nothing installed or on PYTHONPATH, the `pytest` and `chaoskit` scripts."""
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "__init__.py").write_text("")
    (tmp_path / "shop" / "agent.py").write_text(AGENTS)
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "mine.toml").write_text(REFUND.replace("refund-timeout", "mine"))
    scripts = Path(sys.executable).parent
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}

    def run(*command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            command, cwd=tmp_path, env=env, capture_output=True, text=True, check=False
        )

    seed = ("--chaos-seed=1", "--chaos-examples=10")
    by_pytest = run(str(scripts / "pytest"), "-p", "no:cacheprovider", *seed,
                    "--chaos-agent=shop.agent:hardened")  # fmt: skip
    assert by_pytest.returncode == 0, by_pytest.stdout + by_pytest.stderr
    assert "1 passed" in by_pytest.stdout
    options = ("--agent", "shop.agent:hardened", "--seed", "1", "--examples", "10")
    by_command = run(str(scripts / "chaoskit"), "run", *options)
    assert by_command.returncode == 0, by_command.stdout + by_command.stderr
    assert "chaoskit: scenarios from ./scenarios" in by_command.stdout
    assert "mine-after-commit [shop.agent:hardened]" in by_command.stdout
    builtin = run(str(scripts / "chaoskit"), "run", *options, "refund-timeout-after-commit")
    assert builtin.returncode == 0, builtin.stdout + builtin.stderr
    assert "refund-timeout-after-commit [shop.agent:hardened]" in builtin.stdout
    caught = run(str(scripts / "chaoskit"), "run", "--agent", "shop.agent:naive", "--seed", "1")
    assert caught.returncode == 1, caught.stdout + caught.stderr
    replayed = run(str(scripts / "chaoskit"), "replay", "reports/chaoskit.json")
    assert replayed.returncode == 1, replayed.stdout + replayed.stderr
    assert "still fails on the recorded schedule (reproduced exactly)" in replayed.stdout
