"""The run's gate: never PASS with an invalid input or after Ctrl-C, and what it tells people."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaoskit.core.errors import RunInterrupted
from chaoskit.engine import EngineSettings, RunRecorder
from chaoskit.engine.tally import Tally, cut_short, summarise
from chaoskit.report.html import load_results, render_html
from chaoskit.report.text import describe_failure, run_summary_lines
from chaoskit.results import InvalidInput, RunResult, ScenarioResult
from chaoskit.scenarios import load_scenario
from tests.test_report import embedded, make_example, make_result, parse

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "refund_timeout_after_commit.toml"
BAD = "scenarios/bad.toml"
BAD_MESSAGE = "scenarios/bad.toml, task: template field {order.nope} is not in the world."


def held(name: str = "refund", examples: int = 10) -> ScenarioResult:
    return ScenarioResult(scenario=name, agent="shop:agent", status="held", examples=examples)


def recorder(*results: ScenarioResult) -> RunRecorder:
    recording = RunRecorder(seed=3, examples=10)
    for result in results:
        recording.add(result)
    return recording


def run_of(*results: ScenarioResult, **fields: object) -> RunResult:
    return recorder(*results).result().model_copy(update=fields)


# --- the gate --------------------------------------------------------------------------------


def test_a_run_passes_only_when_every_scenario_held_and_every_input_was_valid() -> None:
    assert run_of(held(), held("other")).gate == "pass"
    assert run_of(held(), held("other")).passed
    violated = held().model_copy(update={"status": "violated"})
    assert run_of(held(), violated).gate == "fail"
    invalid = (InvalidInput(source=BAD, message=BAD_MESSAGE),)
    assert run_of(held(), invalid=invalid).gate == "fail"
    assert not run_of(held(), invalid=invalid).passed


def test_an_interrupted_run_is_never_a_pass_even_when_all_that_finished_held() -> None:
    assert run_of(held(), interrupted=True).gate == "interrupted"
    assert not run_of(held(), interrupted=True).passed
    # A scenario marked interrupted is enough, whoever recorded it.
    assert run_of(held(), cut_short(held("cut"))).gate == "interrupted"
    # Interrupted wins over a failure: the run is incomplete either way.
    violated = held().model_copy(update={"status": "violated"})
    assert run_of(violated, interrupted=True).gate == "interrupted"


# --- the recorder ----------------------------------------------------------------------------


def test_the_recorder_lists_invalid_inputs_in_the_results_json(tmp_path: Path) -> None:
    recording = recorder(held())
    recording.invalid(BAD, BAD_MESSAGE)
    assert recording.write(tmp_path / "r.html") is None
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["invalid"] == [{"source": BAD, "message": BAD_MESSAGE}]
    assert data["interrupted"] is False and data["database"] is False
    assert data["schema_version"] == 4
    assert load_results(tmp_path / "r.json").gate == "fail"


def test_an_interruption_keeps_the_cut_scenarios_finished_examples() -> None:
    recording = recorder(held("finished"))
    partial = held("cut", examples=4).model_copy(
        update={"samples": (make_example(failing=False),), "not_exercised": ("fault never fired",)}
    )
    stop = RunInterrupted(partial)
    recording.interrupt(stop)
    recording.interrupt(stop)  # the CLI and the plugin may both see it: kept once
    run = recording.result()
    assert run.interrupted and run.gate == "interrupted"
    assert [(s.scenario, s.status, s.interrupted) for s in run.scenarios] == [
        ("finished", "held", False),
        ("cut", "interrupted", True),
    ]
    cut = run.scenarios[1]
    assert cut.examples == 4 and len(cut.samples) == 1
    assert cut.not_exercised == ()  # the missing fault might still have fired


def test_an_interruption_without_a_partial_result_still_marks_the_run() -> None:
    for stop in (KeyboardInterrupt(), RunInterrupted(None), None):
        recording = recorder(held())
        assert not recording.interrupted
        recording.interrupt(stop)
        run = recording.result()
        assert run.interrupted and [s.scenario for s in run.scenarios] == ["refund"]


def test_a_recorder_with_nothing_in_it_has_nothing_to_report() -> None:
    recording = RunRecorder(seed=0, examples=1)
    assert not recording.recorded
    recording.invalid(BAD, BAD_MESSAGE)
    assert recording.recorded
    interrupted = RunRecorder(seed=0, examples=1)
    interrupted.interrupt()
    assert interrupted.recorded


# --- the tally -------------------------------------------------------------------------------


def test_a_scenario_cut_short_is_interrupted_not_held_nor_not_exercised() -> None:
    scenario = load_scenario(SCENARIO)
    tally = Tally(examples=3)
    config = EngineSettings(examples=10, seed=0)
    assert summarise(scenario, "a:b", tally, config, None).status == "not_exercised"
    cut = summarise(scenario, "a:b", tally, config, None, interrupted=True)
    assert (cut.status, cut.interrupted, cut.examples, cut.not_exercised) == (
        "interrupted",
        True,
        3,
        (),
    )


def test_a_violation_found_before_ctrl_c_stays_a_violation() -> None:
    scenario = load_scenario(SCENARIO)
    tally = Tally(examples=2, last_failure=make_example())
    config = EngineSettings(examples=10, seed=0)
    cut = summarise(scenario, "a:b", tally, config, None, interrupted=True)
    assert (cut.status, cut.interrupted) == ("violated", True)
    assert cut.reproduction is not None and "--seed 0" in cut.reproduction


# --- what people read ------------------------------------------------------------------------


def test_the_terminal_summary_lists_invalid_inputs_and_fails() -> None:
    run = run_of(held(), invalid=(InvalidInput(source=BAD, message=BAD_MESSAGE),))
    lines = run_summary_lines(run)
    assert lines[0] == f"invalid        {BAD_MESSAGE}"  # the message names its file already
    assert lines[-1] == ("chaoskit: FAIL: 1 held; 1 invalid input, not run: fix it (listed above)")
    other = InvalidInput(source="x.toml", message="not valid TOML")
    assert run_summary_lines(run_of(invalid=(other,)))[0] == "invalid        x.toml: not valid TOML"


def test_the_terminal_summary_says_interrupted_and_never_pass() -> None:
    run = run_of(held(), cut_short(held("cut")))
    (line,) = run_summary_lines(run)
    assert line == (
        "chaoskit: INTERRUPTED by Ctrl-C: 1 held, 1 interrupted; "
        "the report holds only what finished, never a pass"
    )
    assert run_summary_lines(run_of(held())) == ["chaoskit: PASS: 1 held"]
    story = describe_failure(cut_short(held("cut", examples=4)))
    assert story.startswith("chaoskit: scenario 'cut' INTERRUPTED against shop:agent")
    assert "interrupted (Ctrl-C) after 4 examples" in story


def _gate(page: str) -> tuple[str, str]:
    parsed = parse(page)
    (classes,) = [dict(a).get("class") for tag, a in parsed.tags if dict(a).get("id") == "gate"]
    word = page.split('<div class="gate-word">', 1)[1].split("<", 1)[0]
    return str(classes), word


def test_the_page_fails_and_lists_each_invalid_input() -> None:
    page = render_html(run_of(held(), invalid=(InvalidInput(source=BAD, message=BAD_MESSAGE),)))
    assert _gate(page) == ("gate fail", "FAIL")
    assert parse(page).title.startswith("chaoskit FAIL")
    assert "<b>1</b> invalid input</li>" in page
    assert embedded(page)["run"]["invalid"] == [{"source": BAD, "message": BAD_MESSAGE}]
    assert embedded(page)["stats"]["invalid"] == 1
    assert "function invalidInputs()" in page  # drawn by the page's script


def test_the_page_of_an_interrupted_run_shows_an_interrupted_gate() -> None:
    page = render_html(run_of(held(), cut_short(held("cut")), interrupted=True))
    assert _gate(page) == ("gate interrupted", "INTERRUPTED")
    assert parse(page).title.startswith("chaoskit INTERRUPTED")
    assert "Stopped by Ctrl-C" in page
    assert "<b>1</b> interrupted</li>" in page
    data = embedded(page)
    assert data["stats"]["gate"] == "interrupted" and data["stats"]["passed"] is False
    assert data["run"]["interrupted"] is True
    assert [s["status"] for s in data["run"]["scenarios"]] == ["held", "interrupted"]


def test_results_written_before_schema_2_still_load(tmp_path: Path) -> None:
    data = json.loads(make_result().model_dump_json())
    for field in ("invalid", "interrupted", "database"):
        del data[field]
    for scenario in data["scenarios"]:
        del scenario["interrupted"]
    path = tmp_path / "old.json"
    path.write_text(json.dumps({**data, "schema_version": 1}))
    old = load_results(path)
    assert (old.invalid, old.interrupted, old.database) == ((), False, False)
    assert old.gate == "fail"  # its scenarios were violated


@pytest.mark.parametrize(
    ("database", "seed", "ci", "used"),
    [
        (None, None, False, True),  # local, unseeded: found failures run first next time
        (None, 3, False, False),  # a seed: reproducible, as Hypothesis's own @seed
        (None, None, True, False),  # CI
        (True, 3, True, True),  # forced on
        (False, None, False, False),  # forced off
    ],
)
def test_the_example_database_is_used_only_without_a_seed_outside_ci(
    monkeypatch: pytest.MonkeyPatch, database: bool | None, seed: int | None, ci: bool, used: bool
) -> None:
    if ci:
        monkeypatch.setenv("CI", "true")
    else:
        monkeypatch.delenv("CI", raising=False)
    assert EngineSettings(seed=seed, database=database).use_database is used
