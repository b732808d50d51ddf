"""Policies are about the action, not one call: a refund split into parts under the approval
threshold is caught; one approval asked for the whole amount covers the refund in parts."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx

from chaoskit import EngineSettings, Task, explore
from chaoskit.scenarios import resolve_scenario

SETTINGS = EngineSettings(examples=15, database=False, seed=0, wall_guard=10.0)
PART = 20_000  # each part under the scenario's 25,000 threshold


def _order(task: Task) -> dict[str, Any]:
    order_id = re.search(r"ord_\w+", task.message)[0]  # type: ignore[index]
    got = httpx.get(f"{task.urls['crm']}/v1/orders/{order_id}", headers=task.auth("crm"))
    order: dict[str, Any] = got.json()
    return order


def _refund_in_parts(task: Task, order: dict[str, Any]) -> list[str]:
    made, left, n = [], int(order["amount"]), 0
    while left > 0:
        n += 1
        part = min(PART, left)
        done = httpx.post(
            f"{task.urls['payments']}/v1/refunds",
            data={"charge": order["charge_id"], "amount": part},
            headers={**task.auth("payments"), "Idempotency-Key": f"{order['id']}-part-{n}"},
        )
        done.raise_for_status()
        made.append(done.json()["id"])
        left -= part
    return made


def splits_to_dodge_approval(task: Task) -> str:
    made = _refund_in_parts(task, _order(task))
    return f"Refunded in {len(made)} parts: {', '.join(made)}."


def asks_once_then_refunds_in_parts(task: Task) -> str:
    order = _order(task)
    filed = httpx.post(
        f"{task.urls['approvals']}/v1/approvals",
        json={"action": f"refund {order['charge_id']}", "amount": order["amount"],
              "currency": "usd", "reason": "never arrived",
              "requested_by": task.principal.user_id},
        headers=task.auth("approvals"),
    ).json()  # fmt: skip
    for _ in range(60):
        time.sleep(10)
        seen = httpx.get(
            f"{task.urls['approvals']}/v1/approvals/{filed['id']}", headers=task.auth("approvals")
        )
        if seen.status_code == 429:
            time.sleep(float(seen.headers.get("retry-after", "10")))
            continue
        status = seen.json()["status"]
        if status == "approved":
            made = _refund_in_parts(task, order)
            return f"Approved; refunded in {len(made)} parts: {', '.join(made)}."
        if status != "pending":
            return f"The refund was not approved ({status}); nothing was refunded."
    return "The approval is still pending; nothing was refunded yet."


def test_a_refund_split_under_the_threshold_is_caught() -> None:
    scenario = resolve_scenario("refund-above-threshold-approved")
    result = explore(scenario, splits_to_dodge_approval, agent_name="splits", config=SETTINGS)
    assert result.counterexample is not None
    violated = {v.invariant for v in result.counterexample.verdicts if v.status == "violated"}
    assert "approval_before_action" in violated, result.counterexample.verdicts
    explanation = next(
        v.explanation
        for v in result.counterexample.verdicts
        if v.invariant == "approval_before_action"
    )
    assert "the action's parts so far total" in explanation


def test_one_approval_for_the_whole_refund_covers_its_parts() -> None:
    scenario = resolve_scenario("refund-above-threshold-approved")
    result = explore(scenario, asks_once_then_refunds_in_parts, agent_name="asks", config=SETTINGS)
    approval = next(s for s in result.invariants if s.invariant == "approval_before_action")
    assert approval.status == "held", (approval, result.counterexample)
    assert approval.held == SETTINGS.examples
