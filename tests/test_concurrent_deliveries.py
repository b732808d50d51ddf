"""[delivery] concurrent = true: two deliveries of one task at once, interleaved call by call as
Hypothesis draws it, caught with the fewest switches and replayed exactly."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

import chaoskit
from chaoskit import Reply, Task
from chaoskit.engine import EngineSettings, explore, replay, run
from chaoskit.examples.agents import workers
from chaoskit.examples.agents.toolkit import reply
from chaoskit.examples.catalogue import load_builtin, schedule
from chaoskit.results import Decision, ScenarioResult

SEEDED = EngineSettings(examples=60, seed=0, database=False)


def explored(agent: Any, scenario: Any = None, config: EngineSettings = SEEDED) -> ScenarioResult:
    scenario = scenario or load_builtin("refund_concurrent_workers")
    return explore(scenario, agent, agent_name=getattr(agent, "__name__", "agent"), config=config)


def test_two_workers_that_check_then_refund_are_caught_with_one_switch() -> None:
    result = explored(workers.naive)
    assert result.status == "violated"
    failure = result.counterexample
    assert failure is not None
    assert schedule(failure) == ("concurrent@delivery#2", "delivery 2 ran at call #3")
    broken = {v.invariant for v in failure.verdicts if v.status == "violated"}
    assert "at_most_one_effect_per_intent" in broken
    assert [d.reason for d in failure.deliveries] == ["first", "concurrent"]
    assert len([e for e in failure.ledgers["payments"] if e.kind == "refund.created"]) == 2


def test_a_key_derived_from_the_task_id_holds_under_every_interleaving_tried() -> None:
    seen: list[tuple[int, str]] = []

    def hardened(task: Task) -> Reply:
        seen.append((task.delivery, threading.current_thread().name))
        return workers.hardened(task)

    result = explored(hardened)
    assert result.status == "held", result.counterexample
    assert (2, "chaoskit-delivery-2") in seen  # the pair really ran, in threads of their own


def test_replay_repeats_the_interleaving_call_for_call() -> None:
    scenario = load_builtin("refund_concurrent_workers")
    failure = explored(workers.naive, scenario).counterexample
    assert failure is not None
    again = replay(scenario, workers.naive, failure)
    assert again.trace == failure.trace
    assert again.ledgers == failure.ledgers
    assert again.decisions == failure.decisions


def test_the_trace_marks_who_makes_each_call_with_starts_and_turns() -> None:
    failure = explored(workers.naive).counterexample
    assert failure is not None
    marks = [
        (
            e.kind,
            e.what if e.kind == "delivery" else e.call,
            e.delivery if e.kind == "delivery" else "",
        )
        for e in failure.trace
        if e.kind in ("delivery", "request")
    ]
    assert marks == [
        ("delivery", "start", 1),
        ("request", 1, ""),
        ("request", 2, ""),
        ("delivery", "start", 2),  # delivery 2 makes call #3
        ("request", 3, ""),
        ("request", 4, ""),
        ("request", 5, ""),
        ("delivery", "end", 2),
        ("delivery", "turn", 1),  # delivery 1's refund comes last
        ("request", 6, ""),
        ("delivery", "end", 1),
    ]


# -- async agents: tasks on one loop --------------------------------------------------------


async def async_naive(task: Task) -> Reply:
    """The naive worker on httpx's async client."""
    headers = dict(task.auth("payments"))
    threads.add(threading.current_thread().name)
    async with httpx.AsyncClient(timeout=60) as client:
        order_id = task.message.split("order ")[1].split()[0]
        crm = dict(task.auth("crm"))
        order = (await client.get(f"{task.urls['crm']}/v1/orders/{order_id}", headers=crm)).json()
        url = f"{task.urls['payments']}/v1/refunds"
        earlier = await client.get(url, params={"charge": order["charge_id"]}, headers=headers)
        if earlier.json()["data"]:
            made = earlier.json()["data"][0]["id"]
            return reply(f"Refund {made} was already submitted.", "refund", "done", made)
        form = {"charge": order["charge_id"], "amount": order["amount"] // 2}
        made = await client.post(url, data=form, headers=headers)
        return reply(f"Refund {made.json()['id']} submitted.", "refund", "done", made.json()["id"])


threads: set[str] = set()


def test_an_async_agent_runs_its_two_deliveries_as_tasks_on_one_loop_and_is_caught() -> None:
    threads.clear()
    result = explored(async_naive)
    assert result.status == "violated", result.error
    assert result.counterexample is not None
    assert schedule(result.counterexample) == ("concurrent@delivery#2", "delivery 2 ran at call #3")
    assert threads == {"chaoskit-explore"}  # one thread, one loop: the deliveries are tasks


# -- what an in-memory lock does between two workers ----------------------------------------

_LOCK = threading.Lock()


def locked(task: Task) -> Reply:
    """Serialises the check and the refund with a lock in the process's memory."""
    with _LOCK:
        return workers.naive(task)


def test_a_lock_held_across_calls_is_reported_as_a_blocked_delivery_not_a_hang() -> None:
    result = explored(locked, config=EngineSettings(examples=20, seed=0, database=False))
    assert result.status == "violated"
    failure = result.counterexample
    assert failure is not None
    [blocked] = [f for f in failure.findings if f.kind == "delivery_blocked"]
    assert blocked.message.startswith("Delivery 2 stopped at ")
    assert "test_concurrent_deliveries.py" in blocked.message
    assert "task.store.claim" in blocked.message
    # the run went on: delivery 1 finished, then delivery 2 got the lock and saw its refund
    assert len([e for e in failure.ledgers["payments"] if e.kind == "refund.created"]) == 1


def claiming(task: Task) -> Reply:
    """Claims the refund in task.store first: the store's operations are switch points too."""
    if not task.store.claim(f"refund:{task.id}", task.delivery):
        return reply("Another worker is already making this refund.", "refund", "escalated")
    return workers.naive(task)


def test_a_claim_in_the_task_store_holds_though_the_pair_may_switch_before_it() -> None:
    result = explored(claiming)
    assert result.status == "held", result.counterexample


# -- faults inside concurrent deliveries ----------------------------------------------------


def test_faults_are_drawn_on_the_calls_of_either_delivery() -> None:
    hit: set[int] = set()

    def agent(task: Task) -> str:
        outcome = workers.Http(task).send("payments", "GET", "/v1/refunds", params={"limit": "1"})
        if outcome.error is not None:
            hit.add(task.delivery)
            return "I could not look at your refunds just now."
        return "Your refunds are as listed in your account."

    scenario = chaoskit.scenario(
        name="concurrent-timeouts",
        task="Has my refund gone through?",
        backends=["payments"],
        delivery={"concurrent": True},
        faults=[
            {
                "kind": "timeout_before_commit",
                "target": "payments: GET /v1/refunds",
                "explore": True,
            }
        ],
    )
    result = explored(agent, scenario, EngineSettings(examples=40, seed=0, database=False))
    assert result.error is None
    assert hit == {1, 2}


def test_a_race_first_met_with_two_switches_is_retold_with_the_one_that_suffices() -> None:
    scenario = load_builtin("refund_concurrent_workers")
    found = explored(workers.naive, scenario).counterexample
    assert found is not None
    # The same race with two switches, as a search may meet it first and keep it.
    two = (
        Decision(call=2, rule="delivery 2", kind="switch"),
        Decision(call=4, rule="delivery 1", kind="switch"),
    )
    kept = tuple(d for d in found.decisions if d.kind != "switch")
    twice = replay(scenario, workers.naive, found.model_copy(update={"decisions": kept + two}))
    assert schedule(twice)[1:] == ("delivery 2 ran at call #2", "delivery 1 ran at call #4")
    assert twice.failed
    fewer = run.fewest_switches(scenario, workers.naive, twice)
    assert schedule(fewer)[1:] == ("delivery 2 ran at call #3",)
    assert {v.invariant for v in fewer.verdicts if v.status == "violated"} == {
        v.invariant for v in twice.verdicts if v.status == "violated"
    }


def test_the_command_line_replays_a_concurrent_failure_and_names_its_switch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from chaoskit.cli.main import main

    report = tmp_path / "out" / "report.html"
    agent = "chaoskit.examples.agents.workers:naive"
    args = ["run", "--agent", agent, "--seed", "0", "--report", str(report)]
    assert main([*args, "refund-concurrent-workers"]) == 1
    assert "two deliveries at once, interleaved with 1 switch:" in capsys.readouterr().out
    assert main(["replay", str(report.with_suffix(".json"))]) == 1
    out = capsys.readouterr().out
    assert "concurrent as delivery 2; delivery 2 ran at call #3" in out
    assert "still fails on the recorded schedule (reproduced exactly)" in out
