"""The chaoskit command, as users run it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaoskit.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = """
name = "refund-timeout"
task = "Half of my order {order.id} never arrived. Please refund half of it."
backends = ["payments", "crm"]

[[faults]]
kind = "timeout_after_commit"
target = "payments: POST /v1/refunds"
explore = true

[[invariants]]
name = "at_most_one_effect_per_intent"
"""
NAIVE = "tests.test_engine:retries_with_new_keys"
HARDENED = "tests.test_engine:retries_with_one_key"


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    path = tmp_path / "scenarios" / "refund.toml"
    path.parent.mkdir()
    path.write_text(SCENARIO)
    return path


def run_args(tmp_path: Path, agent: str, scenario: Path) -> list[str]:
    report = tmp_path / "out" / "report.html"
    return ["run", "--agent", agent, "--examples", "30", "--seed", "3", "--report", str(report),
            str(scenario)]  # fmt: skip


def test_run_exits_1_on_a_violation_and_writes_report_and_results(
    tmp_path: Path, scenario_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(run_args(tmp_path, NAIVE, scenario_file)) == 1
    out = capsys.readouterr().out
    assert "chaoskit: seed 3 (reproduce with --seed 3)" in out
    assert "VIOLATED" in out and "minimal fault schedule (1 fault)" in out
    results = json.loads((tmp_path / "out" / "report.json").read_text())
    assert results["scenarios"][0]["status"] == "violated"
    assert (tmp_path / "out" / "report.html").read_text().startswith("<!DOCTYPE html>")


def test_run_exits_0_when_every_scenario_held(tmp_path: Path, scenario_file: Path) -> None:
    assert main(run_args(tmp_path, HARDENED, scenario_file)) == 0


def test_a_bad_agent_is_a_usage_error_with_exit_status_4(
    tmp_path: Path, scenario_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(run_args(tmp_path, "tests.test_engine:retries_with_one_kee", scenario_file)) == 4
    assert "Did you mean 'retries_with_one_key'?" in capsys.readouterr().err


def test_replay_reproduces_the_recorded_failure_exactly(
    tmp_path: Path, scenario_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(run_args(tmp_path, NAIVE, scenario_file))
    capsys.readouterr()
    assert main(["replay", str(tmp_path / "out" / "report.json")]) == 1
    out = capsys.readouterr().out
    assert "chaoskit: reproduced exactly." in out
    assert "violated: at_most_one_effect_per_intent" in out


def test_replay_against_a_fixed_agent_shows_the_fix(
    tmp_path: Path, scenario_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(run_args(tmp_path, NAIVE, scenario_file))
    capsys.readouterr()
    results = str(tmp_path / "out" / "report.json")
    assert main(["replay", results, "--agent", HARDENED]) == 0
    assert "the run differs from the record" in capsys.readouterr().out


def test_report_re_renders_saved_results(tmp_path: Path, scenario_file: Path) -> None:
    main(run_args(tmp_path, NAIVE, scenario_file))
    again = tmp_path / "again.html"
    assert main(["report", str(tmp_path / "out" / "report.json"), "-o", str(again)]) == 0
    assert "refund-timeout" in again.read_text()


def test_report_on_a_missing_file_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(tmp_path / "nope.json")]) == 4
    assert "nope.json" in capsys.readouterr().err


def test_scenarios_lists_valid_files_and_explains_bad_ones(
    tmp_path: Path, scenario_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (scenario_file.parent / "bad.toml").write_text(SCENARIO.replace("{order.id}", "{order.idd}"))
    assert main(["scenarios", str(scenario_file.parent)]) == 1
    out = capsys.readouterr().out
    assert "ok   refund-timeout" in out
    assert "bad.toml, task: template field {order.idd} is not in the world" in out
    assert "1 valid, 1 invalid" in out


def test_the_builtin_scenarios_are_all_valid(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scenarios", str(ROOT / "scenarios")]) == 0
    assert " 0 invalid" in capsys.readouterr().out
