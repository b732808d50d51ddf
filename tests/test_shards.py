"""Runs split across machines: stable shards, `chaoskit run --shard`, and `chaoskit merge`."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaoskit.cli.main import main
from chaoskit.core.errors import UsageError
from chaoskit.engine.shard import in_shard, item_id, parse_shard, shard_of
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
#: Six scenarios that the naive agent's shards 1/3, 2/3 and 3/3 each hold two of; the naive
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


def test_every_item_is_in_exactly_one_shard() -> None:
    ids = [item_id(f"scenario-{i}", "shop:agent") for i in range(300)]
    shards = [parse_shard(f"{i}/4") for i in range(1, 5)]
    for stable in ids:
        assert sum(in_shard(stable, shard) for shard in shards) == 1
    sizes = [sum(in_shard(stable, shard) for stable in ids) for shard in shards]
    assert all(size > 40 for size in sizes), sizes  # no shard is starved


def test_adding_a_scenario_moves_no_other_item() -> None:
    before = {f"scenario-{i}": shard_of(item_id(f"scenario-{i}", "a:b"), 3) for i in range(50)}
    after = {f"scenario-{i}": shard_of(item_id(f"scenario-{i}", "a:b"), 3) for i in range(51)}
    assert {name: after[name] for name in before} == before


def test_the_shard_depends_on_the_id_not_on_the_order_of_collection() -> None:
    names = [f"s{i}" for i in range(20)]
    first = [shard_of(item_id(n, "a:b"), 3) for n in names]
    second = [shard_of(item_id(n, "a:b"), 3) for n in reversed(names)]
    assert first == list(reversed(second))


# --- chaoskit run --shard ---------------------------------------------------------------------


def test_run_with_a_shard_runs_its_share_and_records_the_shard(
    tmp_path: Path, scenarios: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(tmp_path, scenarios, "s2", "--shard", "2/3")
    assert "chaoskit: shard 2/3: 2 of 6 items run here" in capsys.readouterr().out
    shard = results(tmp_path, "s2")
    assert sorted(s.scenario for s in shard.scenarios) == ["refund-c", "refund-d"]
    assert shard.shard == Shard(index=2, total=3, selected=2, collected=6, agent=NAIVE)


def test_run_with_a_bad_shard_is_a_usage_error(
    tmp_path: Path, scenarios: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(tmp_path, scenarios, "x", "--shard", "4/3") == 4
    assert "chaoskit: --shard 4/3: shards are counted from 1 to 3" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
