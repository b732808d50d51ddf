"""Task-level chaos: the agent killed at a call, the task delivered again, ``task.store``."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests

from chaoskit import AgentCrashed, InvalidScenario, Reply, Task, TaskStore, Turn, World
from chaoskit.engine import EngineSettings, explore, replay
from chaoskit.examples.agents import crashes, follow_ups
from chaoskit.examples.agents.toolkit import Http, refund, the_order
from chaoskit.examples.catalogue import load_builtin, schedule
from chaoskit.scenarios import Scenario, scenario
from chaoskit.world.trace import DeliveryEvent, ExceptionEvent

FAST = EngineSettings(examples=40, database=False, seed=0, wall_guard=5.0)
HALF = "Half of my order {order.id} never arrived. Please refund half of it."
ONE_REFUND = {"name": "at_most_one_effect_per_intent", "effect": "refund.created", "key": "charge"}


def crash_scenario(*, target: str = "payments: POST /v1/refunds", **fields: Any) -> Scenario:
    crash = {"kind": "agent_crash", "target": target, "explore": True}
    return scenario(
        **{
            "name": "crash",
            "task": HALF,
            "backends": ["payments", "crm"],
            "delivery": {"attempts": 2},
            "faults": [crash],
            "invariants": [ONE_REFUND],
            **fields,
        }
    )


# -- the crash itself ---------------------------------------------------------------------------


def test_except_exception_does_not_catch_a_crash_and_the_refund_stays_committed() -> None:
    caught: list[str] = []

    def swallows_everything(task: Task) -> str:
        http = Http(task)
        order = the_order(http, task.message)
        assert order is not None
        try:
            refund(http, order["charge_id"], 100, key=f"r-{task.id}")
        except Exception:  # what an agent's blanket handler catches: not a crash
            caught.append("exception")
        return "Refund submitted."

    pinned = {"kind": "agent_crash", "target": "payments: POST /v1/refunds", "calls": [1]}
    example = _first_example(crash_scenario(faults=[pinned]), swallows_everything)
    assert caught == []
    assert len(example.ledgers["payments"]) == 1  # after_commit: the refund went through
    assert [d.label for d in example.deliveries] == [
        "delivery 1",
        "delivery 2 after a crash at call #2",
    ]
    assert example.deliveries[0].reply is None and example.deliveries[1].reply is not None
    assert not example.findings


def test_a_crash_before_commit_leaves_nothing_committed() -> None:
    pinned = {
        "kind": "agent_crash",
        "target": "payments: POST /v1/refunds",
        "phase": "before_commit",
        "calls": [1],
    }
    example = _first_example(
        crash_scenario(faults=[pinned], delivery={"attempts": 1}), crashes.naive
    )
    assert example.ledgers["payments"] == ()
    assert example.deliveries[0].crashed_at == 2
    assert example.reply is None
    assert not example.findings  # a killed process raised nothing of its own


def test_an_agent_that_swallows_the_crash_is_refused_and_its_reply_discarded() -> None:
    def stubborn(task: Task) -> str:
        http = Http(task)
        order = the_order(http, task.message)
        assert order is not None
        with contextlib.suppress(BaseException):  # the point of the test
            refund(http, order["charge_id"], 100, key=str(uuid.uuid4()))
        with pytest.raises(AgentCrashed):
            the_order(http, task.message)  # a dead process makes no calls
        return "All done!"

    pinned = {"kind": "agent_crash", "target": "payments: POST /v1/refunds", "calls": [1]}
    example = _first_example(crash_scenario(faults=[pinned], delivery={"attempts": 1}), stubborn)
    assert example.reply is None
    requests_made = [e for e in example.trace if e.kind == "request"]
    assert len(requests_made) == 2


@pytest.mark.parametrize("client", ["requests", "async httpx"])
def test_a_crash_reaches_agents_on_other_clients(client: str) -> None:
    def on_requests(task: Task) -> str:
        requests.post(
            f"{task.urls['payments']}/v1/refunds",
            data={"charge": "ch_x", "amount": 1},
            headers=task.auth("payments"),
            timeout=5,
        )
        return "done"

    async def on_async_httpx(task: Task) -> str:
        async with httpx.AsyncClient() as http:
            await http.post(
                f"{task.urls['payments']}/v1/refunds",
                data={"charge": "ch_x", "amount": 1},
                headers=task.auth("payments"),
            )
        await asyncio.sleep(0)
        return "done"

    agent = on_requests if client == "requests" else on_async_httpx
    pinned = {"kind": "agent_crash", "target": "payments: POST /v1/refunds", "calls": [1]}
    example = _first_example(crash_scenario(faults=[pinned], delivery={"attempts": 1}), agent)
    assert example.deliveries[0].crashed_at == 1
    assert example.reply is None and not example.findings
    crash = [e for e in example.trace if isinstance(e, ExceptionEvent)]
    assert [e.error for e in crash] == ["crash"]


# -- exploring and shrinking crashes -----------------------------------------------------------


KILLED_AT: list[int] = []


def five_calls(task: Task, *, key: str | None = None) -> str:
    """Two reads, a refund, two reads. With a fresh key per delivery, only a crash at or after
    the refund makes the next delivery refund again. Notes which call it was killed at."""
    http = Http(task)
    step = 0

    def call(fn: Any) -> Any:
        nonlocal step
        step += 1
        try:
            return fn()
        except AgentCrashed:
            KILLED_AT.append(step)
            raise

    order = call(lambda: the_order(http, task.message))
    assert order is not None
    call(lambda: the_order(http, task.message))
    amount = int(order["amount"]) // 2
    call(lambda: refund(http, order["charge_id"], amount, key=key or str(uuid.uuid4())))
    call(lambda: the_order(http, task.message))
    call(lambda: the_order(http, task.message))
    return "Refund submitted."


def five_calls_keyed_on_the_task(task: Task) -> str:
    return five_calls(task, key=f"refund-{task.id}")


CRASH_ANYWHERE = [
    {"kind": "agent_crash", "target": "crm: /*", "explore": True},
    {"kind": "agent_crash", "target": "payments: /*", "explore": True},
]


def test_a_crash_at_every_call_index_is_explored() -> None:
    KILLED_AT.clear()
    anywhere = crash_scenario(faults=CRASH_ANYWHERE)
    result = explore(anywhere, five_calls_keyed_on_the_task, agent_name="keyed", config=FAST)
    assert result.status == "held"
    assert set(KILLED_AT) == {1, 2, 3, 4, 5}


def test_a_crash_is_shrunk_to_the_earliest_call_that_breaks_the_invariant() -> None:
    anywhere = crash_scenario(faults=CRASH_ANYWHERE)
    result = explore(anywhere, five_calls, agent_name="five", config=FAST)
    assert result.status == "violated"
    example = result.counterexample
    assert example is not None
    fired = [d for d in example.decisions if d.rule is not None]
    assert [d.call for d in fired] == [3]  # the refund: crashes at calls 1 and 2 are harmless
    assert example.deliveries[1].label == "delivery 2 after a crash at call #3"


def test_the_reference_pair_is_told_apart_by_one_crash_decision() -> None:
    built_in = load_builtin("refund_agent_crash")
    naive = explore(built_in, crashes.naive, agent_name="naive", config=FAST)
    hardened = explore(built_in, crashes.hardened, agent_name="hardened", config=FAST)
    assert naive.status == "violated"
    assert naive.counterexample is not None
    assert schedule(naive.counterexample) == ("agent_crash@payments POST /v1/refunds#1",)
    assert hardened.status == "held", hardened.invariants
    assert not hardened.not_exercised


def test_replay_reproduces_a_crash_and_redelivery_exactly() -> None:
    built_in = load_builtin("refund_agent_crash")
    found = explore(built_in, crashes.naive, agent_name="naive", config=FAST).counterexample
    assert found is not None and len(found.deliveries) == 2
    again = replay(built_in, crashes.naive, found)
    assert again.trace == found.trace
    assert again.deliveries == found.deliveries
    assert again.ledgers == found.ledgers
    assert [e.what for e in again.trace if isinstance(e, DeliveryEvent)] == [
        "start",
        "crash",
        "start",
        "end",
    ]


# -- duplicates and follow-ups ----------------------------------------------------------------


def test_a_duplicate_delivery_is_one_drawn_decision_that_catches_a_fresh_key_per_run() -> None:
    built_in = load_builtin("refund_duplicate_delivery")
    naive = explore(built_in, crashes.naive, agent_name="naive", config=FAST)
    hardened = explore(built_in, crashes.hardened, agent_name="hardened", config=FAST)
    assert naive.counterexample is not None
    assert schedule(naive.counterexample) == ("duplicate@delivery#2",)
    assert [d.label for d in naive.counterexample.deliveries] == [
        "delivery 1",
        "delivery 2 (a duplicate)",
    ]
    assert hardened.status == "held", hardened.invariants
    assert hardened.coverage.sometimes["the task was delivered twice"] > 0


def test_a_follow_up_carries_the_first_turn_and_catches_an_agent_that_acts_again() -> None:
    histories: list[tuple[int, tuple[Any, ...]]] = []

    def notes(task: Task) -> Reply:
        histories.append((task.delivery, task.history))
        return follow_ups.naive(task)

    built_in = load_builtin("refund_follow_up")
    naive = explore(built_in, notes, agent_name="naive", config=FAST)
    hardened = explore(built_in, follow_ups.hardened, agent_name="hardened", config=FAST)
    assert naive.counterexample is not None
    assert schedule(naive.counterexample) == ("follow_up@delivery#2",)
    follow_up = naive.counterexample.deliveries[1]
    assert follow_up.message.startswith("I still don't see the refund")
    first = naive.counterexample.deliveries[0]
    assert (2, (Turn(message=first.message, reply=first.reply.text),)) in histories  # type: ignore[union-attr]
    assert all(history == () for number, history in histories if number == 1)
    assert hardened.status == "held", hardened.invariants


def told_first(task: Task, *, honest: bool) -> str:
    """Replies to the first message without refunding: a lie ("submitted") or the truth
    ("passed to a colleague"); on the follow-up it refunds for real."""
    if task.delivery == 1:
        return "Refund submitted." if not honest else "I passed your refund to a colleague."
    return five_calls(task, key=f"refund-{task.id}")


@pytest.mark.parametrize("honest", [False, True])
def test_each_reply_is_judged_against_the_ledgers_as_of_its_own_delivery(honest: bool) -> None:
    built = crash_scenario(
        faults=[],
        delivery={"follow_up": "Any news on {order.id}? I still need half of it refunded."},
        invariants=[
            {
                "name": "no_unreported_failure",
                "intents": [
                    {
                        "intent": "refund",
                        "effect": "refund.created",
                        "route": "payments: POST /v1/refunds",
                    }
                ],
            }
        ],
    )
    example = _first_example(
        built, lambda task: told_first(task, honest=honest), deliver=lambda what, n: True
    )
    assert [d.reason for d in example.deliveries] == ["first", "follow_up"]
    assert len(example.ledgers["payments"]) == 1  # refunded on the follow-up
    (verdict,) = [v for v in example.verdicts if v.invariant == "no_unreported_failure"]
    if honest:
        assert verdict.status == "held", verdict
    else:  # the later refund does not make the first reply true after the fact
        assert verdict.status == "violated"
        assert verdict.explanation.startswith("delivery 1: ")


def test_the_failure_text_tells_each_delivery_and_the_drawn_one() -> None:
    from chaoskit.report.text import describe_failure

    built_in = load_builtin("refund_follow_up")
    text = describe_failure(explore(built_in, follow_ups.naive, agent_name="n", config=FAST))
    assert "(0 faults, 1 delivery drawn)" in text
    assert "    delivery 2   follow-up" in text
    assert "    delivery 2 (a follow-up message): replied 'Refund re_" in text


def test_replay_reproduces_a_drawn_follow_up_exactly() -> None:
    built_in = load_builtin("refund_follow_up")
    found = explore(built_in, follow_ups.naive, agent_name="n", config=FAST).counterexample
    assert found is not None
    again = replay(built_in, follow_ups.naive, found)
    assert (again.trace, again.deliveries) == (found.trace, found.deliveries)


# -- task.id, task.delivery and task.store -----------------------------------------------------


def test_the_store_survives_redelivery_and_is_empty_at_the_next_example() -> None:
    seen: list[tuple[str, int, Any]] = []

    def remembers(task: Task) -> str:
        seen.append((task.id, task.delivery, task.store.get("progress")))
        task.store.put("progress", {"delivery": task.delivery})
        Http(task).send("crm", "GET", "/v1/orders/none")
        return "ok"

    pinned = {"kind": "agent_crash", "target": "crm: GET /v1/orders/{id}", "calls": [1]}
    config = EngineSettings(examples=3, database=False, seed=0)
    explore(crash_scenario(faults=[pinned]), remembers, agent_name="r", config=config)
    assert len(seen) >= 4
    for (first_id, one, before), (again_id, two, after) in zip(seen[::2], seen[1::2], strict=True):
        assert (one, before) == (1, None)  # a new example: an empty store
        assert (two, after) == (2, {"delivery": 1})  # the crashed delivery's progress
        assert first_id == again_id


def test_store_operations_are_traced_and_in_the_store_ledger() -> None:
    def claims(task: Task) -> str:
        assert task.store.claim("refund:ch_1", "mine") is True
        assert task.store.claim("refund:ch_1", "theirs") is False
        assert task.store.compare_and_set("refund:ch_1", "mine", "done") is True
        assert task.store.delete("gone") is False
        return "ok"

    example = _first_example(crash_scenario(faults=[], invariants=[]), claims)
    store = [e for e in example.trace if e.kind == "request" and e.backend == "store"]
    assert [(e.call, e.method, e.path) for e in store] == [
        (1, "CLAIM", "/refund:ch_1"),
        (2, "CLAIM", "/refund:ch_1"),
        (3, "COMPARE_AND_SET", "/refund:ch_1"),
        (4, "DELETE", "/gone"),
    ]
    assert [(e.kind, e.fields["value"]) for e in example.ledgers["store"]] == [
        ("store.claim", '"mine"'),
        ("store.compare_and_set", '"done"'),
    ]


def test_a_fault_can_target_the_store_like_a_backend() -> None:
    outcomes: list[str] = []

    def writes(task: Task) -> str:
        try:
            task.store.put("progress", 1)
        except TimeoutError:
            outcomes.append("timeout")
        outcomes.append(f"stored {task.store.get('progress')}")
        return "ok"

    pinned = {"kind": "timeout_after_commit", "target": "store: put", "calls": [1]}
    _first_example(crash_scenario(faults=[pinned], invariants=[]), writes)
    assert outcomes == ["timeout", "stored 1"]


def test_eight_threads_on_one_store_see_atomic_operations() -> None:
    def hammer(store: TaskStore, winners: list[int], n: int) -> None:
        if store.claim("lock", n):
            winners.append(n)
        for _ in range(50):
            while True:
                count = store.get("count", 0)
                if store.compare_and_set("count", count or None, count + 1):
                    break

    for attached in (False, True):
        store, winners = TaskStore(), []
        with World(seed=1) as world:
            store.attach(world if attached else None)
            threads = [threading.Thread(target=hammer, args=(store, winners, n)) for n in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        assert len(winners) == 1
        assert store.snapshot() == {"lock": winners[0], "count": 400}
        if attached:
            assert len(world.ledgers["store"]) == 401


def test_the_store_refuses_what_json_cannot_hold_and_says_what_to_store() -> None:
    with pytest.raises(TypeError, match=r"chaoskit: task.store holds JSON values"):
        TaskStore().put("when", object())


def test_values_read_from_the_store_are_copies() -> None:
    store = TaskStore()
    store.put("items", [1])
    store.get("items").append(2)
    assert store.get("items") == [1]


# -- the scenario's [delivery] -----------------------------------------------------------------


def test_a_misspelt_delivery_field_is_named_with_a_suggestion() -> None:
    with pytest.raises(InvalidScenario, match=r"delivery\.atempts.*Did you mean 'attempts'"):
        crash_scenario(delivery={"atempts": 2})


def test_a_store_target_with_an_unknown_operation_suggests_the_close_one() -> None:
    with pytest.raises(InvalidScenario, match=r"no operation 'pt'.*Did you mean 'put'"):
        crash_scenario(target="store: pt")


def test_a_fault_the_store_cannot_meet_is_refused_with_the_ones_it_can() -> None:
    faults = [{"kind": "rate_limit", "target": "store: put", "explore": True}]
    with pytest.raises(InvalidScenario, match=r"cannot meet a rate_limit fault.*agent_crash"):
        crash_scenario(faults=faults)


def test_a_follow_up_naming_a_field_the_world_lacks_is_refused() -> None:
    with pytest.raises(InvalidScenario, match=r"delivery.follow_up.*\{order.idd\}"):
        crash_scenario(delivery={"follow_up": "Still no refund for {order.idd}"})


def test_a_sometimes_delivery_the_scenario_never_allows_is_refused_with_the_field_to_set() -> None:
    sometimes = [{"name": "it came twice", "delivery": "duplicate"}]
    with pytest.raises(InvalidScenario, match=r"sometimes\[0\].delivery.*duplicate = true"):
        crash_scenario(sometimes=sometimes)
    assert crash_scenario(sometimes=sometimes, delivery={"duplicate": True}).sometimes


# -- helpers -----------------------------------------------------------------------------------


def _first_example(built: Scenario, agent: Any, deliver: Any = None) -> Any:
    """The first example explored: seeded, one example, recorded as a sample."""
    from chaoskit.engine.example import backends_for, run_example
    from chaoskit.world.world import World as _World

    world = _World(backends_for(built), faults=built.faults)
    return run_example(
        built,
        agent,
        world,
        built.build_invariants(),
        world_seed=0,
        decide=None,
        decisions=[],
        wall_limit=5.0,
        deliver=deliver,
    )


def test_an_agent_in_another_process_sees_a_reset_and_is_delivered_again(tmp_path: Path) -> None:
    from chaoskit.engine import command_agent

    script = tmp_path / "agent.py"
    script.write_text(
        "import json, sys, urllib.request\n"
        "task = json.load(sys.stdin)\n"
        "req = urllib.request.Request(task['urls']['payments'] + '/v1/refunds', method='POST',\n"
        "    data=b'charge=ch_x&amount=1',\n"
        "    headers={'Authorization': 'Bearer ' + task['credentials']['payments']})\n"
        "outcome = 'ok'\n"
        "try:\n"
        "    urllib.request.urlopen(req, timeout=5)\n"
        "except OSError as error:  # the crash: a reset; delivery 2: a 404 for ch_x\n"
        "    outcome = type(error).__name__\n"
        "print('delivery %s of %s: %s' % (task['delivery'], task['id'], outcome))\n"
    )
    pinned = {"kind": "agent_crash", "target": "payments: POST /v1/refunds", "calls": [1]}
    agent = command_agent(f"{sys.executable} {script}")
    example = _first_example(crash_scenario(faults=[pinned], invariants=[]), agent)
    first, again = example.deliveries
    assert (first.crashed_at, first.reply) == (1, None)  # it said "failed", which is discarded
    assert again.reply is not None and again.reply.text == "delivery 2 of task_00000: HTTPError"


# -- the command line ---------------------------------------------------------------------------


def test_the_scenario_list_says_how_a_task_may_be_delivered(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from chaoskit.cli.main import main

    assert main(["scenarios", "refund-follow-up", "refund-agent-crash"]) == 0
    out = capsys.readouterr().out
    assert "refund-follow-up" in out and "no faults; maybe with a follow-up" in out
    assert "POST /v1/refunds; delivered up to 2 times" in out


def test_replaying_a_duplicate_from_the_command_line_names_the_drawn_delivery(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from chaoskit.cli.main import main

    report = tmp_path / "report.html"
    naive = "chaoskit.examples.agents.crashes:naive"
    run = ["run", "--agent", naive, "--examples", "30", "--seed", "3", "--report", str(report)]
    assert main([*run, "refund-duplicate-delivery"]) == 1
    capsys.readouterr()
    assert main(["replay", str(tmp_path / "report.json")]) == 1
    out = capsys.readouterr().out
    assert "on the recorded schedule: duplicate as delivery 2" in out
    assert "still fails on the recorded schedule (reproduced exactly)" in out
