"""The chaoskit command, as users run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis.database import DirectoryBasedExampleDatabase

from chaoskit.cli.main import main
from chaoskit.core.errors import RunInterrupted
from chaoskit.core.loading import load_agent
from chaoskit.engine import EngineSettings, RunRecorder, explore
from chaoskit.results import RunResult, ScenarioResult
from chaoskit.scenarios import builtin_scenarios, load_scenario
from tests.test_engine import retries_with_new_keys, retries_with_one_key

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
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
    assert "on the recorded schedule: timeout_after_commit @ payments: POST /v1/refunds" in out
    assert "violated: at_most_one_effect_per_intent" in out
    assert (
        "chaoskit: still fails on the recorded schedule (reproduced exactly): "
        "at_most_one_effect_per_intent"
    ) in out


def test_replay_against_a_fixed_agent_shows_the_fix(
    tmp_path: Path, scenario_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(run_args(tmp_path, NAIVE, scenario_file))
    capsys.readouterr()
    results = str(tmp_path / "out" / "report.json")
    assert main(["replay", results, "--agent", HARDENED]) == 0
    out = capsys.readouterr().out
    assert "chaoskit: all invariants hold on the recorded schedule" in out
    assert "violated" not in out


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


# --- invalid inputs, Ctrl-C and reproducibility ----------------------------------------------


def results_of(tmp_path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((tmp_path / "out" / "report.json").read_text())
    return data


def gate_of(tmp_path: Path) -> str:
    page = (tmp_path / "out" / "report.html").read_text()
    return page.split('<div class="gate-word">', 1)[1].split("<", 1)[0]


def test_invalid_scenario_files_fail_the_run_and_are_listed_in_the_report(
    tmp_path: Path, scenario_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for i in range(6):
        bad = SCENARIO.replace("{order.id}", f"{{order.nope{i}}}")
        (scenario_file.parent / f"bad{i}.toml").write_text(bad)
    assert main(run_args(tmp_path, HARDENED, scenario_file.parent)) == 1
    out = capsys.readouterr().out
    assert "chaoskit: FAIL: 1 held; 6 invalid inputs, not run: fix them" in out
    data = results_of(tmp_path)
    assert [s["status"] for s in data["scenarios"]] == ["held"]
    sources = [Path(i["source"]).name for i in data["invalid"]]
    assert sources == [f"bad{i}.toml" for i in range(6)]
    assert "template field {order.nope0} is not in the world" in data["invalid"][0]["message"]
    assert gate_of(tmp_path) == "FAIL"


def test_only_invalid_scenario_files_still_write_a_failing_report(
    tmp_path: Path, scenario_file: Path
) -> None:
    scenario_file.write_text("name = ")
    assert main(run_args(tmp_path, HARDENED, scenario_file)) == 1
    data = results_of(tmp_path)
    assert data["scenarios"] == [] and len(data["invalid"]) == 1
    assert "not valid TOML" in data["invalid"][0]["message"]
    assert gate_of(tmp_path) == "FAIL"


def interrupt_on_the_second_scenario(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """``explore`` as the engine behaves on Ctrl-C: the second scenario raises RunInterrupted
    with what finished of it (here: all of it, marked interrupted by the CLI's recorder)."""
    import chaoskit.engine

    real = chaoskit.engine.explore
    started: list[str] = []

    def explore(scenario: Any, agent: Any, **kwargs: Any) -> ScenarioResult:
        started.append(scenario.name)
        result = real(scenario, agent, **kwargs)
        if len(started) == 2:
            raise RunInterrupted(result.model_copy(update={"examples": 3}))
        return result

    monkeypatch.setattr(chaoskit.engine, "explore", explore)
    return started


def test_ctrl_c_writes_an_interrupted_report_with_the_cut_scenario_and_exits_130(
    tmp_path: Path,
    scenario_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in ("b", "c", "d"):
        (scenario_file.parent / f"{name}.toml").write_text(
            SCENARIO.replace("refund-timeout", f"refund-{name}")
        )
    started = interrupt_on_the_second_scenario(monkeypatch)
    assert main(run_args(tmp_path, HARDENED, scenario_file.parent)) == 130
    assert len(started) == 2  # the other two never ran
    captured = capsys.readouterr()
    assert "chaoskit: INTERRUPTED by Ctrl-C: 1 held, 1 interrupted" in captured.out
    assert "chaoskit: interrupted." in captured.err
    data = results_of(tmp_path)
    assert data["interrupted"] is True
    statuses = [
        (s["scenario"], s["status"], s["interrupted"], s["examples"]) for s in data["scenarios"]
    ]
    assert statuses == [
        ("refund-b", "held", False, 30),
        ("refund-c", "interrupted", True, 3),
    ]
    assert gate_of(tmp_path) == "INTERRUPTED"


def test_ctrl_c_in_the_demo_writes_an_interrupted_report_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import chaoskit.examples.catalogue as catalogue

    scenario = load_scenario(SCENARIOS / "refund_timeout_after_commit.toml")
    agents = ((retries_with_one_key, HARDENED), (retries_with_new_keys, NAIVE))
    pairs = [(scenario, agent, name) for agent, name in agents]
    monkeypatch.setattr(catalogue, "demo_pairs", lambda: pairs)
    interrupt_on_the_second_scenario(monkeypatch)
    report = tmp_path / "out" / "report.html"
    assert main(["demo", "--examples", "10", "--seed", "1", "--report", str(report)]) == 130
    data = results_of(tmp_path)
    assert data["interrupted"] is True
    assert [(s["agent"], s["interrupted"]) for s in data["scenarios"]] == [
        (HARDENED, False),
        (NAIVE, True),
    ]
    assert gate_of(tmp_path) == "INTERRUPTED"


def chaoskit_process(cwd: Path, *args: str, ci: bool = False) -> int:
    """``chaoskit ARGS`` as users run it: a process of its own, in ``cwd`` (where Hypothesis
    keeps its example database)."""
    env = {k: v for k, v in os.environ.items() if k != "CI"} | {"PYTHONPATH": str(ROOT)}
    if ci:
        env["CI"] = "true"
    done = subprocess.run(
        [sys.executable, "-m", "chaoskit", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode


def test_the_same_seed_gives_the_same_results_json_but_its_timing(tmp_path: Path) -> None:
    """Hypothesis's example database would replay the first run's failure first in the second
    (found at once, then shrunk: fewer examples); with a seed it is not used."""
    pytest.importorskip("stripe")
    builtin = next(p for p in builtin_scenarios() if p.stem == "refund_timeout_after_commit")
    agent = "chaoskit.examples.agents.refunds:naive"

    def run(name: str) -> dict[str, Any]:
        args = ["run", "--agent", agent, "--seed", "3", "--examples", "10", "--json", name]
        assert chaoskit_process(tmp_path, *args, str(builtin)) == 1
        data: dict[str, Any] = json.loads((tmp_path / name).read_text())
        assert data.pop("timing")["duration_seconds"] >= 0
        return data

    first, second = run("first.json"), run("second.json")
    assert first == second
    assert first["database"] is False and first["seed"] == 3
    assert first["scenarios"][0]["status"] == "violated"

    # Forced on (here: a database of this folder's own), the database is recorded, and it
    # changes what the next run explores.
    database = DirectoryBasedExampleDatabase(tmp_path / ".hypothesis" / "examples")

    def forced() -> RunResult:
        config = EngineSettings(examples=10, seed=3, database=database)
        recorder = RunRecorder(seed=3, examples=10, database=config.use_database)
        recorder.add(
            explore(load_scenario(builtin), load_agent(agent), agent_name=agent, config=config)
        )
        return recorder.result()

    once, again = forced(), forced()
    assert once.database and again.database
    assert again.scenarios[0].examples < once.scenarios[0].examples  # the failure ran first


def test_without_a_seed_the_run_uses_the_database_and_says_so(
    tmp_path: Path, scenario_file: Path
) -> None:
    args = run_args(tmp_path, HARDENED, scenario_file)
    seedless = [a for i, a in enumerate(args) if "--seed" not in (a, args[i - 1])]
    assert chaoskit_process(tmp_path, *seedless) == 0
    assert results_of(tmp_path)["database"] is True
    # CI fixes the seed to 0 and turns the database off.
    assert chaoskit_process(tmp_path, *seedless, ci=True) == 0
    data = results_of(tmp_path)
    assert (data["seed"], data["database"]) == (0, False)


def test_the_wall_limit_is_an_option_of_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "busy.py").write_text("def spins(task):\n    while True:\n        pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    scenario_file = ROOT / "scenarios" / "refund_timeout_after_commit.toml"
    out = tmp_path / "out" / "report.html"
    args = ["run", "--agent", "busy:spins", "--examples", "2", "--seed", "0", "--report", str(out)]
    assert main([*args, "--wall-seconds", "0.2", str(scenario_file)]) == 1
    (result,) = json.loads(out.with_suffix(".json").read_text())["scenarios"]
    messages = [f["message"] for f in result["counterexample"]["findings"]]
    assert any("0.2 s of real time" in m for m in messages), messages
    with pytest.raises(SystemExit):
        main([*args, "--wall-seconds", "0", str(scenario_file)])


@pytest.mark.parametrize("command", [["scenarios"], ["fakes", "payments"]])
def test_a_reader_that_has_gone_ends_the_command_quietly(command: list[str]) -> None:
    # `chaoskit scenarios | head`: the pipe's reading end is closed before anything is written.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "chaoskit", *command],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert done.stderr == ""
    assert done.returncode == 0


def test_replay_from_another_folder_finds_the_relative_scenario_file_of_the_run(
    tmp_path: Path,
    scenario_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)  # the run names its file relatively: scenarios/refund.toml
    main(["run", "--agent", NAIVE, "--examples", "30", "--seed", "3",
          "--report", "reports/chaoskit.html", "scenarios/refund.toml"])  # fmt: skip
    results = tmp_path / "reports" / "chaoskit.json"
    assert json.loads(results.read_text())["scenarios"][0]["source"] == "scenarios/refund.toml"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    capsys.readouterr()
    assert main(["replay", str(results)]) == 1
    assert "still fails on the recorded schedule" in capsys.readouterr().out
    # Results moved away from the project: say where to run it from, not a missing file.
    moved = tmp_path / "a" / "b" / "chaoskit.json"
    moved.parent.mkdir(parents=True)
    moved.write_text(results.read_text())
    assert main(["replay", str(moved)]) == 4
    assert "Run `chaoskit replay` from the folder the run was made in." in capsys.readouterr().err
