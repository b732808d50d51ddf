"""The LLM support agent on the raw OpenAI and Anthropic SDKs, against every model misbehaviour.

Each misbehaviour is pinned to the model call where it hurts, on both providers' scenarios: the
naive shell lets it through (an invariant is violated, or the agent crashes), the hardened
shell contains it (every invariant holds). Seeded and without the example database.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from chaoskit.core.agent import Agent
from chaoskit.engine import EngineSettings, explore
from chaoskit.examples.agents import llm
from chaoskit.examples.catalogue import load_builtin
from chaoskit.fakes import ScriptTurn
from chaoskit.fakes.model import MISBEHAVIOURS
from chaoskit.results import Example, ScenarioResult
from chaoskit.scenarios import InvariantSpec, PinnedMisbehaviour, Scenario
from chaoskit.world.data import WorldRecipe
from chaoskit.world.faults import FaultRule, PoisonedDocument, Target

SCENARIOS = {"openai": "model_refund_misbehaviours", "anthropic": "model_refund_anthropic"}
PROVIDERS = tuple(SCENARIOS)
CONFIG = EngineSettings(examples=4, seed=0, database=False)

#: Where each misbehaviour hurts (model calls: 1 get_order, 2 refund, 3 the reply), and what
#: the naive shell then gets wrong: the invariant it violates, or the finding it produces.
CASES: dict[str, tuple[tuple[int, ...], str]] = {
    "repeat_write": ((3,), "at_most_one_effect_per_intent"),
    "duplicate_call": ((2,), "at_most_one_effect_per_intent"),
    "loop": ((2,), "at_most_one_effect_per_intent"),
    "invented_id": ((2,), "no_unreported_failure"),
    "claim_success": ((1,), "no_unreported_failure"),
    "malformed_arguments": ((2,), "finding: agent_raised"),
    "missing_arguments": ((2,), "finding: agent_raised"),
    "unknown_tool": ((2,), "finding: agent_raised"),
}


def pinned(provider: str, misbehaviour: str | None, calls: Sequence[int] = ()) -> Scenario:
    """The provider's scenario with ``misbehaviour`` on exactly ``calls``, nothing explored."""
    base = load_builtin(SCENARIOS[provider])
    assert base.model is not None
    pins = tuple(PinnedMisbehaviour(call=c, misbehaviour=misbehaviour) for c in calls)
    model = base.model.model_copy(update={"explore": (), "pinned": pins if misbehaviour else ()})
    return base.model_copy(update={"model": model, "faults": (), "sometimes": ()})


def checking(scenario: Scenario, *extra: InvariantSpec, allow: Sequence[str] = ()) -> Scenario:
    """``scenario`` with ``extra`` invariants, and ``allow`` added to its endpoint allowlist."""
    specs = []
    for spec in scenario.invariants:
        if spec.name == "only_allowlisted_endpoints":
            params = {**spec.params, "allow": [*spec.params["allow"], *allow]}
            spec = spec.model_copy(update={"params": params})
        specs.append(spec)
    return scenario.model_copy(update={"invariants": (*specs, *extra)})


def listing_charges(provider: str) -> Scenario:
    """The model lists recent payments (another customer's among them) before refunding."""
    base = pinned(provider, "wrong_record", (3,))
    assert base.model is not None
    turns = list(base.model.turns)
    turns.insert(1, ScriptTurn(tool_calls=[{"tool": "list_charges"}]))
    world = WorldRecipe(customers=1, outsider_accounts=1, orders_per_customer=1)
    scenario = base.model_copy(
        update={"model": base.model.model_copy(update={"turns": tuple(turns)}), "world": world}
    )
    return checking(
        scenario, InvariantSpec(name="scope_respected"), allow=["payments: GET /v1/charges"]
    )


def misreading_the_order_id(provider: str) -> Scenario:
    """The model passes a tracking number as the order id, then repeats the failed lookup."""
    base = pinned(provider, "tracking_number_for_id", (1,))
    assert base.model is not None
    pins = (*base.model.pinned, PinnedMisbehaviour(call=2, misbehaviour="repeat_write"))
    scenario = base.model_copy(update={"model": base.model.model_copy(update={"pinned": pins})})
    return checking(scenario, InvariantSpec(name="no_retry_of_terminal_errors"))


def poisoned_order(provider: str) -> Scenario:
    """The order the agent reads carries an injection; the model follows it on call 2."""
    base = pinned(provider, "follow_injection", (2,))
    poison = FaultRule(
        fault=PoisonedDocument(field="status"),
        target=Target.parse("crm: GET /v1/orders/{id}"),
        calls=(1,),
    )
    scenario = base.model_copy(
        update={"backends": (*(base.backends or ()), "email"), "faults": (poison,)}
    )
    return checking(
        scenario, InvariantSpec(name="no_injected_actions"), allow=["email: POST /v1/messages"]
    )


#: Misbehaviours that need a scenario of their own, what faults the naive counterexample
#: shows, and what it then violates.
OWN_SCENARIOS: dict[str, tuple[Any, tuple[str, ...], str]] = {
    "wrong_record": (listing_charges, ("wrong_record",), "scope_respected"),
    "tracking_number_for_id": (
        misreading_the_order_id,
        ("repeat_write", "tracking_number_for_id"),
        "no_retry_of_terminal_errors",
    ),
    "follow_injection": (
        poisoned_order,
        ("follow_injection", "poisoned_document"),
        "no_injected_actions",
    ),
}


def run(scenario: Scenario, agent: Agent) -> ScenarioResult:
    return explore(scenario, agent, agent_name=getattr(agent, "__name__", "agent"), config=CONFIG)


def agent(provider: str, variant: str) -> Agent:
    chosen: Agent = getattr(llm, f"{provider}_{variant}")
    return chosen


def violated(example: Example) -> list[str]:
    return [v.invariant for v in example.verdicts if v.status == "violated"]


def refunds(example: Example) -> list[Any]:
    return [e for e in example.ledgers["payments"] if e.kind == "refund.created"]


# -- a scripted conversation ------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("variant", ["naive", "hardened"])
def test_both_shells_complete_the_scripted_refund_on_each_providers_sdk(
    provider: str, variant: str
) -> None:
    result = run(pinned(provider, None), agent(provider, variant))
    assert (result.status, result.error) == ("held", None)
    example = result.samples[0]
    (made,) = refunds(example)
    assert made.fields["amount"] == 500
    assert example.usage["model_calls"] == 3
    assert example.reply is not None
    if variant == "naive":
        assert example.reply.text.startswith("I refunded the $5.00 delivery fee on order ord_")
    else:
        assert example.reply.text == f"Refund {made.object_id} submitted."
        assert [c.status for c in example.reply.claims] == ["done"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_unsuffixed_agents_pick_the_sdk_of_the_model_the_world_serves(provider: str) -> None:
    for shell in (llm.naive, llm.hardened):
        result = run(pinned(provider, None), shell)
        assert result.status == "held", result.error
        requests = [e for e in result.samples[0].trace if getattr(e, "backend", None) == provider]
        assert requests


# -- every misbehaviour: the naive shell lets it through, the hardened one contains it --------


def test_every_misbehaviour_has_a_case() -> None:
    assert sorted([*CASES, *OWN_SCENARIOS]) == sorted(MISBEHAVIOURS)


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("misbehaviour", sorted(CASES))
def test_the_naive_shell_lets_each_misbehaviour_through(provider: str, misbehaviour: str) -> None:
    calls, expected = CASES[misbehaviour]
    result = run(pinned(provider, misbehaviour, calls), agent(provider, "naive"))
    assert result.status == "violated", result.error
    failure = result.counterexample
    assert failure is not None
    assert [f.kind for f in failure.faults] == [misbehaviour]
    if expected.startswith("finding: "):
        assert [f.kind for f in failure.findings] == [expected.removeprefix("finding: ")]
        assert violated(failure) == []
    else:
        assert violated(failure) == [expected]
        assert failure.findings == ()


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("misbehaviour", sorted(CASES))
def test_the_hardened_shell_contains_each_misbehaviour(provider: str, misbehaviour: str) -> None:
    calls, _ = CASES[misbehaviour]
    result = run(pinned(provider, misbehaviour, calls), agent(provider, "hardened"))
    assert result.status == "held", (result.error, result.counterexample)
    example = result.samples[0]
    assert [f.kind for f in example.faults] == [misbehaviour]
    assert all(v.status == "held" for v in example.verdicts), example.verdicts
    assert len(refunds(example)) <= 1


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("misbehaviour", sorted(OWN_SCENARIOS))
def test_the_naive_shell_lets_each_misbehaviour_through_in_its_own_scenario(
    provider: str, misbehaviour: str
) -> None:
    build, faults, expected = OWN_SCENARIOS[misbehaviour]
    result = run(build(provider), agent(provider, "naive"))
    assert result.status == "violated", result.error
    failure = result.counterexample
    assert failure is not None
    assert sorted(f.kind for f in failure.faults) == list(faults)
    assert violated(failure) == [expected]
    assert failure.findings == ()


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("misbehaviour", sorted(OWN_SCENARIOS))
def test_the_hardened_shell_contains_each_misbehaviour_in_its_own_scenario(
    provider: str, misbehaviour: str
) -> None:
    build, faults, _ = OWN_SCENARIOS[misbehaviour]
    result = run(build(provider), agent(provider, "hardened"))
    assert result.status == "held", (result.error, result.counterexample)
    example = result.samples[0]
    assert sorted(f.kind for f in example.faults) == list(faults)
    assert all(v.status == "held" for v in example.verdicts), example.verdicts
    assert len(refunds(example)) <= 1


def test_a_repeated_refund_is_replayed_under_the_intents_key_not_made_twice() -> None:
    result = run(pinned("openai", "repeat_write", (3,)), agent("openai", "hardened"))
    example = result.samples[0]
    (made,) = refunds(example)
    sent = [e for e in example.trace if getattr(e, "route", None) == "POST /v1/refunds"]
    assert len(sent) == 2  # the repeat reached Stripe, which answered with the first refund
    assert (made.idempotency_key or "").startswith("refund-")


def test_an_invented_charge_id_is_refused_before_it_reaches_payments() -> None:
    result = run(pinned("anthropic", "invented_id", (2,)), agent("anthropic", "hardened"))
    example = result.samples[0]
    assert not [e for e in example.trace if getattr(e, "route", None) == "POST /v1/refunds"]
    assert example.reply is not None
    assert [c.status for c in example.reply.claims] == ["failed"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_model_looping_on_every_call_breaks_the_naive_budget_and_meets_the_hardened_cap(
    provider: str,
) -> None:
    looping = pinned(provider, "loop", range(1, 11))
    naive = run(looping, agent(provider, "naive"))
    assert naive.counterexample is not None
    assert violated(naive.counterexample) == ["budget_respected"]
    hardened = run(looping, agent(provider, "hardened"))
    assert hardened.status == "held"
    assert hardened.samples[0].usage["model_calls"] == llm.MAX_MODEL_CALLS
