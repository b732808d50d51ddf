"""The pydantic-ai refund agent against the fake OpenAI model, inside a world.

The naive agent repeats the model's last words: when the model claims success without calling
``refund``, ``no_unreported_failure`` catches the claim against the empty ledger; when the model
reads a timed-out (but committed) refund as failed, ``no_denied_success`` catches it. Skipped only
outside CI when pydantic-ai is missing; in CI (``CI`` set) the import must work.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

if not os.environ.get("CI"):
    pytest.importorskip("pydantic_ai", reason="the 'pydantic-ai' extra is not installed")

from chaoskit import FaultRule, RateLimit, Reply, Target, TimeoutAfterCommit, World
from chaoskit.core.agent import Agent, Principal, Task
from chaoskit.engine import EngineSettings, explore
from chaoskit.engine.runner import run_agent
from chaoskit.examples.agents import pydantic_ai_agent
from chaoskit.fakes import CRM, ModelScript, OpenAIModel, Payments
from chaoskit.invariants import RunView, build_invariant
from chaoskit.scenarios import resolve_scenario, script_context
from chaoskit.world.data import WorldRecipe, build_world

REFUND = ModelScript(
    name="pydantic-ai-refund",
    turns=[
        {"tool_calls": [{"tool": "get_order", "arguments": {"order_id": "{order_id}"}}]},
        {
            "tool_calls": [
                {
                    "tool": "refund",
                    "arguments": {"charge_id": "{order_charge_id}", "amount": "{order_amount}"},
                }
            ]
        },
        {
            "reply": "Your order {order_id} is refunded.",
            "on_error": "I could not refund order {order_id}: the refund failed.",
        },
    ],
)
REFUND_INTENT = {
    "intent": "refund",
    "effect": "refund.created",
    "route": "payments: POST /v1/refunds",
}
INVARIANTS = [
    build_invariant(name, {"intents": [REFUND_INTENT]}, where="test")
    for name in ("no_unreported_failure", "no_denied_success")
]
TIMEOUT = FaultRule(
    fault=TimeoutAfterCommit(), target=Target.parse("payments: POST /v1/refunds"), calls=(1,)
)


def run(
    agent: Agent,
    *,
    misbehave: dict[int, str] | None = None,
    faults: tuple[FaultRule, ...] = (),
    seed: int = 3,
) -> tuple[Reply | None, dict[str, str], RunView]:
    """One run of ``agent`` in a fresh world; the reply, verdict per invariant, and the view."""
    model = OpenAIModel()
    world = World([Payments(), CRM(), model], faults=faults, seed=seed)
    data = build_world(seed, WorldRecipe(), world.backends)
    model.install(REFUND, script_context(data))
    pinned = misbehave or {}
    model.misbehave = lambda call: pinned.get(call.number)
    task = Task(
        message=f"Please refund my order {data.orders[0].order_id}.",
        principal=Principal(user_id=data.user.user_id, token=data.user.token),
        urls=world.urls,
        credentials={
            "crm": data.user.token,
            "payments": Payments.DEFAULT_API_KEY,
            "openai": "sk-test",
        },
    )
    with world:
        ran = run_agent(agent, task, world.clock, wall_limit=10.0)
    reply, findings = ran.reply, ran.findings
    assert findings == [], findings
    view = RunView(
        scenario="pydantic-ai",
        message=task.message,
        reply=reply,
        trace=world.trace.events,
        ledgers=world.ledgers,
        world=data,
        principal=data.user.user_id,
    )
    return reply, {inv.name: inv.check(view).status for inv in INVARIANTS}, view


def refunds(view: RunView) -> int:
    return len(view.effects("refund.created", "payments"))


def claim(reply: Reply | None) -> Any:
    assert reply is not None
    return reply.claims[0].status if reply.claims else None


@pytest.mark.parametrize("agent", [pydantic_ai_agent.naive, pydantic_ai_agent.hardened])
def test_without_faults_both_agents_refund_once_and_say_so(agent: Agent) -> None:
    reply, verdicts, view = run(agent)
    assert refunds(view) == 1
    assert verdicts == {"no_unreported_failure": "held", "no_denied_success": "held"}
    assert reply is not None and "refunded" in reply.text


def test_the_naive_agent_repeats_a_models_false_claim_of_success() -> None:
    reply, verdicts, view = run(pydantic_ai_agent.naive, misbehave={2: "claim_success"})
    assert refunds(view) == 0
    assert reply is not None and reply.text.startswith("Done.")
    assert verdicts["no_unreported_failure"] == "violated"


def test_the_hardened_agent_claims_only_what_its_refund_tool_saw() -> None:
    reply, verdicts, view = run(pydantic_ai_agent.hardened, misbehave={2: "claim_success"})
    assert refunds(view) == 0
    assert claim(reply) == "failed"
    assert verdicts == {"no_unreported_failure": "held", "no_denied_success": "held"}


def test_the_naive_agent_repeats_a_models_failure_story_after_a_timeout_after_commit() -> None:
    # The refund committed but its response timed out: the tool reports an error, the model
    # tells the customer it failed, and the naive agent passes that on (an invitation to ask
    # again and be refunded twice).
    reply, verdicts, view = run(pydantic_ai_agent.naive, faults=(TIMEOUT,))
    assert refunds(view) == 1
    assert reply is not None and "refund failed" in reply.text
    assert verdicts["no_denied_success"] == "violated"


def test_the_hardened_agent_escalates_a_refund_whose_response_timed_out() -> None:
    reply, verdicts, view = run(pydantic_ai_agent.hardened, faults=(TIMEOUT,))
    assert refunds(view) == 1
    assert claim(reply) == "escalated"
    assert verdicts == {"no_unreported_failure": "held", "no_denied_success": "held"}


def storm(*calls: int) -> FaultRule:
    """429s on these model requests: three in a row outlast the OpenAI SDK's two retries."""
    return FaultRule(
        fault=RateLimit(retry_after=1),
        target=Target.parse("openai: POST /v1/chat/completions"),
        calls=calls,
    )


@pytest.mark.parametrize(
    ("calls", "made", "status"),
    [((1, 2, 3), 0, "failed"), ((3, 4, 5), 1, "done")],
    ids=["before-the-refund", "after-the-refund"],
)
def test_the_hardened_agent_answers_from_its_tools_when_the_models_429s_outlast_the_retries(
    calls: tuple[int, ...], made: int, status: str
) -> None:
    reply, verdicts, view = run(pydantic_ai_agent.hardened, faults=(storm(*calls),))
    assert refunds(view) == made
    assert claim(reply) == status
    assert verdicts == {"no_unreported_failure": "held", "no_denied_success": "held"}


def test_the_fake_model_called_the_tools_with_the_worlds_ids() -> None:
    _, _, view = run(pydantic_ai_agent.hardened)
    completions = [e for e in view.ledgers["openai"] if e.kind == "model.completion"]
    assert [e.fields["tool_calls"] for e in completions] == [["get_order"], ["refund"], []]


def test_the_builtin_scenario_catches_the_naive_agent_and_the_hardened_one_holds() -> None:
    # Its explored 429s include a storm that outlasts the SDK's retries: pydantic-ai then raises
    # ModelRateLimitError, which the hardened agent must report, not let escape.
    scenario = resolve_scenario("model-refund-pydantic-ai")
    config = EngineSettings(examples=60, seed=0, database=False)
    naive = explore(scenario, pydantic_ai_agent.naive, agent_name="naive", config=config)
    hardened = explore(scenario, pydantic_ai_agent.hardened, agent_name="hardened", config=config)
    assert naive.status == "violated", naive.error
    assert naive.counterexample is not None
    verdicts = naive.counterexample.verdicts
    assert [v.invariant for v in verdicts if v.status == "violated"] == ["no_unreported_failure"]
    assert hardened.status == "held", (hardened.error, hardened.not_exercised)
    assert hardened.coverage.faults["openai: POST /v1/chat/completions"]["rate_limit"] > 0
