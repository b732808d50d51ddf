"""Hostile and sloppy agents cannot break, pollute or fool the run.

Each agent here does one thing users' agents do: leaves threads behind, swallows every
interruption, blocks in C, raises what cannot be printed, tries to end the process, keeps
state in the shared clients, writes to its task, tampers with the fakes' ground truth. Each
must end in a finding of its own example, with the report written and the next scenario run.
An honest agent beside it must not be flagged.
"""

from __future__ import annotations

import _thread
import gc
import itertools
import json
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from chaoskit.core.agent import Task
from chaoskit.core.errors import RunInterrupted
from chaoskit.engine import EngineSettings, RunRecorder, explore, run_scenarios
from chaoskit.engine.example import backends_for, run_example
from chaoskit.fakes import FakeBackend, Payments
from chaoskit.results import Example, RunResult, ScenarioResult
from chaoskit.scenarios import Scenario, scenario
from chaoskit.world.world import World

#: A short wall limit: no test here waits more than a few seconds of real time.
QUICK = EngineSettings(examples=3, database=False, seed=0, wall_guard=0.3)


def refund_scenario(name: str = "refund", **extra: Any) -> Scenario:
    return scenario(
        name=name,
        task="Refund half of order {order.id}",
        backends=["payments", "crm"],
        invariants=[
            {"name": "at_most_one_effect_per_intent", "effect": "refund.created", "key": "charge"}
        ],
        **extra,
    )


def order_of(task: Task) -> dict[str, Any]:
    order_id = re.search(r"ord_\w+", task.message)[0]  # type: ignore[index]
    got = httpx.get(f"{task.urls['crm']}/v1/orders/{order_id}", headers=task.auth("crm"))
    order: dict[str, Any] = got.json()
    return order


def refund(task: Task, key: str, client: Any = httpx) -> httpx.Response:
    order = order_of(task)
    response: httpx.Response = client.post(
        f"{task.urls['payments']}/v1/refunds",
        data={"charge": order["charge_id"], "amount": int(order["amount"]) // 2},
        headers={**task.auth("payments"), "Idempotency-Key": key},
    )
    return response


def honest(task: Task) -> str:
    response = refund(task, "refund-once")
    return f"Refund {response.json()['id']} submitted." if response.is_success else "Failed."


def run_both(agent: Callable[[Task], Any], tmp_path: Path, **extra: Any) -> RunResult:
    """The hostile agent's scenario, then an honest agent's, through one recorder and report."""
    recorder = RunRecorder(seed=0, examples=QUICK.examples)
    first = run_scenarios(
        [refund_scenario("hostile", **extra)], agent, agent_name="hostile", config=QUICK
    )
    recorder.add(first.scenarios[0])
    second = run_scenarios([refund_scenario("after")], honest, agent_name="honest", config=QUICK)
    recorder.add(second.scenarios[0])
    assert recorder.write(tmp_path / "report.html") is None
    written = json.loads((tmp_path / "report.json").read_text())
    assert [s["scenario"] for s in written["scenarios"]] == ["hostile", "after"]
    assert (tmp_path / "report.html").stat().st_size > 10_000
    return recorder.result()


def findings(result: ScenarioResult) -> list[str]:
    assert result.counterexample is not None, result
    return [f"{f.kind}: {f.message}" for f in result.counterexample.findings]


def the_honest_one_held(run: RunResult) -> None:
    after = run.scenarios[1]
    assert after.status == "held", findings(after) if after.counterexample else after
    assert after.examples == QUICK.examples


@pytest.fixture
def stop() -> Iterator[threading.Event]:
    """Set at the end of a test: the threads the agents leave behind end with it."""
    event = threading.Event()
    yield event
    event.set()


# -- 1. leftover threads ------------------------------------------------------------------------


def test_a_thread_left_running_is_a_finding_and_its_later_calls_land_nowhere(
    stop: threading.Event,
) -> None:
    world = World(backends_for(refund_scenario()))
    made: list[str] = []

    def leaves_a_refunding_thread(task: Task) -> str:
        tag = f"run{len(made)}"
        made.append(tag)
        order = order_of(task)

        def keep_refunding() -> None:
            for i in range(10_000):
                if stop.wait(0.002):
                    return
                try:  # noqa: SIM105 (as an agent would write it)
                    httpx.post(
                        f"{task.urls['payments']}/v1/refunds",
                        data={"charge": order["charge_id"], "amount": 1},
                        headers={**task.auth("payments"), "Idempotency-Key": f"{tag}-{i}"},
                    )
                except httpx.HTTPError:
                    pass  # refused: the run it belonged to is over

        threading.Thread(target=keep_refunding, name="chaoskit-sneaky", daemon=True).start()
        return "Refunds on their way."

    examples = [_one(world, leaves_a_refunding_thread, seed) for seed in range(3)]
    for n, example in enumerate(examples):
        kinds = [f.kind for f in example.findings]
        assert "threads_left" in kinds, (n, kinds)  # a chaoskit-* name does not hide it
        keys = {e.idempotency_key for e in example.ledgers["payments"]}
        assert all(str(k).startswith(f"run{n}-") for k in keys), (n, sorted(map(str, keys)))


def _one(world: World, agent: Callable[[Task], Any], seed: int) -> Example:
    sc = refund_scenario()
    return run_example(
        sc, agent, world, sc.build_invariants(), world_seed=seed, decide=None, decisions=[],
        wall_limit=2.0,
    )  # fmt: skip


def test_an_agent_that_joins_its_threads_is_not_flagged() -> None:
    def joins(task: Task) -> str:
        worker = threading.Thread(target=lambda: refund(task, "refund-once"))
        worker.start()
        worker.join()
        return "Refund submitted."

    world = World(backends_for(refund_scenario()))
    assert _one(world, joins, 0).findings == ()


# An interruption lands wherever the agent's thread is, a finalizer run there included, which
# Python then reports as "unraisable": expected with an agent that has to be interrupted.
INTERRUPTED = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

# -- 2. hangs -----------------------------------------------------------------------------------


@INTERRUPTED
def test_a_sleep_loop_that_swallows_every_interruption_is_abandoned(
    tmp_path: Path, stop: threading.Event
) -> None:
    def unstoppable(task: Task) -> str:
        while not stop.is_set():
            try:  # noqa: SIM105
                time.sleep(1)
            except BaseException:
                pass
        return "never"

    run = run_both(unstoppable, tmp_path)
    message = "\n".join(findings(run.scenarios[0]))
    # Interrupted again and again, it ends up caught outside its try (stopped) or abandoned.
    assert re.search(r"agent_hung: .* (was stopped|was abandoned)", message), message
    assert "wall_seconds" in message  # it says how to raise the limit
    assert run.scenarios[0].examples == 1  # not re-run for shrinking at 0.6 s a time
    the_honest_one_held(run)


@INTERRUPTED
def test_a_busy_loop_catching_base_exception_is_abandoned(
    tmp_path: Path, stop: threading.Event
) -> None:
    def spins(task: Task) -> str:
        while not stop.is_set():
            try:
                while not stop.is_set():
                    pass
            except BaseException:
                pass
        return "never"

    run = run_both(spins, tmp_path)
    assert any(
        re.search("agent_hung: .* was (stopped|abandoned)", f) for f in findings(run.scenarios[0])
    )
    the_honest_one_held(run)


def test_a_thread_blocked_in_c_is_abandoned(tmp_path: Path, stop: threading.Event) -> None:
    def blocks(task: Task) -> str:
        stop.wait()  # a C-level wait: no exception can be delivered into it
        return "never"

    run = run_both(blocks, tmp_path)
    assert any("was abandoned" in f for f in findings(run.scenarios[0]))
    the_honest_one_held(run)


@INTERRUPTED
def test_the_wall_limit_comes_from_the_scenario_budget(stop: threading.Event) -> None:
    def slow(task: Task) -> str:
        while not stop.is_set():
            pass
        return "never"

    sc = refund_scenario(budget={"wall_seconds": 0.2})
    settings = EngineSettings(examples=1, database=False, seed=0, wall_guard=30.0)
    result = run_scenarios([sc], slow, agent_name="slow", config=settings).scenarios[0]
    assert any("0.2 s of real time" in f for f in findings(result))  # not the run's 30 s


# -- 3. what the agent raises -------------------------------------------------------------------


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no str for you")

    def __repr__(self) -> str:
        raise RuntimeError("no repr either")


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (Unprintable(), "Unprintable: <Unprintable whose str raised>"),
        (SystemExit(3), "SystemExit with code 3"),
        (KeyboardInterrupt(), "KeyboardInterrupt"),
        (GeneratorExit(), "GeneratorExit"),
    ],
    ids=["unprintable", "system-exit", "keyboard-interrupt", "generator-exit"],
)
def test_whatever_the_agent_raises_is_a_finding_and_the_run_goes_on(
    raised: BaseException, expected: str, tmp_path: Path
) -> None:
    def raises(task: Task) -> str:
        raise raised

    run = run_both(raises, tmp_path)
    assert any(f.startswith("agent_raised") and expected in f for f in findings(run.scenarios[0]))
    the_honest_one_held(run)


def test_a_bad_reply_that_cannot_be_shown_is_still_reported(tmp_path: Path) -> None:
    run = run_both(lambda task: Unprintable(), tmp_path)
    assert any("bad_reply" in f and "repr raised" in f for f in findings(run.scenarios[0]))


# -- 4. state carried between examples ----------------------------------------------------------


def test_headers_set_on_the_ready_client_do_not_reach_the_next_example() -> None:
    seen: list[str | None] = []

    def sticky(task: Task) -> str:
        client = task.clients.httpx
        seen.append(client.headers.get("idempotency-key"))
        client.headers["Idempotency-Key"] = "left-over-from-an-earlier-run"
        response = refund(task, "refund-once", client=client)
        return "Refund submitted." if response.is_success else "Failed."

    world = World(backends_for(refund_scenario()))
    for seed in range(3):
        _one(world, sticky, seed)
    assert seen == [None, None, None]


def test_the_task_s_maps_are_read_only() -> None:
    def writes(task: Task) -> str:
        task.urls["payments"] = "https://evil.example"  # type: ignore[index]
        return "done"

    world = World(backends_for(refund_scenario()))
    example = _one(world, writes, 0)
    assert any("does not support item assignment" in f.message for f in example.findings)


# -- 6. tampering with the ground truth ---------------------------------------------------------


def _the_payments_fake(key: str) -> Payments:
    """What a hostile agent does: find the fake in the heap, by a refund it just made."""
    return next(
        o
        for o in gc.get_objects()
        if type(o) is Payments and any(e.idempotency_key == key for e in o.ledger.entries())
    )


def test_an_agent_cutting_its_ledger_through_gc_is_caught(tmp_path: Path) -> None:
    runs = itertools.count()  # id(task) repeats once a task is freed: an older fake would match
    # Drawn here, outside any world (whose entropy is seeded): a fake left alive by another
    # test of the session never holds these keys.
    prefix = secrets.token_hex(8)

    def double_refunds_and_hides_one(task: Task) -> str:
        n = f"{prefix}-{next(runs)}"
        refund(task, f"one-{n}")
        refund(task, f"two-{n}")
        fake = _the_payments_fake(f"one-{n}")
        fake.ledger._entries.pop()  # type: ignore[attr-defined]
        return "Refund submitted."

    # Walking the heap of a whole test session takes longer than QUICK's 0.3 s wall limit when
    # the machine is busy: the agent was then stopped as hung before it could tamper.
    run = run_both(double_refunds_and_hides_one, tmp_path, budget={"wall_seconds": 20})
    assert any(
        f.startswith("ground_truth_tampered") and "is gone" in f for f in findings(run.scenarios[0])
    )
    the_honest_one_held(run)


def test_an_agent_patching_record_is_caught_and_the_patch_undone(tmp_path: Path) -> None:
    original = FakeBackend.record

    def patches_record(task: Task) -> str:
        FakeBackend.record = lambda self, *a, **k: None  # type: ignore[method-assign,assignment]
        refund(task, "one")
        refund(task, "two")
        return "Refund submitted."

    try:
        run = run_both(patches_record, tmp_path)
    finally:
        FakeBackend.record = original  # type: ignore[method-assign]
    assert any("FakeBackend.record was replaced" in f for f in findings(run.scenarios[0]))
    assert FakeBackend.__dict__["record"] is original
    the_honest_one_held(run)  # the patch did not empty the next scenario's ledgers


def test_an_agent_replacing_an_entry_is_caught() -> None:
    key = f"one-{secrets.token_hex(8)}"  # no fake another test left alive holds it

    def rewrites(task: Task) -> str:
        refund(task, key)
        fake = _the_payments_fake(key)
        entries = fake.ledger._entries  # type: ignore[attr-defined]
        entries[-1] = entries[-1].model_copy(update={"object_id": "re_forged"})
        return "Refund submitted."

    world = World(backends_for(refund_scenario()))
    messages = [f.message for f in _one(world, rewrites, 0).findings]
    assert any("was changed after it was made" in m for m in messages), messages


def test_an_honest_agent_is_not_taken_for_a_tamperer() -> None:
    world = World(backends_for(refund_scenario()))
    for seed in range(3):
        assert _one(world, honest, seed).findings == ()


# -- 7. Ctrl-C ------------------------------------------------------------------------------------


def test_ctrl_c_keeps_every_example_that_finished(stop: threading.Event) -> None:
    # interrupt_main() is what Ctrl-C does: a KeyboardInterrupt in the main thread, where the
    # engine runs (pytest and its xdist workers run tests there).
    assert threading.current_thread() is threading.main_thread()
    runs: list[int] = []
    third_run_ended = threading.Event()

    def interrupted_on_the_third_run(task: Task) -> str:
        runs.append(1)
        if len(runs) == 3:
            _thread.interrupt_main()
            stop.wait()  # blocked in C until the test ends
            third_run_ended.set()
        return honest(task)

    settings = EngineSettings(examples=10, database=False, seed=0, wall_guard=30.0)
    with pytest.raises(RunInterrupted) as info:
        explore(refund_scenario(), interrupted_on_the_third_run, agent_name="x", config=settings)
    partial = info.value.partial
    assert isinstance(partial, ScenarioResult)
    assert (partial.interrupted, partial.status, partial.examples) == (True, "interrupted", 2)
    assert not third_run_ended.is_set()  # Ctrl-C did not wait for the agent


def test_an_agent_raising_keyboard_interrupt_is_not_taken_for_ctrl_c(tmp_path: Path) -> None:
    def raises(task: Task) -> str:
        raise KeyboardInterrupt

    run = run_both(raises, tmp_path)
    assert not run.scenarios[0].interrupted and run.scenarios[0].status == "violated"


# -- 5. what leaves the sandbox -----------------------------------------------------------------


def test_an_abandoned_thread_is_refused_the_network_after_its_world_ended() -> None:
    world = World(backends_for(refund_scenario()))
    go, outcome = threading.Event(), []

    def later() -> None:
        go.wait()
        try:
            socket.getaddrinfo("example.org", 443)
            outcome.append("resolved")
        except OSError as error:
            outcome.append(str(error))

    thread = threading.Thread(target=later, daemon=True)
    thread.start()
    with world:
        pass
    world.abandon([thread])
    go.set()
    thread.join(5)
    assert outcome and "chaoskit:" in outcome[0], outcome


def test_library_probes_of_the_machine_are_not_taken_for_the_agent_s_processes() -> None:
    # A fresh interpreter: platform's cache is cold, as in a user's first run.
    probe = (
        "import platform, ctypes.util\n"
        "from chaoskit import World\n"
        "with World() as world:\n"
        "    platform.processor(); ctypes.util.find_library('c')\n"
        "print(sum(e.kind == 'guard' for e in world.trace.events))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "0", done.stdout + done.stderr


@pytest.mark.parametrize(
    ("leaves", "kind"),
    [
        (lambda task: urllib.request.urlopen("https://api.example.org/v1/x"), "unknown_host"),
        (lambda task: socket.getaddrinfo(task.urls["payments"][8:], 443), "network_refused"),
        (
            lambda task: subprocess.run(["curl", "https://example.org"], check=False),
            "process_spawned",
        ),
        (lambda task: socket.create_connection(("192.0.2.1", 443), timeout=1), "network_refused"),
    ],
    ids=["urllib-unknown-host", "raw-lookup", "subprocess", "raw-socket"],
)
def test_a_way_around_the_fakes_is_a_finding_and_the_run_goes_on(
    leaves: Callable[[Task], Any], kind: str, tmp_path: Path
) -> None:
    def agent(task: Task) -> str:
        try:
            leaves(task)
        except OSError:
            return "I could not do it."
        return "Done."

    run = run_both(agent, tmp_path)
    assert any(f.startswith(f"{kind}: ") for f in findings(run.scenarios[0]))
    the_honest_one_held(run)


def test_a_leftover_thread_is_reported_through_a_whole_run(
    tmp_path: Path, stop: threading.Event
) -> None:
    def leaves_a_thread(task: Task) -> str:
        threading.Thread(target=stop.wait, daemon=True).start()
        return honest(task)

    run = run_both(leaves_a_thread, tmp_path)
    assert any(f.startswith("threads_left: ") for f in findings(run.scenarios[0]))
    the_honest_one_held(run)


def test_a_thread_pool_kept_for_the_next_task_is_not_a_leftover() -> None:
    pool = ThreadPoolExecutor(2)  # module-level in a real agent: created once, reused
    try:

        def pooled(task: Task) -> str:
            return pool.submit(honest, task).result()

        world = World(backends_for(refund_scenario()))
        examples = [_one(world, pooled, seed) for seed in range(3)]
        assert [e.findings for e in examples] == [(), (), ()]
        assert all(len(e.ledgers["payments"]) == 1 for e in examples)  # its calls still count
    finally:
        pool.shutdown()


def test_a_pool_still_busy_after_the_agent_returned_is_a_leftover(stop: threading.Event) -> None:
    pool = ThreadPoolExecutor(1)
    try:

        def returns_early(task: Task) -> str:
            pool.submit(stop.wait)
            return honest(task)

        world = World(backends_for(refund_scenario()))
        assert "threads_left" in [f.kind for f in _one(world, returns_early, 0).findings]
    finally:
        stop.set()
        pool.shutdown()
