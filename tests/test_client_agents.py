"""The refund pair on aiohttp, urllib3 and urllib.request, judged through the `chaos` fixture.

Each naive agent retries a timed-out refund with a fresh idempotency key; `chaos.check` must
fail it on `refund-timeout-after-commit` with a one-fault minimal schedule. Each hardened agent
keys the refund by its intent and must hold, its timeouts exercised. Run as a user runs it: a
test file in a project of its own (pytester), so its report stays in that project.
"""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

MODULES = ["aiohttp_refunds", "urllib3_refunds", "urllib_refunds"]

USER_TESTS = """
import pytest
from chaoskit.examples.agents import {module}


def test_{module}_naive(chaos):
    chaos.check("refund-timeout-after-commit", agent={module}.naive)


def test_{module}_hardened(chaos):
    result = chaos.check("refund-timeout-after-commit", agent={module}.hardened)
    assert result.status == "held"
    assert result.not_exercised == ()
"""


@pytest.mark.parametrize("module", MODULES)
def test_the_naive_agent_is_caught_with_one_fault_and_the_hardened_one_holds(
    pytester: pytest.Pytester, module: str
) -> None:
    pytester.makepyfile(**{f"test_{module}": USER_TESTS.format(module=module)})
    outcome = pytester.runpytest(
        "-p", "no:cacheprovider", "--chaos-examples=60", "--chaos-seed=0", "-rA"
    )
    outcome.assert_outcomes(passed=1, failed=1)
    outcome.stdout.fnmatch_lines([f"PASSED*test_{module}_hardened*"], consecutive=False)
    text = outcome.stdout.str()
    story = text[text.index(f"VIOLATED against chaoskit.examples.agents.{module}:naive") :]
    story = story[: story.index("reproduce:")]
    assert "violated: at_most_one_effect_per_intent: 2 refund.created effects" in story
    assert "violated: idempotency_key_stable" in story
    assert "minimal fault schedule (1 fault):" in story
    assert "payments POST /v1/refunds  timeout_after_commit" in story
