"""The detection matrix: each built-in scenario catches the defect it is meant for, and only it.

Every naive reference agent must be caught, in every scenario meant for it, by exactly the
invariants the catalogue names, with a minimal schedule of at most two faults; every hardened
agent must hold in those scenarios with their faults exercised. Seeded and without the example
database, so the whole matrix is the same on every run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chaoskit.examples.catalogue import (
    PAIRS,
    Matrix,
    Row,
    detection_matrix,
    format_matrix,
    load_builtin,
)
from chaoskit.invariants import REGISTRY
from chaoskit.scenarios import load_scenarios

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
#: The default of `chaoskit matrix`: enough for every hardened agent to meet its faults (~8 s).
EXAMPLES = 60
RUNS = [(pair.module, stem) for pair in PAIRS for stem in pair.scenarios]


@pytest.fixture(scope="module")
def matrix() -> Matrix:
    return detection_matrix(examples=EXAMPLES, seed=0)


def _row(matrix: Matrix, module: str, stem: str, variant: str) -> Row:
    (row,) = [
        r for r in matrix.rows if r.module == module and r.stem == stem and r.variant == variant
    ]
    return row


@pytest.mark.parametrize(("module", "stem"), RUNS)
def test_every_naive_agent_is_caught_by_exactly_the_invariants_meant_for_it(
    matrix: Matrix, module: str, stem: str
) -> None:
    row = _row(matrix, module, stem, "naive")
    assert row.status == "violated", row
    assert not row.findings, row.findings
    # Nothing but its own defect fires: the other invariants of the scenario hold.
    assert sorted(row.violated) == sorted(row.expected)


@pytest.mark.parametrize(("module", "stem"), RUNS)
def test_every_naive_agent_is_caught_with_at_most_two_faults(
    matrix: Matrix, module: str, stem: str
) -> None:
    row = _row(matrix, module, stem, "naive")
    assert len(row.schedule) <= 2, row.schedule


@pytest.mark.parametrize(("module", "stem"), RUNS)
def test_every_hardened_agent_holds_with_its_faults_exercised(
    matrix: Matrix, module: str, stem: str
) -> None:
    row = _row(matrix, module, stem, "hardened")
    assert row.status == "held", (row.violated, row.unmet, row.findings, row.not_exercised)
    assert row.examples == EXAMPLES


def test_a_timeout_after_commit_catches_the_refund_bot_on_its_first_refund(
    matrix: Matrix,
) -> None:
    row = _row(matrix, "refunds", "refund_timeout_after_commit", "naive")
    assert row.schedule == ("timeout_after_commit@payments POST /v1/refunds#1",)


def test_a_model_misbehaviour_is_shown_at_its_call_in_the_schedule(matrix: Matrix) -> None:
    row = _row(matrix, "llm", "model_refund_misbehaviours", "naive")
    assert row.schedule == ("repeat_write@openai POST /v1/chat/completions#3",)


def test_an_agent_wrong_without_any_fault_is_caught_with_an_empty_schedule(
    matrix: Matrix,
) -> None:
    row = _row(matrix, "orchestrator", "refund_above_threshold_denied", "naive")
    assert (row.status, row.schedule) == ("violated", ())


def test_the_matrix_is_the_same_on_every_run() -> None:
    def run() -> Matrix:
        return detection_matrix(examples=15, seed=3, pairs=PAIRS[:2])

    assert run() == run()


def test_the_table_has_one_line_per_agent_and_scenario(matrix: Matrix) -> None:
    table = format_matrix(matrix)
    lines = table.splitlines()
    assert lines[0] == "| agent | scenario | status | violated | minimal schedule |"
    assert len([line for line in lines if line.startswith("| ")]) == 2 + 2 * len(RUNS)
    assert (
        "| refunds:naive | refund-timeout-after-commit | violated | "
        "at_most_one_effect_per_intent, idempotency_key_stable | "
        "timeout_after_commit@payments POST /v1/refunds#1 |"
    ) in lines
    assert "| refunds:hardened | refund-timeout-after-commit | held | — | — |" in lines


@pytest.mark.parametrize(("module", "stem"), RUNS)
def test_the_catalogue_names_invariants_its_scenarios_check(module: str, stem: str) -> None:
    (pair,) = [p for p in PAIRS if p.module == module]
    checked = {spec.name for spec in load_builtin(stem).invariants}
    assert set(pair.scenarios[stem]) <= checked & set(REGISTRY)


def test_every_builtin_scenario_explores_its_faults_and_proves_they_hit() -> None:
    loaded, errors = load_scenarios([SCENARIOS])
    assert not errors
    assert len(loaded) >= 11
    for scenario in loaded:
        # Explored: faults, or deliveries Hypothesis decides (a duplicate, a follow-up).
        drawn = scenario.delivery.duplicate or scenario.delivery.follow_up is not None
        assert scenario.faults or drawn, scenario.name
        assert all(rule.explore for rule in scenario.faults), scenario.name
        assert scenario.sometimes, scenario.name


def test_every_scenario_in_the_library_is_meant_for_some_pair() -> None:
    meant = {stem for pair in PAIRS for stem in pair.scenarios}
    assert meant == {path.stem for path in SCENARIOS.glob("*.toml")}
