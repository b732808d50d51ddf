"""Runs split across machines: stable shards, `chaoskit run --shard`, and `chaoskit merge`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chaoskit.cli.main import main
from chaoskit.core.errors import UsageError
from chaoskit.engine.merge import merge_runs
from chaoskit.engine.shard import assign, item_id, members, parse_shard
from chaoskit.report.html import load_results
from chaoskit.results import RunResult, ScenarioResult, Shard

NAIVE = "tests.test_engine:retries_with_new_keys"
HARDENED = "tests.test_engine:retries_with_one_key"

SCENARIO = """
name = "{name}"
task = "Half of my order {{order.id}} never arrived. Please refund half of it."
backends = ["payments", "crm"]

[[faults]]
kind = "{kind}"
target = "payments: POST /v1/refunds"
explore = true

[[invariants]]
name = "at_most_one_effect_per_intent"
effect = "refund.created"
key = "charge"

"""
KEY_STABLE = """
[[invariants]]
name = "idempotency_key_stable"
route = "payments: POST /v1/refunds"
intent_params = ["charge"]
"""
#: Six scenarios, two in each of the naive agent's shards 1/3, 2/3 and 3/3; the naive
#: agent breaks some and not others.
KINDS = {
    "refund-a": ("timeout_after_commit", ""),
    "refund-b": ("timeout_before_commit", ""),
    "refund-c": ("timeout_after_commit", KEY_STABLE),
    "refund-d": ("rate_limit", ""),
    "refund-e": ("connection_reset", KEY_STABLE),
    "refund-f": ("server_error", ""),
}


@pytest.fixture
def scenarios(tmp_path: Path) -> Path:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    for name, (kind, more) in KINDS.items():
        (folder / f"{name}.toml").write_text(SCENARIO.format(name=name, kind=kind) + more)
    return folder


def run(tmp_path: Path, folder: Path, out: str, *extra: str, agent: str = NAIVE) -> int:
    report = tmp_path / out / "chaoskit.html"
    args = ["run", "--agent", agent, "--examples", "25", "--seed", "5", "--report", str(report)]
    return main([*args, *extra, str(folder)])


def results(tmp_path: Path, out: str) -> RunResult:
    return load_results(tmp_path / out / "chaoskit.json")


def by_item(run: RunResult) -> dict[tuple[str, str], ScenarioResult]:
    return {(s.scenario, s.agent): s for s in run.scenarios}


# --- assignment ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("0/3", "between 1 and 3"),
        ("4/3", "between 1 and 3"),
        ("x/y", "takes i/n"),
        ("1/0", "at least 1 shard"),
        ("2", "takes i/n"),
    ],
)
def test_a_shard_that_cannot_exist_is_refused_with_the_fix(spec: str, problem: str) -> None:
    with pytest.raises(UsageError, match=rf"^chaoskit: --shard .*{problem}"):
        parse_shard(spec)


def test_every_item_is_in_exactly_one_shard_and_the_shards_are_even() -> None:
    for count in (1, 2, 7, 38, 300):
        ids = [item_id(f"scenario-{i}", "shop:agent") for i in range(count)]
        shards = [members(ids, parse_shard(f"{i}/4")) for i in range(1, 5)]
        assert all(sum(column) == 1 for column in zip(*shards, strict=True))
        sizes = [sum(shard) for shard in shards]
        assert max(sizes) - min(sizes) <= 1, sizes


@pytest.mark.parametrize("total", [2, 3, 5])
def test_adding_a_scenario_moves_at_most_one_item_per_boundary(total: int) -> None:
    for size in range(1, 60):
        ids = [item_id(f"scenario-{i}", "a:b") for i in range(size)]
        before = assign(ids, total)
        after = assign([*ids, item_id("new", "a:b")], total)[:size]
        moved = sum(b != a for b, a in zip(before, after, strict=True))
        assert moved <= total - 1, (size, moved)


def test_the_shard_depends_on_the_ids_not_on_the_order_of_collection() -> None:
    ids = [item_id(f"s{i}", "a:b") for i in range(20)]
    assert assign(ids, 3) == list(reversed(assign(list(reversed(ids)), 3)))


# --- chaoskit run --shard ---------------------------------------------------------------------


def test_run_with_a_shard_runs_its_share_and_records_the_shard(
    tmp_path: Path, scenarios: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(tmp_path, scenarios, "s2", "--shard", "2/3")
    assert "chaoskit: shard 2/3: 2 of 6 items run here" in capsys.readouterr().out
    shard = results(tmp_path, "s2")
    assert sorted(s.scenario for s in shard.scenarios) == ["refund-b", "refund-f"]
    assert shard.shard == Shard(index=2, total=3, selected=2, collected=6, agent=NAIVE)


def test_run_with_a_bad_shard_is_a_usage_error(
    tmp_path: Path, scenarios: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(tmp_path, scenarios, "x", "--shard", "4/3") == 4
    assert "chaoskit: --shard 4/3: shards are counted from 1 to 3" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


# --- chaoskit merge ---------------------------------------------------------------------------


def test_three_merged_shards_say_what_one_unsharded_run_of_the_same_seed_says(
    tmp_path: Path, scenarios: Path
) -> None:
    (scenarios / "broken.toml").write_text(SCENARIO.format(name="broken", kind="explode"))
    whole_status = run(tmp_path, scenarios, "whole")
    for index in (1, 2, 3):
        run(tmp_path, scenarios, f"s{index}", "--shard", f"{index}/3")
    shards = [str(tmp_path / f"s{i}" / "chaoskit.json") for i in (1, 2, 3)]
    merged_json = tmp_path / "merged.json"
    merged_status = main(
        ["merge", *shards, "-o", str(tmp_path / "m.html"), "--json", str(merged_json)]
    )

    whole, merged = results(tmp_path, "whole"), load_results(merged_json)
    assert {s.status for s in whole.scenarios} >= {"held", "violated"}  # both kinds compared
    assert merged_status == whole_status == 1 and merged.gate == whole.gate == "fail"
    assert by_item(merged).keys() == by_item(whole).keys() and len(merged.scenarios) == 6
    for key, alone in by_item(whole).items():
        part = by_item(merged)[key]
        assert part.invariants == alone.invariants  # the same verdicts
        if alone.counterexample is not None:  # the same minimal schedules
            assert part.counterexample is not None
            assert part.counterexample.decisions == alone.counterexample.decisions
            assert part.counterexample.faults == alone.counterexample.faults
        assert part == alone
    assert merged.invalid == whole.invalid and len(merged.invalid) == 1  # the broken file, once
    assert merged.shard is None
    assert (tmp_path / "m.html").read_text().startswith("<!DOCTYPE html>")


def shard_run(
    index: int, total: int = 3, *, seed: int | None = 0, status: str = "held", **kw: Any
) -> RunResult:
    agent = kw.pop("agent", "shop:agent")
    scenario = ScenarioResult(scenario=f"s{index}", agent=agent, status=status)  # type: ignore[arg-type]
    fields: dict[str, Any] = {
        "chaoskit_version": "1.0",
        "python_version": "3.11",
        "agent": agent,
        "seed": seed,
        "examples_per_scenario": 10,
        "scenarios": (scenario,),
        "shard": Shard(index=index, total=total, selected=1, collected=3, agent=agent),
    }
    return RunResult(**(fields | kw))


def test_a_missing_shard_is_said_loudly_and_the_merge_cannot_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = []
    for index in (1, 3):
        path = tmp_path / f"s{index}.json"
        path.write_text(shard_run(index).model_dump_json())
        files.append(str(path))
    assert main(["merge", *files, "-o", str(tmp_path / "m.html")]) == 1
    out, err = capsys.readouterr()
    assert "chaoskit: MISSING shard 2/3: chaoskit: shard 2/3 is missing from the merge" in err
    assert "chaoskit: FAIL: 2 held; 1 invalid input" in out
    page = (tmp_path / "m.html").read_text()
    assert "shard 2/3 is missing" in page


def test_all_shards_of_a_run_that_held_merge_into_a_pass() -> None:
    merged = merge_runs([(f"s{i}.json", shard_run(i)) for i in (1, 2, 3)])
    assert merged.gate == "pass" and [s.scenario for s in merged.scenarios] == ["s1", "s2", "s3"]


def test_an_empty_shard_still_counts_as_run() -> None:
    empty = shard_run(2).model_copy(update={"scenarios": ()})
    merged = merge_runs([("s1", shard_run(1)), ("s2", empty), ("s3", shard_run(3))])
    assert merged.gate == "pass"


@pytest.mark.parametrize(
    ("other", "problem"),
    [
        (shard_run(2, seed=7), r"differ in seed \(a.json: 0; b.json: 7\); shards of one run need"),
        (shard_run(2, chaoskit_version="2.0"), "differ in chaoskit version"),
        (shard_run(2, agent="other:agent"), "differ in agent"),
        (shard_run(2, examples_per_scenario=99), "differ in examples per scenario"),
        (shard_run(2, total=4), "differ in shard count"),
        (shard_run(1), r"shard 1/3 is given twice \(a.json and b.json\)"),
        (shard_run(2, shard=None), r"cannot merge a whole run \(b.json\) with shards"),
    ],
)
def test_results_that_are_not_shards_of_one_run_are_refused(other: RunResult, problem: str) -> None:
    with pytest.raises(UsageError, match=f"^chaoskit: .*{problem}"):
        merge_runs([("a.json", shard_run(1)), ("b.json", other)])


def test_whole_runs_of_different_agents_are_refused_but_of_one_agent_merge() -> None:
    one, two = (shard_run(i, shard=None) for i in (1, 2))
    assert merge_runs([("a", one), ("b", two)]).gate == "pass"
    with pytest.raises(UsageError, match="differ in agent"):
        merge_runs([("a", one), ("b", shard_run(2, shard=None, agent="x:y"))])


def test_a_scenario_in_two_results_is_refused() -> None:
    one = shard_run(1, shard=None)
    with pytest.raises(UsageError, match="'s1' against shop:agent is in both a and b"):
        merge_runs([("a", one), ("b", one)])


def test_merge_of_a_file_that_is_not_results_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["merge", str(tmp_path / "nope.json")]) == 4
    assert f"chaoskit: no results file at {tmp_path / 'nope.json'}" in capsys.readouterr().err


def test_a_shard_writes_its_results_json_even_when_it_holds_nothing(
    tmp_path: Path, scenarios: Path
) -> None:
    for path in scenarios.glob("*.toml"):
        if path.stem != "refund-a":
            path.unlink()
    empty = next(i for i in (1, 2, 3) if i != assign([item_id("refund-a", NAIVE)], 3)[0])
    assert run(tmp_path, scenarios, "e", "--shard", f"{empty}/3") == 0
    data = json.loads((tmp_path / "e" / "chaoskit.json").read_text())
    assert data["scenarios"] == [] and data["shard"]["selected"] == 0
    assert data["shard"]["collected"] == 1
