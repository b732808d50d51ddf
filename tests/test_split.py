"""One scenario searched as independent parts (one per xdist worker) and merged into one result."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaoskit.cli.main import main
from chaoskit.core.errors import UsageError
from chaoskit.engine import EngineSettings, RunRecorder, explore
from chaoskit.engine.parts import merge_parts, missing_parts
from chaoskit.results import ScenarioResult
from chaoskit.scenarios import Scenario, scenario
from tests.test_engine import retries_with_new_keys, retries_with_one_key
from tests.test_plugin import project, run

pytest_plugins = ["pytester"]
__all__ = ["project"]  # the fixture, imported for these tests


def refund_scenario() -> Scenario:
    return scenario(
        name="split-refund",
        task="Half of my order {order.id} never arrived. Please refund half of it.",
        backends=["payments", "crm"],
        faults=[
            {
                "kind": "timeout_after_commit",
                "target": "payments: POST /v1/refunds",
                "explore": True,
            }
        ],
        invariants=[
            {"name": "at_most_one_effect_per_intent", "effect": "refund.created", "key": "charge"}
        ],
    )


def parts(agent: object, examples: int = 30, total: int = 2) -> list[ScenarioResult]:
    return [
        explore(
            refund_scenario(),
            agent,  # type: ignore[arg-type]
            agent_name="tests:agent",
            config=EngineSettings(examples=examples, seed=3, database=False, part=(i, total)),
        )
        for i in range(1, total + 1)
    ]


def test_the_parts_share_the_examples_and_the_first_ones_take_the_remainder() -> None:
    shares = [EngineSettings(examples=101, part=(i, 3)).share for i in (1, 2, 3)]
    assert shares == [34, 34, 33]
    assert EngineSettings(examples=101).share == 101


@pytest.mark.parametrize("part", [(0, 2), (3, 2)])
def test_a_part_that_is_not_one_of_its_total_is_refused(part: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match=r"chaoskit: part .* is not a part of 2"):
        EngineSettings(part=part)


def test_each_part_searches_from_a_seed_of_its_own() -> None:
    one, two = parts(retries_with_one_key, examples=20)
    assert one.part == (1, 2) and two.part == (2, 2)
    seeds = [[s.world_seed for s in r.samples] for r in (one, two)]
    assert seeds[0] != seeds[1]


def test_parts_of_a_held_scenario_merge_into_one_held_result_with_every_example() -> None:
    merged = merge_parts(parts(retries_with_one_key, examples=30))
    assert merged.status == "held" and merged.examples == 30 and merged.parts == 2
    assert merged.part is None and merged.counterexample is None
    (summary,) = merged.invariants
    assert summary.held == 30 and summary.violated == 0


def test_a_failure_in_any_part_is_the_verdict_with_the_smallest_counterexample() -> None:
    found = parts(retries_with_new_keys, examples=30)
    assert all(p.status == "violated" for p in found)
    merged = merge_parts(found)
    assert merged.status == "violated"
    assert merged.examples == sum(p.examples for p in found)
    assert merged.counterexample is not None
    smallest = min(len(p.counterexample.faults) for p in found if p.counterexample)
    assert len(merged.counterexample.faults) == smallest
    assert merged.reproduction is not None and "--part " in merged.reproduction


def test_a_part_that_held_beside_one_that_failed_still_gives_violated() -> None:
    held = parts(retries_with_one_key, examples=30)[0]
    failed = next(p for p in parts(retries_with_new_keys, examples=30) if p.counterexample)
    merged = merge_parts([held, failed.model_copy(update={"part": (2, 2)})])
    assert merged.status == "violated" and merged.counterexample == failed.counterexample


def test_only_what_no_part_exercised_is_not_exercised() -> None:
    one, two = parts(retries_with_one_key, examples=10)
    never = "fault 'timeout_after_commit@payments POST /v1/refunds' never fired"
    merged = merge_parts(
        [
            one.model_copy(update={"status": "not_exercised", "not_exercised": (never,)}),
            two.model_copy(update={"status": "held", "not_exercised": ()}),
        ]
    )
    assert merged.status == "held" and merged.not_exercised == ()
    both = merge_parts(
        [
            p.model_copy(update={"status": "not_exercised", "not_exercised": (never,)})
            for p in (one, two)
        ]
    )
    assert both.status == "not_exercised" and both.not_exercised == (never,)


def test_an_error_in_one_part_is_the_scenario_s_error_naming_the_part() -> None:
    one, two = parts(retries_with_one_key, examples=10)
    merged = merge_parts([one, two.model_copy(update={"status": "error", "error": "boom"})])
    assert merged.status == "error" and merged.error == "part 2/2: boom"


def test_parts_of_different_scenarios_do_not_merge() -> None:
    one, two = parts(retries_with_one_key, examples=10)
    with pytest.raises(UsageError, match="only parts of one scenario"):
        merge_parts([one, two.model_copy(update={"scenario": "other"})])


def test_the_recorder_merges_parts_as_they_arrive_and_a_missing_part_fails_the_run() -> None:
    one, two = parts(retries_with_one_key, examples=10, total=2)
    recorder = RunRecorder(seed=3, examples=10)
    recorder.add(one)
    assert missing_parts([one]) == ["2/2"]
    partial = recorder.result()
    assert len(partial.scenarios) == 1 and not partial.passed
    assert "part 2/2 of scenario 'split-refund'" in partial.invalid[0].message
    recorder.add(two)
    whole = recorder.result()
    assert whole.passed and whole.invalid == ()
    (merged,) = whole.scenarios
    assert merged.examples == 10 and merged.parts == 2


def test_split_items_are_collected_as_parts_of_each_scenario(project: pytest.Pytester) -> None:
    result = run(project, "--chaos-agent=myagent:hardened", "--chaos-split=2", "--co", "-q")
    result.stdout.fnmatch_lines(
        [
            "scenarios/refund.toml::refund-timeout-after-commit[[]1/2]",
            "scenarios/refund.toml::refund-timeout-after-commit[[]2/2]",
            "*4 tests collected*",
        ]
    )


def test_a_split_run_reports_one_verdict_per_scenario(project: pytest.Pytester) -> None:
    naive = run(project, "--chaos-agent=myagent:naive", "--chaos-seed=1", "--chaos-split=2")
    data = json.loads((project.path / "reports" / "chaoskit.json").read_text())
    assert naive.ret == 1
    assert [(s["scenario"], s["parts"], s["status"]) for s in data["scenarios"]] == [
        ("refund-loose", 2, "violated"),
        ("refund-timeout-after-commit", 2, "violated"),
    ]
    assert all(s["examples"] <= 25 for s in data["scenarios"])
    hardened = run(project, "--chaos-agent=myagent:hardened", "--chaos-seed=1", "--chaos-split=2")
    data = json.loads((project.path / "reports" / "chaoskit.json").read_text())
    assert hardened.ret == 0
    assert [(s["examples"], s["parts"], s["status"]) for s in data["scenarios"]] == [
        (25, 2, "held"),
        (25, 2, "held"),
    ]
    hardened.stdout.fnmatch_lines(["*chaoskit: PASS: 2 held*"])


def test_a_part_deselected_with_k_fails_the_run_though_its_items_pass(
    project: pytest.Pytester,
) -> None:
    result = run(
        project, "--chaos-agent=myagent:hardened", "--chaos-seed=1", "--chaos-split=2", "-k", "1/2"
    )
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*part 2/2 of scenario * did not report*", "*2 passed*"])
    data = json.loads((project.path / "reports" / "chaoskit.json").read_text())
    assert len(data["invalid"]) == 2 and all(s["status"] == "held" for s in data["scenarios"])


def test_under_xdist_one_scenario_is_split_across_the_workers(project: pytest.Pytester) -> None:
    (project.path / "scenarios" / "refund_loose.toml").unlink()
    result = run(project, "--chaos-agent=myagent:hardened", "--chaos-seed=1", "-n", "2")
    data = json.loads((project.path / "reports" / "chaoskit.json").read_text())
    result.assert_outcomes(passed=2)
    (merged,) = data["scenarios"]
    assert (merged["examples"], merged["parts"], merged["status"]) == (25, 2, "held")


def test_a_part_reproduces_from_the_command_line(tmp_path: Path) -> None:
    scenario_file = tmp_path / "refund.toml"
    scenario_file.write_text(
        'name = "split-cli"\n'
        'task = "Half of my order {order.id} never arrived. Please refund half of it."\n'
        'backends = ["payments", "crm"]\n'
        '[[faults]]\nkind = "timeout_after_commit"\n'
        'target = "payments: POST /v1/refunds"\nexplore = true\n'
        '[[invariants]]\nname = "at_most_one_effect_per_intent"\n'
        'effect = "refund.created"\nkey = "charge"\n'
    )
    report = tmp_path / "out" / "chaoskit.html"
    code = main(
        [
            "run", "--agent", "tests.test_engine:retries_with_new_keys", "--seed", "2",
            "--examples", "20", "--part", "2/2", "--report", str(report), str(scenario_file),
        ]
    )  # fmt: skip
    data = json.loads(report.with_suffix(".json").read_text())
    (result,) = data["scenarios"]
    assert code == 1 and result["status"] == "violated" and data["invalid"] == []
    assert "--part 2/2" in result["reproduction"]


@pytest.mark.parametrize("text", ["3/2", "0/2", "two", "1-2"])
def test_a_part_that_cannot_exist_is_refused_by_the_command_line(
    text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--agent", "tests.test_engine:retries_with_one_key", "--part", text])
    assert "--part: takes I/N" in capsys.readouterr().err
