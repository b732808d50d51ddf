"""The engine: explore faults with Hypothesis, shrink to the minimal schedule, replay exactly."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
from pathlib import Path

import httpx
import pytest
from hypothesis.database import InMemoryExampleDatabase

from chaoskit.core.agent import Task
from chaoskit.engine import EngineSettings, Progress, explore, replay, run_scenarios
from chaoskit.results import RunResult
from chaoskit.scenarios import InvariantSpec, Scenario, load_scenario, scenario

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
FAST = EngineSettings(examples=40, database=False, seed=0, wall_guard=5.0)


def _order(task: Task) -> dict[str, object]:
    order_id = re.search(r"\b(ord_\w+)", task.message).group(1)  # type: ignore[union-attr]
    response = httpx.get(f"{task.urls['crm']}/v1/orders/{order_id}", headers=task.auth("crm"))
    response.raise_for_status()
    order: dict[str, object] = response.json()
    return order


def _refund(task: Task, order: dict[str, object], key: str) -> httpx.Response:
    return httpx.post(
        f"{task.urls['payments']}/v1/refunds",
        data={"charge": order["charge_id"], "amount": int(order["amount"]) // 2},  # type: ignore[call-overload]
        headers={**task.auth("payments"), "Idempotency-Key": key},
    )


def retries_with_new_keys(task: Task) -> str:
    """The classic: a timed-out refund is retried with a fresh idempotency key."""
    order = _order(task)
    for attempt in range(3):
        try:
            response = _refund(task, order, str(uuid.uuid4()))
            if response.status_code == 200:
                return f"Refund {response.json()['id']} submitted."
        except httpx.TimeoutException:
            time.sleep(2**attempt)
    return "I could not refund your order."


def retries_with_one_key(task: Task) -> str:
    order = _order(task)
    for attempt in range(3):
        try:
            response = _refund(task, order, f"refund-{order['id']}")
            if response.status_code == 200:
                return f"Refund {response.json()['id']} submitted."
        except httpx.TimeoutException:
            time.sleep(2**attempt)
    return "I could not refund your order."


@pytest.fixture(scope="module")
def refund_timeout() -> Scenario:
    return load_scenario(SCENARIOS / "refund_timeout_after_commit.toml")


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_a_new_key_per_retry_is_caught_with_one_timeout_after_commit_as_minimal_schedule(
    refund_timeout: Scenario, seed: int
) -> None:
    config = EngineSettings(examples=60, database=False, seed=seed)
    result = explore(refund_timeout, retries_with_new_keys, agent_name="naive", config=config)
    assert result.status == "violated"
    failure = result.counterexample
    assert failure is not None
    assert [(f.backend, f.route, f.kind) for f in failure.faults] == [
        ("payments", "POST /v1/refunds", "timeout_after_commit")
    ]
    violated = [v for v in failure.verdicts if v.status == "violated"]
    assert violated[0].invariant == "at_most_one_effect_per_intent"
    assert "Each attempt used a different idempotency key" in violated[0].explanation
    assert result.reproduction is not None and "--seed" in result.reproduction


def test_an_agent_reusing_its_key_holds_and_the_fault_was_exercised(
    refund_timeout: Scenario,
) -> None:
    result = explore(refund_timeout, retries_with_one_key, agent_name="hardened", config=FAST)
    assert result.status == "held", result.not_exercised
    assert result.coverage.faults["payments: POST /v1/refunds"]["timeout_after_commit"] > 0
    assert result.coverage.sometimes["the timeout hit the refund"] > 0
    assert {s.invariant: s.status for s in result.invariants}[
        "at_most_one_effect_per_intent"
    ] == "held"


def test_a_scenario_whose_fault_never_reaches_the_agent_is_not_exercised(
    refund_timeout: Scenario,
) -> None:
    def never_refunds(task: Task) -> str:
        _order(task)
        return "Please contact support."

    without_expectations = refund_timeout.model_copy(update={"expect": ()})
    result = explore(without_expectations, never_refunds, agent_name="idle", config=FAST)
    assert result.status == "not_exercised"
    assert "never fired" in result.not_exercised[0]


def test_the_same_seed_gives_byte_identical_result_json(refund_timeout: Scenario) -> None:
    def run() -> str:
        config = EngineSettings(examples=25, database=False, seed=7)
        result = run_scenarios(
            [refund_timeout], retries_with_new_keys, agent_name="naive", config=config
        )
        return result.canonical_json()

    first = run()
    assert first == run()
    assert RunResult.model_validate_json(first).scenarios[0].status == "violated"


def test_a_failure_found_once_is_tried_first_next_run_from_the_example_database(
    refund_timeout: Scenario,
) -> None:
    database = InMemoryExampleDatabase()

    def first_example_failed(seed: int) -> bool:
        seen: list[Progress] = []
        config = EngineSettings(examples=60, seed=seed, database=database)
        result = explore(
            refund_timeout,
            retries_with_new_keys,
            agent_name="naive",
            config=config,
            progress=seen.append,
        )
        assert result.status == "violated"
        return seen[0].failing

    assert not first_example_failed(seed=11)  # a fresh search starts with a fault-free run
    assert first_example_failed(seed=12)  # the saved failure is replayed first


def test_a_failure_carries_hypothesis_reproduce_failure_decorator(
    refund_timeout: Scenario,
) -> None:
    result = explore(refund_timeout, retries_with_new_keys, agent_name="naive", config=FAST)
    assert result.hypothesis_blob is not None
    assert result.hypothesis_blob.startswith("@reproduce_failure(")


def test_a_recorded_failure_replays_exactly_without_search(refund_timeout: Scenario) -> None:
    result = explore(refund_timeout, retries_with_new_keys, agent_name="naive", config=FAST)
    recorded = result.counterexample
    assert recorded is not None
    again = replay(refund_timeout, retries_with_new_keys, recorded)
    assert again.trace == recorded.trace
    assert again.verdicts == recorded.verdicts
    assert again.reply == recorded.reply


def _simple(name: str, **extra: object) -> Scenario:
    return scenario(
        name=name,
        task="Look at order {order.id}",
        backends=["payments", "crm"],
        invariants=[{"name": "at_most_one_effect_per_intent"}],
        **extra,
    )


def _finding(agent: object, **config: object) -> str:
    settings = EngineSettings(examples=3, database=False, seed=0, **config)  # type: ignore[arg-type]
    result = explore(_simple("finding"), agent, agent_name="x", config=settings)  # type: ignore[arg-type]
    assert result.status == "violated"
    assert result.counterexample is not None
    return result.counterexample.findings[0].message


def test_an_agent_that_raises_is_a_finding_naming_the_exception() -> None:
    def crashes(task: Task) -> str:
        raise KeyError("charge_id")

    assert "The agent raised KeyError: 'charge_id'" in _finding(crashes)


def test_an_agent_sleeping_forever_is_stopped_by_the_virtual_deadline() -> None:
    def sleeps_forever(task: Task) -> str:
        while True:
            time.sleep(5)

    message = _finding(sleeps_forever)
    assert "600 s of virtual time" in message
    assert "waited its own timeout" not in message  # no client timeout to blame


def test_a_client_waiting_out_its_own_long_timeout_is_told_apart_from_an_endless_loop() -> None:
    # aiohttp's default ClientTimeout(total=300): one timeout fault uses up a 300 s budget
    import aiohttp

    async def default_timeout(task: Task) -> str:
        async with aiohttp.ClientSession() as session:
            await session.post(f"{task.urls['payments']}/v1/refunds", headers=task.auth("payments"))
        return "done"

    timed_out = _simple(
        "long-timeout",
        budget={"seconds": 300},
        faults=[
            {
                "kind": "timeout_before_commit",
                "target": "payments: POST /v1/refunds",
                "always": True,
            }
        ],
    )
    result = explore(
        timed_out,
        default_timeout,
        agent_name="x",
        config=EngineSettings(examples=2, database=False, seed=0),
    )
    assert result.counterexample is not None
    [hung] = [f.message for f in result.counterexample.findings if f.kind == "agent_hung"]
    assert "call #1 met a timeout fault and its HTTP client waited its own timeout, 300 s" in hung
    assert "aiohttp's default ClientTimeout(total=300)" in hung


def test_an_agent_in_a_busy_loop_is_stopped_by_the_wall_clock_guard() -> None:
    def spins(task: Task) -> str:
        while True:
            pass

    assert "0.3 s of real time" in _finding(spins, wall_guard=0.3)


def test_an_async_agent_that_never_finishes_is_stopped_by_the_virtual_deadline() -> None:
    async def waits_forever(task: Task) -> str:
        await asyncio.Event().wait()
        return "never"

    assert "virtual time" in _finding(waits_forever)


def test_an_agent_calling_an_unknown_host_is_a_finding_listing_known_hosts() -> None:
    def phones_home(task: Task) -> str:
        with contextlib.suppress(httpx.ConnectError):
            httpx.get("https://telemetry.example.com/ping")
        return "done"

    message = _finding(phones_home)
    assert "https://telemetry.example.com/ping" in message
    assert "api.stripe.com" in message


def test_a_bad_scenario_errors_alone_and_the_other_scenarios_still_run(
    refund_timeout: Scenario,
) -> None:
    # Built around validation, as a scenario from an older chaoskit or a plugin could be.
    broken = _simple("broken").model_copy(
        update={
            "invariants": (
                InvariantSpec(name="at_most_one_effect_per_intent", params={"effect": 3}),
            )
        }
    )
    result = run_scenarios(
        [broken, refund_timeout], retries_with_one_key, agent_name="hardened", config=FAST
    )
    assert [s.status for s in result.scenarios] == ["error", "held"]
    assert "bad parameters for invariant" in (result.scenarios[0].error or "")
