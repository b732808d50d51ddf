"""The interleaving scheduler: deliveries take turns at every call, as the draws say, and
nothing can hang it (plain functions first, then through a world and its clients)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator, Sequence

import httpx
import pytest

from chaoskit import World
from chaoskit.core.clock import VirtualClock
from chaoskit.engine.interleave import (
    Interleaving,
    SwitchPoint,
    current_delivery,
    stall_findings,
)
from chaoskit.engine.runner import DeliveryStopped
from chaoskit.world.dispatch import aturn, turn
from chaoskit.world.timepatch import run_virtual
from tests.conftest import Notes

URL = "https://notes.chaoskit.test/notes"


def scripted(switches: dict[int, int]) -> Callable[[SwitchPoint], int | None]:
    """Switch to delivery ``switches[call]`` at that call, stay otherwise."""
    return lambda point: switches.get(point.call)


def steps(log: list[str], count: int) -> Callable[[], str]:
    """A delivery that makes ``count`` calls, logging which delivery made each."""

    def body() -> str:
        for _ in range(count):
            turn()
            log.append(f"d{current_delivery()}")
        return f"done {current_delivery()}"

    return body


def run_steps(choose: Callable[[SwitchPoint], int | None], counts: Sequence[int]) -> list[str]:
    log: list[str] = []
    scheduler = Interleaving(choose)
    with scheduler.taking_turns():
        outcomes = scheduler.run([steps(log, n) for n in counts])
    assert [o.value for o in outcomes] == [f"done {n}" for n in range(1, len(counts) + 1)]
    return log


def test_with_no_switches_the_deliveries_run_one_after_the_other() -> None:
    assert run_steps(lambda point: None, [3, 3]) == ["d1", "d1", "d1", "d2", "d2", "d2"]


def test_each_switch_gives_the_named_delivery_that_call() -> None:
    log = run_steps(scripted({2: 2, 4: 1}), [3, 3])
    assert log == ["d1", "d2", "d2", "d1", "d1", "d2"]


def test_the_same_draws_give_the_same_order_every_time() -> None:
    choices = scripted({1: 3, 3: 2, 5: 1, 7: 3})
    first = run_steps(choices, [3, 3, 3])
    assert all(run_steps(choices, [3, 3, 3]) == first for _ in range(20))
    assert first != run_steps(lambda point: None, [3, 3, 3])


def test_switches_are_recorded_by_call_and_delivery_and_replay_exactly() -> None:
    log: list[str] = []
    scheduler = Interleaving(scripted({2: 2}))
    with scheduler.taking_turns():
        scheduler.run([steps(log, 2), steps(log, 2)])
    assert [str(s) for s in scheduler.switches] == ["delivery 2 ran at call #2"]
    replayed = {s.call: s.delivery for s in scheduler.switches}
    assert run_steps(scripted(replayed), [2, 2]) == log


def test_a_switch_point_offers_only_the_deliveries_that_can_still_run() -> None:
    seen: list[SwitchPoint] = []

    def choose(point: SwitchPoint) -> int | None:
        seen.append(point)
        return None

    run_steps(choose, [2, 1])
    # delivery 1's two calls can each go to delivery 2; once 1 ends, 2 runs alone: no choice
    assert seen == [SwitchPoint(1, 1, (2,)), SwitchPoint(2, 1, (2,))]


def test_a_delivery_that_raises_hands_the_baton_on_and_keeps_its_error() -> None:
    log: list[str] = []

    def crash() -> str:
        turn()
        raise RuntimeError("worker died")

    scheduler = Interleaving(scripted({}))
    with scheduler.taking_turns():
        outcomes = scheduler.run([crash, steps(log, 2)])
    assert isinstance(outcomes[0].error, RuntimeError)
    assert outcomes[1].value == "done 2"
    assert log == ["d2", "d2"]


def test_choosing_a_delivery_that_cannot_run_is_refused_with_a_message() -> None:
    scheduler = Interleaving(lambda point: 7)
    with scheduler.taking_turns(), pytest.raises(ValueError, match="chose delivery 7"):
        scheduler.run([steps([], 1), steps([], 1)])


def test_a_run_that_ends_in_an_error_leaves_no_delivery_waiting_for_ever() -> None:
    log: list[str] = []
    scheduler = Interleaving(lambda point: 7)
    with scheduler.taking_turns(), pytest.raises(ValueError):
        scheduler.run([steps(log, 2), steps(log, 2)])
    for thread in scheduler.left:
        thread.join(timeout=30)  # each is told its run is over: none waits for a turn
    assert scheduler.left == ()
    assert log == []  # and none made the call it was waiting to make
    [first, second] = scheduler.outcomes
    assert isinstance(first.error, DeliveryStopped) and second.error is None


def test_outside_a_delivery_a_switch_point_does_nothing() -> None:
    scheduler = Interleaving(lambda point: 2)
    with scheduler.taking_turns():
        turn()  # the test's own thread is no delivery: it never waits
    assert scheduler.switches == []


# -- a race, found and shrunk by Hypothesis ----------------------------------------------------


class Ledger:
    """Two workers refund one ticket: check, then act."""

    def __init__(self) -> None:
        self.refunded = False
        self.refunds = 0

    def worker(self) -> None:
        turn()  # GET the ticket
        seen = self.refunded
        turn()  # POST the refund, unless one was seen
        if not seen:
            self.refunds += 1
            self.refunded = True


# -- what stops outside a switch point -------------------------------------------------------


@pytest.fixture
def locks() -> Iterator[list[threading.Lock]]:
    made: list[threading.Lock] = []
    yield made
    for lock in made:  # free threads a test left blocked (any thread may release a Lock)
        if lock.locked():
            lock.release()


def test_a_lock_held_across_a_call_is_a_stall_the_run_survives(
    locks: list[threading.Lock],
) -> None:
    lock = threading.Lock()
    locks.append(lock)

    def holder() -> str:
        with lock:
            turn()  # delivery 2 goes here, and waits for the lock delivery 1 holds
        return "one"

    def waiter() -> str:
        with lock:  # line the stall must name
            turn()
        return "two"

    scheduler = Interleaving(scripted({1: 2}), stall=0.05)
    with scheduler.taking_turns():
        outcomes = scheduler.run([holder, waiter])
    assert [o.value for o in outcomes] == ["one", "two"]
    [stall] = scheduler.stalls
    assert (stall.delivery, stall.call, stall.waiting) == (2, 1, (1,))
    assert stall.where.endswith(f"test_interleave.py:{waiter.__code__.co_firstlineno + 1}")
    assert "delivery 2 stopped at" in str(stall)


def test_two_deliveries_waiting_on_each_other_end_blocked_instead_of_hanging(
    locks: list[threading.Lock],
) -> None:
    first, second = threading.Lock(), threading.Lock()
    locks.extend([first, second])

    def one() -> None:
        with first:
            turn()
            with second:
                pass

    def two() -> None:
        with second:
            turn()
            with first:
                pass

    scheduler = Interleaving(scripted({1: 2}), stall=0.05)
    with scheduler.taking_turns():
        outcomes = scheduler.run([one, two])
    assert [o.blocked for o in outcomes] == [True, True]
    assert [s.delivery for s in scheduler.stalls] == [2, 1]  # 2 waits for 1, then 1 for 2
    assert len(scheduler.left) == 2


def test_a_thread_that_keeps_computing_is_not_taken_for_stalled() -> None:
    def busy() -> int:
        turn()
        return sum(i * i for i in range(3_000_000))

    scheduler = Interleaving(scripted({}), stall=0.1)
    with scheduler.taking_turns():
        outcomes = scheduler.run([busy, busy])
    assert outcomes[0].value == outcomes[1].value
    assert scheduler.stalls == []


# -- tasks on one loop ------------------------------------------------------------------------


def arun(
    choose: Callable[[SwitchPoint], int | None],
    bodies: Sequence[Callable[[], object]],
    clock: VirtualClock | None = None,
) -> tuple[Interleaving, list[object]]:
    clock = clock or VirtualClock()
    scheduler = Interleaving(choose, clock=clock)

    async def main() -> list[object]:
        with scheduler.taking_turns():
            return list(await scheduler.gather(bodies))  # type: ignore[arg-type]

    return scheduler, run_virtual(main(), clock)


def test_tasks_take_turns_at_their_await_points_as_the_draws_say() -> None:
    log: list[str] = []

    def steps_async(count: int) -> Callable[[], object]:
        async def body() -> None:
            for _ in range(count):
                await aturn()
                turn()  # the world's switch point: the task's turn was taken already
                log.append(f"d{current_delivery()}")
                await asyncio.sleep(1)  # a virtual sleep lets no one else in

        return body

    arun(scripted({2: 2, 4: 1}), [steps_async(3), steps_async(3)])
    assert log == ["d1", "d2", "d2", "d1", "d1", "d2"]


def test_a_task_waiting_on_an_asyncio_lock_another_delivery_holds_is_a_stall() -> None:
    clock = VirtualClock()
    clock.deadline = 300.0
    log: list[str] = []

    async def both() -> None:
        async with lock:
            await aturn()
            log.append(f"d{current_delivery()}")

    lock: asyncio.Lock
    clock_scheduler: list[Interleaving] = []

    async def main() -> None:
        nonlocal lock
        lock = asyncio.Lock()
        scheduler = Interleaving(scripted({1: 2}), clock=clock)
        clock_scheduler.append(scheduler)
        with scheduler.taking_turns():
            await asyncio.wait_for(scheduler.gather([both, both]), timeout=300)

    run_virtual(main(), clock)
    [stall] = clock_scheduler[0].stalls
    assert stall.delivery == 2
    assert log == ["d1", "d2"]
    assert clock.monotonic() == 0.0  # found at once, not at the budget's end


# -- through a world: the HTTP call is the switch point -------------------------------------


def check_then_act() -> None:
    with httpx.Client() as client:
        notes = client.get(URL).json()["data"]
        if not notes:
            client.post(URL, json={"text": f"refund by delivery {current_delivery()}"})


async def check_then_act_async() -> None:
    async with httpx.AsyncClient() as client:
        notes = (await client.get(URL)).json()["data"]
        if not notes:
            await client.post(URL, json={"text": f"refund by delivery {current_delivery()}"})


def test_every_call_into_a_fake_is_a_switch_point_numbered_as_the_trace_numbers_it() -> None:
    world = World([Notes()])
    scheduler = Interleaving(scripted({2: 2}), next_call=lambda: world.calls + 1)
    with world, scheduler.taking_turns():
        scheduler.run([check_then_act, check_then_act])
    texts = [e.fields["text"] for e in world.ledger("notes")]
    assert texts == ["refund by delivery 2", "refund by delivery 1"]
    requests = [(e.call, e.method) for e in world.trace.of("request")]  # type: ignore[union-attr]
    assert requests == [(1, "GET"), (2, "GET"), (3, "POST"), (4, "POST")]


def test_without_a_switch_the_second_delivery_sees_the_first_ones_effect() -> None:
    world = World([Notes()])
    scheduler = Interleaving(scripted({}), next_call=lambda: world.calls + 1)
    with world, scheduler.taking_turns():
        scheduler.run([check_then_act, check_then_act])
    assert [e.fields["text"] for e in world.ledger("notes")] == ["refund by delivery 1"]


def test_async_clients_switch_at_their_calls_too() -> None:
    world = World([Notes()])
    scheduler = Interleaving(scripted({2: 2}), next_call=lambda: world.calls + 1)

    async def main() -> None:
        with scheduler.taking_turns():
            await scheduler.gather([check_then_act_async, check_then_act_async])

    with world:
        run_virtual(main(), world.clock)
    assert len(world.ledger("notes")) == 2
    assert [str(s) for s in scheduler.switches] == ["delivery 2 ran at call #2"]


def test_aiohttp_sessions_switch_at_their_calls_too() -> None:
    import aiohttp

    async def deliver() -> None:
        async with aiohttp.ClientSession() as session:
            async with session.get(URL) as got:
                notes = (await got.json())["data"]
            if not notes:
                async with session.post(URL, json={"text": "refund"}):
                    pass

    world = World([Notes()])
    scheduler = Interleaving(scripted({2: 2}), next_call=lambda: world.calls + 1)

    async def main() -> None:
        with scheduler.taking_turns():
            await scheduler.gather([deliver, deliver])

    with world:
        run_virtual(main(), world.clock)
    assert len(world.ledger("notes")) == 2
    assert [str(s) for s in scheduler.switches] == ["delivery 2 ran at call #2"]


def test_stalls_and_deadlocks_become_findings_that_say_what_to_do(
    locks: list[threading.Lock],
) -> None:
    first, second = threading.Lock(), threading.Lock()
    locks.extend([first, second])

    def one() -> None:
        with first:
            turn()
            with second:
                pass

    def two() -> None:
        with second:
            turn()
            with first:
                pass

    scheduler = Interleaving(scripted({1: 2}), stall=0.05)
    with scheduler.taking_turns():
        scheduler.run([one, two])
    found = stall_findings(scheduler)
    assert [f.kind for f in found] == ["delivery_blocked"] * 3
    assert found[0].message.startswith("Delivery 2 stopped at ")
    assert "task.store.claim" in found[0].message
    assert found[-1].message.startswith("Deliveries 1 and 2 waited on each other")


def test_deliveries_that_never_wait_on_each_other_give_no_finding() -> None:
    scheduler = Interleaving(scripted({1: 2}), stall=0.05)
    with scheduler.taking_turns():
        scheduler.run([steps([], 2), steps([], 2)])
    assert stall_findings(scheduler) == []
