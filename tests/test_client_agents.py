"""The refund pair on aiohttp, urllib3 and urllib.request, judged through the `chaos` fixture.

Each naive agent retries a timed-out refund with a fresh idempotency key; `chaos.check` must
fail it on `refund-timeout-after-commit` with a one-fault minimal schedule. Each hardened agent
keys the refund by its intent and must hold, its timeouts exercised.
"""

from __future__ import annotations

import importlib

import pytest

from chaoskit.testing import Chaos

MODULES = ["aiohttp_refunds", "urllib3_refunds", "urllib_refunds"]
SCENARIO = "refund-timeout-after-commit"


def _agent(module: str, variant: str) -> object:
    return getattr(importlib.import_module(f"chaoskit.examples.agents.{module}"), variant)


@pytest.mark.parametrize("module", MODULES)
def test_the_naive_agent_is_caught_with_a_one_fault_schedule(chaos: Chaos, module: str) -> None:
    with pytest.raises(pytest.fail.Exception) as failed:
        chaos.check(SCENARIO, agent=_agent(module, "naive"), examples=60)
    story = str(failed.value)
    assert f"chaoskit: scenario '{SCENARIO}' VIOLATED" in story
    assert "violated: at_most_one_effect_per_intent: 2 refund.created effects" in story
    assert "violated: idempotency_key_stable" in story
    assert "minimal fault schedule (1 fault):" in story
    assert "payments POST /v1/refunds  timeout_after_commit" in story


@pytest.mark.parametrize("module", MODULES)
def test_the_hardened_agent_holds_with_its_timeouts_exercised(chaos: Chaos, module: str) -> None:
    result = chaos.check(SCENARIO, agent=_agent(module, "hardened"), examples=60)
    assert result.status == "held"
    assert result.not_exercised == ()
