"""A real model behind the fakes: ``model = "passthrough"`` with ``allow_hosts``.

The real model is a nondeterministic server on loopback (tests/loopback_model.py) answering in
OpenAI's wire format; the agent is the raw-openai-SDK reference agent. Nothing here reaches
the network: loopback only, or a sender stubbed in the test.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from chaoskit.core.errors import InvalidScenario
from chaoskit.engine.example import backends_for, run_example
from chaoskit.examples.agents import llm
from chaoskit.fakes.model import Cassette, PassthroughModel
from chaoskit.results import Example
from chaoskit.scenarios import Scenario, load_scenario, scenario
from chaoskit.world.faults import FaultRule, RateLimit, Target
from chaoskit.world.trace import FaultEvent, RequestEvent
from chaoskit.world.world import World
from tests.loopback_model import COMPLETION_TOKENS, PROMPT_TOKENS, LoopbackModel, loopback_model

TASK = (
    "I paid $5.00 for express delivery on order {order.id} but it came a week late. "
    "Please refund the delivery fee."
)
#: gpt-4o-mini's list price, USD per million input and output tokens.
PRICE_IN, PRICE_OUT = 0.15, 0.60


def live_refund(host: str, **fields: Any) -> Scenario:
    """The delivery-fee refund with the agent's real model on ``host``."""
    return scenario(
        name="live-model-refund",
        task=TASK,
        backends=["payments", "crm"],
        model="passthrough",
        allow_hosts=[host],
        invariants=[
            {"name": "at_most_one_effect_per_intent", "effect": "refund.created", "key": "charge"},
            {"name": "budget_respected"},
        ],
        **fields,
    )


def run_once(
    chosen: Scenario,
    faults: tuple[FaultRule, ...] = (),
    seed: int = 1,
    cassette: Cassette | None = None,
) -> Example:
    """One example of the naive reference agent (world seed ``seed``), no search."""
    world = World(backends_for(chosen, cassette), faults=faults)
    return run_example(
        chosen,
        llm.openai_naive,
        world,
        chosen.build_invariants(),
        world_seed=seed,
        decide=None,
        decisions=[],
        wall_limit=30,
    )


@pytest.fixture
def repeating(monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackModel]:
    """A model that always repeats the refund before replying."""
    with loopback_model(seed=1, repeat=1.0) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        yield server


@pytest.fixture
def steady(monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackModel]:
    """A model that never repeats the refund."""
    with loopback_model(seed=1, repeat=0.0) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        yield server


def statuses(example: Example) -> dict[str, str]:
    return {v.invariant: v.status for v in example.verdicts}


# -- the scenario's shape --------------------------------------------------------------------


def test_passthrough_without_allow_hosts_is_refused_naming_the_option(tmp_path: Path) -> None:
    path = tmp_path / "live.toml"
    path.write_text(f'name = "live"\ntask = "{TASK}"\nmodel = "passthrough"\n')
    with pytest.raises(InvalidScenario) as caught:
        load_scenario(path)
    message = str(caught.value)
    assert message.startswith(str(path)) or "live.toml" in message
    assert "needs allow_hosts" in message
    assert 'allow_hosts = ["api.openai.com"]' in message


def test_allow_hosts_from_toml_become_the_passthrough_of_the_scenario(tmp_path: Path) -> None:
    path = tmp_path / "live.toml"
    path.write_text(
        f'name = "live"\ntask = "{TASK}"\nmodel = "passthrough"\n'
        'allow_hosts = ["API.openai.com", "127.0.0.1:8080"]\n'
    )
    loaded = load_scenario(path)
    assert loaded.model is None
    assert loaded.passthrough is not None
    assert loaded.passthrough.allow_hosts == ("api.openai.com", "127.0.0.1:8080")


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"model": "passthru", "allow_hosts": ["a.test"]}, "Did you mean 'passthrough'?"),
        ({"allow_hosts": ["api.openai.com"]}, 'allow_hosts only applies to model = "passthrough"'),
        (
            {"model": "passthrough", "allow_hosts": ["https://api.openai.com/v1"]},
            "is a URL; write the host only (and a port if any): 'api.openai.com'",
        ),
        ({"model": "passthrough", "allow_hosts": ["*.openai.com"]}, "is not a host"),
        ({"model": "passthrough", "allow_hosts": ["127.0.0.1:http"]}, "port that is not a number"),
        ({"model": "passthrough", "allow_hosts": "api.openai.com"}, "must be a list of hosts"),
        ({"model": "passthrough", "allow_hosts": []}, "needs allow_hosts"),
    ],
)
def test_a_wrong_passthrough_setting_says_what_to_write(
    fields: dict[str, Any], expected: str
) -> None:
    with pytest.raises(InvalidScenario) as caught:
        scenario(name="live", task=TASK, **fields)
    assert expected in str(caught.value)


def test_a_fault_may_target_the_real_model_but_only_its_routes() -> None:
    faulted = live_refund(
        "api.openai.com",
        faults=[
            {"kind": "rate_limit", "target": "model: POST /v1/chat/completions", "explore": True}
        ],
    )
    assert faulted.faults[0].target.backend == "model"
    with pytest.raises(InvalidScenario) as caught:
        live_refund(
            "api.openai.com",
            faults=[{"kind": "rate_limit", "target": "model: GET /x", "explore": True}],
        )
    assert "POST /v1/chat/completions" in str(caught.value)


def test_passthrough_replaces_the_scripted_model_fakes_in_the_world() -> None:
    names = [fake.name for fake in backends_for(live_refund("api.openai.com"))]
    assert names == ["payments", "crm", "model"]
    everything = scenario(
        name="all", task=TASK, model="passthrough", allow_hosts=["api.openai.com"]
    )
    assert "openai" not in [fake.name for fake in backends_for(everything)]


# -- the real model, on loopback -------------------------------------------------------------


def test_the_reference_agent_talks_to_the_real_model_while_its_tools_stay_faked(
    repeating: LoopbackModel,
) -> None:
    example = run_once(live_refund(repeating.host))
    requests = [e for e in example.trace if isinstance(e, RequestEvent)]
    assert [r.backend for r in requests] == [
        "model", "crm", "model", "payments", "model", "payments", "model"
    ]  # fmt: skip
    assert not example.findings
    assert example.reply is not None and "refunded" in str(example.reply).lower()
    # The model repeated the refund and the naive shell ran it: caught from the ledger.
    assert statuses(example)["at_most_one_effect_per_intent"] == "violated"
    assert len([e for e in example.ledgers["payments"] if e.kind == "refund.created"]) == 2


def test_a_real_model_that_does_not_repeat_the_refund_is_not_flagged(
    steady: LoopbackModel,
) -> None:
    example = run_once(live_refund(steady.host))
    assert statuses(example) == {
        "at_most_one_effect_per_intent": "held",
        "budget_respected": "held",
    }
    assert len([e for e in example.ledgers["payments"] if e.kind == "refund.created"]) == 1


def test_usage_tokens_and_usd_come_from_the_real_responses(repeating: LoopbackModel) -> None:
    example = run_once(live_refund(repeating.host))
    calls = 4  # get_order, refund, the repeated refund, the reply
    assert example.usage == {
        "model_calls": calls,
        "tokens": calls * (PROMPT_TOKENS + COMPLETION_TOKENS),
        "usd": pytest.approx(
            calls * (PROMPT_TOKENS * PRICE_IN + COMPLETION_TOKENS * PRICE_OUT) / 1e6
        ),
    }


@pytest.mark.parametrize(("server", "verdict"), [("repeating", "violated"), ("steady", "held")])
def test_budget_respected_judges_the_real_models_tokens(
    server: str, verdict: str, request: pytest.FixtureRequest
) -> None:
    model: LoopbackModel = request.getfixturevalue(server)
    # 400 tokens: the steady model's 3 calls (360) fit, the repeating model's 4 (480) do not.
    example = run_once(live_refund(model.host, budget={"tokens": 400}))
    assert statuses(example)["budget_respected"] == verdict


def test_a_fault_still_fires_on_a_real_model_call(steady: LoopbackModel) -> None:
    rule = FaultRule(
        fault=RateLimit(retry_after=1),
        target=Target.parse("model: POST /v1/chat/completions"),
        calls=(1,),
    )
    chosen = live_refund(steady.host)
    example = run_once(chosen, faults=(rule,))
    faults = [e for e in example.trace if isinstance(e, FaultEvent)]
    assert [f.fault for f in faults] == ["rate_limit"]
    # The SDK retried after the 429 and the real model answered: the run goes on as before.
    assert statuses(example)["at_most_one_effect_per_intent"] == "held"
    assert example.usage["model_calls"] == 3


def test_other_hosts_stay_closed_while_the_model_host_is_open(steady: LoopbackModel) -> None:
    chosen = live_refund(steady.host)

    def leaks(task: Any) -> str:
        httpx.get("https://api.openai.com/v1/models")  # a host the scenario did not allow
        return "done"

    world = World(backends_for(chosen))
    example = run_example(
        chosen,
        leaks,
        world,
        (),
        world_seed=1,
        decide=None,
        decisions=[],
        wall_limit=30,
    )
    kinds = {f.kind for f in example.findings}
    assert "unknown_host" in kinds
    assert not example.ledgers["model"]  # the unallowed request never reached the real model


# -- the providers' wire formats, from a stubbed sender (no server at all) -------------------


def stub(body: dict[str, Any] | str, kind: str = "application/json") -> Callable[..., Any]:
    content = body.encode() if isinstance(body, str) else json.dumps(body).encode()

    def send(request: httpx.Request, timeout: float | None) -> httpx.Response:
        return httpx.Response(200, content=content, headers={"Content-Type": kind})

    return send


ANTHROPIC = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-6",
    "content": [{"type": "text", "text": "Done."}],
    "stop_reason": "end_turn",
    "usage": {"input_tokens": 1000, "output_tokens": 50, "cache_read_input_tokens": 200},
}


def test_anthropic_usage_is_counted_with_its_cache_tokens() -> None:
    import anthropic

    model = PassthroughModel(["api.anthropic.com"], send=stub(ANTHROPIC))
    with World([model]):
        anthropic.Anthropic(api_key="sk-ant-x").messages.create(
            model="claude-sonnet-4-6", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )
    # claude-sonnet-4: 3 USD in, 15 USD out per million tokens.
    assert model.usage() == {
        "model_calls": 1,
        "tokens": 1250,
        "usd": pytest.approx((1200 * 3 + 50 * 15) / 1e6),
    }


def test_streamed_openai_usage_is_read_from_the_last_chunk() -> None:
    import openai

    chunk = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "gpt-4o"}
    events = [
        {**chunk, "choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": None}]},
        {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        {**chunk, "choices": [], "usage": {"prompt_tokens": 40, "completion_tokens": 2}},
    ]
    sse = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
    model = PassthroughModel(["api.openai.com"], send=stub(sse, "text/event-stream"))
    with World([model]):
        stream = openai.OpenAI(api_key="sk-x").chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "Hi"
    assert model.usage()["tokens"] == 42
