"""The LangGraph refund agent: LangGraph's default node retry refunds twice with fresh keys.

Skipped only outside CI when LangGraph is missing; in CI (``CI`` set) the import must work.
"""

from __future__ import annotations

import os

import pytest

if not os.environ.get("CI"):
    pytest.importorskip("langgraph", reason="the 'langgraph' extra is not installed")

from langgraph.types import RetryPolicy

from chaoskit.engine import EngineSettings, explore
from chaoskit.examples.agents import langgraph_agent
from chaoskit.results import ScenarioResult
from chaoskit.scenarios import Scenario, resolve_scenario

FAST = EngineSettings(examples=40, database=False, seed=0, wall_guard=10.0)


@pytest.fixture(scope="module")
def timeout_on_first_refund() -> Scenario:
    """The built-in scenario: Hypothesis explores timeouts after commit on the refund."""
    return resolve_scenario("refund-timeout-after-commit")


def refunds_made(result: ScenarioResult) -> list[int]:
    examples = [result.counterexample] if result.counterexample else result.samples
    return [
        sum(e.kind == "refund.created" for e in example.ledgers["payments"])
        for example in examples
        if example is not None
    ]


def test_langgraphs_default_retry_on_retries_an_httpx_timeout() -> None:
    # The premise of the naive agent, checked against the installed LangGraph.
    import httpx

    retry_on = RetryPolicy().retry_on
    assert callable(retry_on) and not isinstance(retry_on, type)
    request = httpx.Request("POST", "https://api.stripe.com/v1/refunds")
    assert retry_on(httpx.ReadTimeout("timed out", request=request))
    assert RetryPolicy().max_attempts == 3


def test_a_fresh_key_per_node_run_refunds_twice_when_the_first_refund_times_out(
    timeout_on_first_refund: Scenario,
) -> None:
    result = explore(
        timeout_on_first_refund, langgraph_agent.naive, agent_name="naive", config=FAST
    )
    assert result.status == "violated", result.error
    failure = result.counterexample
    assert failure is not None
    violated = [v.invariant for v in failure.verdicts if v.status == "violated"]
    assert violated[:2] == ["at_most_one_effect_per_intent", "idempotency_key_stable"]
    assert refunds_made(result) == [2]
    assert [(f.route, f.kind) for f in failure.faults] == [
        ("POST /v1/refunds", "timeout_after_commit")
    ]
    assert failure.reply is not None and failure.reply.claims[0].status == "done"


def test_a_key_derived_from_the_node_input_makes_the_retry_the_same_refund(
    timeout_on_first_refund: Scenario,
) -> None:
    result = explore(
        timeout_on_first_refund, langgraph_agent.hardened, agent_name="hardened", config=FAST
    )
    assert result.status == "held", (result.error, result.not_exercised)
    assert result.coverage.faults["payments: POST /v1/refunds"]["timeout_after_commit"] > 0
    assert set(refunds_made(result)) == {1}
