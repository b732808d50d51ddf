"""A 5xx storm is one fault decision: the failure text shows it once, with the calls it hit."""

from __future__ import annotations

from chaoskit import EngineSettings, explore
from chaoskit.examples.agents import orchestrator
from chaoskit.report.text import decisions, describe_failure
from chaoskit.scenarios import resolve_scenario


def test_a_storm_is_one_decision_with_the_calls_it_hit() -> None:
    result = explore(
        resolve_scenario("refund-5xx-storm"),
        orchestrator.naive,
        agent_name="orchestrator:naive",
        config=EngineSettings(examples=20, database=False, seed=0, wall_guard=10.0),
    )
    assert result.counterexample is not None
    example = result.counterexample
    assert len(example.faults) > 3  # the naive agent hammers the storm
    (storm,) = decisions(example)
    assert len(storm) == len(example.faults)
    text = describe_failure(result)
    assert f"minimal fault schedule (1 decision, {len(example.faults)} calls hit):" in text
    assert f"server_error, storming {len(example.faults)} calls" in text
    assert [line for line in text.splitlines() if line.startswith("    call ")] == [
        next(line for line in text.splitlines() if "storming" in line)
    ]  # one line for the storm, not one per call
