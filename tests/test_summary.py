"""The terminal summary: every row names its test, identical rows are folded with a count, and
a storm is one decision there too."""

from __future__ import annotations

import pytest

from chaoskit import EngineSettings, explore
from chaoskit.examples.agents import orchestrator
from chaoskit.report.text import run_summary_lines, summary_lines
from chaoskit.results import InvalidInput
from chaoskit.scenarios import resolve_scenario
from tests.test_plugin import AGENTS, REFUND
from tests.test_report import make_result, make_scenario

pytest_plugins = ["pytester"]


def test_each_row_names_its_test_and_identical_rows_are_counted_once() -> None:
    caught, held = make_scenario(), make_scenario().model_copy(update={"status": "held"})
    lines = summary_lines(
        [caught, caught, held, caught],
        tests=["tests/test_a.py::test_one", "tests/test_a.py::test_one", "t.py::x", "t.py::y"],
    )
    assert lines == [
        "VIOLATED       tests/test_a.py::test_one: refund-timeout-0 [naive] 200 examples, "
        "4 faults fired  (×2)",
        "held           t.py::x: refund-timeout-0 [naive] 200 examples, 4 faults fired",
        "VIOLATED       t.py::y: refund-timeout-0 [naive] 200 examples, 4 faults fired",
    ]


def test_a_scenario_files_row_is_its_item_id_without_the_name_twice() -> None:
    (line,) = summary_lines([make_scenario()], tests=["scenarios/r.toml::refund-timeout-0"])
    assert line.startswith("VIOLATED       scenarios/r.toml::refund-timeout-0 [naive] 200 ")


def test_rows_that_differ_in_their_details_are_not_folded() -> None:
    one = make_scenario()
    other = one.model_copy(update={"not_exercised": ("something else",), "counterexample": None})
    lines = summary_lines([one, other], details=True, tests=["t.py::a", "t.py::a"])
    assert not any("×" in line for line in lines) and len(lines) == 4


def test_identical_invalid_inputs_are_listed_once_with_their_count() -> None:
    bad = InvalidInput(source="scenarios/bad.toml", message="scenarios/bad.toml: not valid TOML")
    run = make_result().model_copy(update={"invalid": (bad, bad, bad)})
    lines = run_summary_lines(run)
    assert lines[0] == "invalid        scenarios/bad.toml: not valid TOML  (×3)"
    assert lines[1].startswith("chaoskit: FAIL: ") and len(lines) == 2


def test_a_storm_is_one_decision_with_its_call_range_in_the_summary() -> None:
    result = explore(
        resolve_scenario("refund-5xx-storm"),
        orchestrator.naive,
        agent_name="orchestrator:naive",
        config=EngineSettings(examples=20, database=False, seed=0, wall_guard=10.0),
    )
    assert result.counterexample is not None
    faults = result.counterexample.faults
    assert len(faults) > 3
    _, detail = summary_lines([result], details=True)
    first, last = faults[0], faults[-1]
    assert detail.endswith(
        f"schedule: server_error@payments POST /v1/refunds#{first.call}-{last.call} "
        f"(storming {len(faults)} calls)"
    )


TESTS = """
import pytest

SCENARIO = "scenarios/refund.toml"


def test_naive_is_caught(chaos):
    chaos.check(SCENARIO, agent="myagent:naive")


def test_naive_twice(chaos):
    for _ in range(2):
        chaos.run(SCENARIO, agent="myagent:naive")


def test_hardened_holds(chaos):
    chaos.check(SCENARIO, agent="myagent:hardened")
"""


def test_the_pytest_summary_names_each_test_and_folds_repeats(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(myagent=AGENTS, test_shop=TESTS)
    pytester.makeconftest("")
    pytester.syspathinsert()
    (pytester.path / "scenarios").mkdir()
    (pytester.path / "scenarios" / "refund.toml").write_text(REFUND)
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--chaos-examples=20", "--chaos-seed=1", "test_shop.py"
    )  # fmt: skip
    result.assert_outcomes(passed=2, failed=1)
    section = result.outlines[
        result.outlines.index(next(o for o in result.outlines if "= chaoskit =" in o)) :
    ]
    rows = [line for line in section if line.startswith(("VIOLATED", "held"))]
    assert [row.split(" [")[0].split()[-1] for row in rows] == [
        "refund-timeout-after-commit",
        "refund-timeout-after-commit",
        "refund-timeout-after-commit",
    ]
    assert rows[0].startswith("VIOLATED       test_shop.py::test_naive_is_caught: ")
    assert rows[1].startswith("VIOLATED       test_shop.py::test_naive_twice: ")
    assert rows[1].endswith("  (×2)") and not rows[0].endswith(")")
    assert rows[2].startswith("held           test_shop.py::test_hardened_holds: ")
