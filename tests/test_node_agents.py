"""The Node agents of examples/node, on the official stripe and openai npm packages, run as
commands against the world served on loopback.

Skipped only outside CI when node or the npm packages are missing (``npm ci`` in examples/node
installs them); in CI (``CI`` set) .ci/run installs both, and these tests must run.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from chaoskit import EngineSettings, command_agent, explore
from chaoskit.results import ScenarioResult
from chaoskit.scenarios import Scenario, resolve_scenario

NODE_EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "node"

_MISSING = (
    "node is not installed"
    if shutil.which("node") is None
    else "the npm packages are not installed: npm ci in examples/node"
    if not (NODE_EXAMPLES / "node_modules" / "stripe").is_dir()
    else None
)
if _MISSING and not os.environ.get("CI"):
    pytest.skip(_MISSING, allow_module_level=True)


@pytest.fixture(autouse=True)
def _node_and_its_packages() -> None:
    """In CI they must be there: say which is missing instead of judging an agent that cannot
    start."""
    if _MISSING:
        pytest.fail(f"{_MISSING} (.ci/run installs them)")


def _explore(script: str, examples: int, scenario: Scenario | None = None) -> ScenarioResult:
    # Shorter than the 1.5 s a served timeout holds its call, with room for a busy machine.
    agent = command_agent(f"node {script}", cwd=NODE_EXAMPLES, env={"REFUND_TIMEOUT_MS": "800"})
    return explore(
        scenario or resolve_scenario("refund-timeout-after-commit"),
        agent,
        agent_name=agent.name,
        config=EngineSettings(examples=examples, seed=0, wall_guard=20),
    )


def test_the_naive_node_agent_refunds_twice_after_one_timeout() -> None:
    result = _explore("naive.js", examples=15)
    assert result.status == "violated"
    example = result.counterexample
    assert example is not None
    assert [(f.kind, f.backend, f.route) for f in example.faults] == [
        ("timeout_after_commit", "payments", "POST /v1/refunds")
    ]
    violated = {v.invariant for v in example.verdicts if v.status == "violated"}
    assert {"at_most_one_effect_per_intent", "idempotency_key_stable"} <= violated
    assert len(example.ledgers["payments"]) == 2
    assert example.findings == ()


def test_the_hardened_node_agent_holds_under_the_same_timeouts() -> None:
    result = _explore("hardened.js", examples=15)
    assert result.status == "held", result.counterexample
    assert result.not_exercised == ()


def _model_misbehaviours() -> Scenario:
    """model-refund-misbehaviours without its 429s: a served 429 costs a real second of
    Retry-After each, and the in-process LLM agents already prove how they are handled."""
    scenario = resolve_scenario("model-refund-misbehaviours")
    return scenario.model_copy(
        update={
            "faults": (),
            "sometimes": tuple(s for s in scenario.sometimes if s.fault != "rate_limit"),
        }
    )


def test_the_naive_node_llm_agent_refunds_again_when_the_model_repeats_itself() -> None:
    """The openai npm client reaches the served fake model through OPENAI_BASE_URL alone."""
    result = _explore("llm_naive.js", examples=10, scenario=_model_misbehaviours())
    assert result.status == "violated"
    example = result.counterexample
    assert example is not None
    [misbehaviour] = example.faults
    assert misbehaviour.backend == "openai"
    assert misbehaviour.kind in ("repeat_write", "duplicate_call")
    violated = {v.invariant for v in example.verdicts if v.status == "violated"}
    assert violated == {"at_most_one_effect_per_intent"}
    assert example.findings == ()


def test_the_hardened_node_llm_agent_holds_when_the_model_misbehaves() -> None:
    result = _explore("llm_hardened.js", examples=10, scenario=_model_misbehaviours())
    assert result.status == "held", result.counterexample
    assert result.not_exercised == ()  # repeats, duplicates and loops all reached it
