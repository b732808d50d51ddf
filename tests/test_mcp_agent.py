"""The MCP refund agent: a tool error read as "nothing happened" refunds twice.

Both agents reach the fakes only through chaoskit's MCP server; the built-in scenario
``refund-timeout-after-commit`` must catch the naive one and pass the hardened one.
Skipped only outside CI when ``mcp`` is missing; in CI (``CI`` set) the import must work.
"""

from __future__ import annotations

import os

import pytest

if not os.environ.get("CI"):
    pytest.importorskip("mcp", reason="the 'mcp' extra is not installed")

from chaoskit.engine import EngineSettings, explore
from chaoskit.examples.agents import mcp_agent
from chaoskit.results import ScenarioResult
from chaoskit.scenarios import Scenario, resolve_scenario

FAST = EngineSettings(examples=40, seed=0, database=False)


@pytest.fixture(scope="module")
def timeout_on_refund() -> Scenario:
    """The built-in scenario: Hypothesis explores timeouts after commit on the refund."""
    return resolve_scenario("refund-timeout-after-commit")


def refunds_made(result: ScenarioResult) -> list[int]:
    examples = [result.counterexample] if result.counterexample else result.samples
    return [
        sum(e.kind == "refund.created" for e in example.ledgers["payments"]) for example in examples
    ]


def test_retrying_a_failed_refund_tool_without_a_key_refunds_twice_after_one_timeout(
    timeout_on_refund: Scenario,
) -> None:
    result = explore(timeout_on_refund, mcp_agent.naive, agent_name="naive", config=FAST)
    assert result.status == "violated", result.error
    failure = result.counterexample
    assert failure is not None
    assert failure.findings == ()
    violated = [v.invariant for v in failure.verdicts if v.status == "violated"]
    assert "at_most_one_effect_per_intent" in violated
    assert [(f.backend, f.route, f.kind) for f in failure.faults] == [
        ("payments", "POST /v1/refunds", "timeout_after_commit")
    ]
    assert refunds_made(result) == [2]
    assert failure.reply is not None and failure.reply.claims[0].status == "done"


def test_a_key_derived_from_the_intent_makes_every_retry_the_same_refund(
    timeout_on_refund: Scenario,
) -> None:
    result = explore(timeout_on_refund, mcp_agent.hardened, agent_name="hardened", config=FAST)
    assert result.status == "held", (result.error, result.not_exercised)
    assert result.coverage.faults["payments: POST /v1/refunds"]["timeout_after_commit"] > 0
    assert result.coverage.sometimes["the timeout hit the refund"] > 0
    assert set(refunds_made(result)) == {1}
