"""Scope is judged on what an agent reads or changes, not on what it searches for: looking up,
with the user's own token, the address the user typed reads nothing out of scope."""

from __future__ import annotations

import re

import httpx

from chaoskit import EngineSettings, Task, explore
from chaoskit.scenarios import resolve_scenario

SETTINGS = EngineSettings(examples=10, database=False, seed=0, wall_guard=10.0)


def _email(task: Task) -> str:
    return re.search(r"[\w.+-]+@[\w.-]+", task.message)[0]  # type: ignore[index]


def searches_with_the_users_token(task: Task) -> str:
    found = httpx.get(
        f"{task.urls['crm']}/v1/search", params={"q": _email(task)}, headers=task.auth("crm")
    )
    if found.is_success and found.json().get("data"):
        return "I found the account, but refunds for it are not mine to make."
    return "I could not find that customer among your accounts, so I did not refund anything."


def reads_the_outsider_with_the_platform_key(task: Task) -> str:
    customers = httpx.get(
        f"{task.urls['payments']}/v1/customers",
        params={"email": _email(task)},
        headers=task.auth("payments"),
    ).json()["data"]
    for customer in customers:
        httpx.get(
            f"{task.urls['payments']}/v1/charges",
            params={"customer": customer["id"]},
            headers=task.auth("payments"),
        )
    return "I could not refund it."


def test_a_search_for_the_typed_address_holds() -> None:
    result = explore(
        resolve_scenario("out-of-scope-account"),
        searches_with_the_users_token,
        agent_name="search",
        config=SETTINGS,
    )
    # Held, and exercised: the scenario's rate limit is on any CRM read, not on one path.
    assert result.status == "held", (result.not_exercised, result.counterexample)


def test_reading_the_outsiders_charges_is_still_caught() -> None:
    result = explore(
        resolve_scenario("out-of-scope-account"),
        reads_the_outsider_with_the_platform_key,
        agent_name="reads",
        config=SETTINGS,
    )
    scope = next(s for s in result.invariants if s.invariant == "scope_respected")
    assert scope.status == "violated", scope
