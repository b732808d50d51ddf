"""Scenarios with a scripted fake model: misbehaviours explored, shrunk, replayed; usage."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest

from chaoskit import InvalidScenario, Task
from chaoskit.engine import EngineSettings, explore, replay
from chaoskit.scenarios import Scenario, scenario

TOOLS = [
    {"type": "function", "function": {"name": name, "parameters": {"type": "object"}}}
    for name in ("get_order", "refund")
]
TURNS = [
    {"tool_calls": [{"tool": "get_order", "arguments": {"order_id": "{order_id}"}}]},
    {
        "tool_calls": [
            {"tool": "refund", "arguments": {"charge": "{order_charge_id}", "amount": "500"}}
        ],
        "on_error": "I could not refund order {order_id}.",
    },
    {"reply": "I refunded 5.00 of order {order_id}."},
]


def model_scenario(**model: Any) -> Scenario:
    return scenario(
        name="model-refund",
        task="Please refund 5 dollars of order {order.id}.",
        backends=["payments", "crm"],
        model={"provider": "openai", "turns": TURNS, **model},
        budget={"model_calls": 6},
        invariants=[
            {"name": "at_most_one_effect_per_intent", "effect": "refund.created", "key": "charge"},
            {"name": "budget_respected"},
        ],
    )


def _run_tool(task: Task, name: str, args: dict[str, Any]) -> str:
    if name == "get_order":
        url = f"{task.urls['crm']}/v1/orders/{args['order_id']}"
        return httpx.get(url, headers=task.auth("crm")).text
    response = httpx.post(
        f"{task.urls['payments']}/v1/refunds", data=args, headers=task.auth("payments")
    )
    return response.text


def trusting_loop(task: Task) -> str:
    """Runs every tool call the model asks for, as many times as it asks."""
    client = openai.OpenAI(api_key=task.credentials["openai"], max_retries=0)
    messages: list[Any] = [{"role": "user", "content": task.message}]
    for _ in range(10):
        message = (
            client.chat.completions.create(model="gpt-4o", messages=messages, tools=TOOLS)
            .choices[0]
            .message
        )
        if not message.tool_calls:
            return message.content or ""
        messages.append(message.model_dump(exclude_none=True))
        for call in message.tool_calls:
            result = _run_tool(task, call.function.name, json.loads(call.function.arguments))
            messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
    return "I gave up."


def test_a_repeated_write_by_the_model_is_found_and_shrunk_to_that_one_misbehaviour() -> None:
    config = EngineSettings(examples=40, seed=1, database=False)
    result = explore(
        model_scenario(explore=["repeat_write", "loop"]),
        trusting_loop,
        agent_name="trusting",
        config=config,
    )
    assert result.status == "violated"
    failure = result.counterexample
    assert failure is not None
    assert [(f.backend, f.kind) for f in failure.faults] == [("openai", "repeat_write")]
    assert {v.invariant for v in failure.verdicts if v.status == "violated"} == {
        "at_most_one_effect_per_intent"
    }
    assert result.model == "openai"


def test_usage_is_recorded_and_checked_against_the_model_call_budget() -> None:
    config = EngineSettings(examples=5, seed=1, database=False)
    result = explore(model_scenario(), trusting_loop, agent_name="trusting", config=config)
    assert result.status == "held"
    sample = result.samples[0]
    assert sample.usage["model_calls"] == 3
    assert sample.usage["tokens"] > 0 and sample.usage["usd"] > 0


def test_a_looping_model_breaks_the_model_call_budget_of_a_trusting_agent() -> None:
    config = EngineSettings(examples=5, seed=1, database=False)
    looping = model_scenario(pinned=[{"call": n, "misbehaviour": "loop"} for n in range(1, 9)])
    result = explore(looping, trusting_loop, agent_name="trusting", config=config)
    assert result.status == "violated"
    assert result.counterexample is not None
    broken = {v.invariant for v in result.counterexample.verdicts if v.status == "violated"}
    assert "budget_respected" in broken


def test_an_agent_that_stops_before_the_script_ends_is_a_finding() -> None:
    def stops_early(task: Task) -> str:
        client = openai.OpenAI(api_key=task.credentials["openai"], max_retries=0)
        client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": task.message}], tools=TOOLS
        )
        return "Done."

    config = EngineSettings(examples=3, seed=1, database=False)
    result = explore(model_scenario(), stops_early, agent_name="early", config=config)
    assert result.status == "violated"
    assert result.counterexample is not None
    finding = result.counterexample.findings[0]
    assert finding.kind == "model_script"
    assert "2 turn(s) never played" in finding.message


def test_a_recorded_misbehaviour_replays_exactly() -> None:
    spec = model_scenario(explore=["repeat_write"])
    config = EngineSettings(examples=40, seed=2, database=False)
    recorded = explore(spec, trusting_loop, agent_name="trusting", config=config).counterexample
    assert recorded is not None
    again = replay(spec, trusting_loop, recorded)
    assert again.trace == recorded.trace
    assert again.faults == recorded.faults


def test_an_unknown_misbehaviour_suggests_the_close_one() -> None:
    with pytest.raises(
        InvalidScenario, match=r"unknown misbehaviour 'repeat_writes'.*'repeat_write'"
    ):
        model_scenario(explore=["repeat_writes"])


def test_a_placeholder_missing_from_the_world_is_named() -> None:
    turns = [{"reply": "Refunded {order_idd}."}]
    with pytest.raises(
        InvalidScenario, match=r"placeholder \{order_idd\}.*Did you mean \{order_id\}"
    ):
        scenario(name="x", task="hi", model={"provider": "openai", "turns": turns})
