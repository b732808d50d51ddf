from __future__ import annotations

import asyncio
import asyncio.base_events
import copyreg
import datetime
import pickle
import sys
import textwrap
import threading
import time
import types
from collections.abc import Iterator

import freezegun
import pydantic
import pytest

from chaoskit.core.clock import DEFAULT_EPOCH, VirtualClock
from chaoskit.world.timepatch import (
    VirtualEventLoop,
    current_epoch,
    run_virtual,
    virtual_time,
)

BACKOFF = (1, 2, 4, 8)
#: Not a speed target but the oracle of "nothing really waited": below the shortest real wait
#: any test here would take if time were real (5 s: a join or wait_for timeout), and far
#: above what virtual jumps cost even on a loaded 2-core machine (1 s was not, under load).
WALL_BUDGET = 4.0

AGENT_SOURCE = textwrap.dedent(
    """
    from asyncio import sleep as async_sleep
    from datetime import date, datetime
    from time import monotonic, sleep, time

    def backoff(delays):
        for delay in delays:
            sleep(delay)

    async def async_backoff(delays):
        for delay in delays:
            await async_sleep(delay)
    """
)


def make_module(name: str, source: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(compile(source, f"<{name}>", "exec"), module.__dict__)
    return module


@pytest.fixture
def agent_module() -> Iterator[types.ModuleType]:
    """A module that took its own copies with ``from time import sleep`` and friends."""
    name = "chaoskit_test_agent_from_imports"
    module = make_module(name, AGENT_SOURCE)
    sys.modules[name] = module
    try:
        yield module
    finally:
        del sys.modules[name]


def stdlib_clock_objects() -> dict[str, object]:
    return {
        "time.sleep": time.sleep,
        "time.time": time.time,
        "time.time_ns": time.time_ns,
        "time.monotonic": time.monotonic,
        "time.monotonic_ns": time.monotonic_ns,
        "time.perf_counter": time.perf_counter,
        "datetime.datetime": datetime.datetime,
        "datetime.date": datetime.date,
        "asyncio.sleep": asyncio.sleep,
        "BaseEventLoop.time": asyncio.base_events.BaseEventLoop.__dict__["time"],
        "pickle datetime": copyreg.dispatch_table.get(datetime.datetime),
    }


def assert_stdlib_clocks_are_pristine() -> None:
    """Checks against the stdlib itself, so a leak from an earlier test cannot hide."""
    names = ("sleep", "time", "time_ns", "monotonic", "monotonic_ns", "perf_counter")
    assert all(isinstance(getattr(time, name), types.BuiltinFunctionType) for name in names)
    assert datetime.datetime.__module__ == datetime.date.__module__ == "datetime"
    assert asyncio.sleep is asyncio.tasks.sleep
    assert asyncio.base_events.BaseEventLoop.time.__module__ == "asyncio.base_events"
    assert datetime.datetime not in copyreg.dispatch_table


def module_clock_objects(module: types.ModuleType) -> dict[str, object]:
    names = ("sleep", "time", "monotonic", "datetime", "date", "async_sleep")
    return {name: module.__dict__[name] for name in names}


async def async_backoff() -> None:
    for delay in BACKOFF:
        await asyncio.sleep(delay)


def test_time_sleep_backoff_of_15_virtual_seconds_takes_no_real_time() -> None:
    clock = VirtualClock()
    started = time.perf_counter()
    with virtual_time(clock):
        for delay in BACKOFF:
            time.sleep(delay)
    assert clock.monotonic() >= 15
    assert time.perf_counter() - started < WALL_BUDGET


def test_module_that_imported_sleep_by_name_sleeps_virtually(
    agent_module: types.ModuleType,
) -> None:
    clock = VirtualClock()
    started = time.perf_counter()
    with virtual_time(clock):
        agent_module.backoff(BACKOFF)
        assert agent_module.time() == clock.time()
        assert agent_module.datetime.now() == datetime.datetime(2026, 1, 1, 0, 0, 15)
    assert clock.monotonic() >= 15
    assert time.perf_counter() - started < WALL_BUDGET


def test_module_reimported_under_the_same_name_is_patched_again() -> None:
    name = "chaoskit_test_agent_reimported"
    clock = VirtualClock()
    try:
        for _ in range(2):
            sys.modules[name] = module = make_module(name, AGENT_SOURCE)
            with virtual_time(clock):
                module.backoff(BACKOFF)
            del sys.modules[name]
    finally:
        sys.modules.pop(name, None)
    assert clock.monotonic() == 30


def test_run_virtual_backoff_with_asyncio_sleep_takes_no_real_time() -> None:
    clock = VirtualClock()
    started = time.perf_counter()
    run_virtual(async_backoff(), clock)
    assert clock.monotonic() >= 15
    assert time.perf_counter() - started < WALL_BUDGET


def test_asyncio_run_backoff_with_patched_asyncio_sleep_takes_no_real_time(
    agent_module: types.ModuleType,
) -> None:
    clock = VirtualClock()
    started = time.perf_counter()
    with virtual_time(clock):
        asyncio.run(async_backoff())
        asyncio.run(agent_module.async_backoff(BACKOFF))
    assert clock.monotonic() >= 30
    assert time.perf_counter() - started < WALL_BUDGET


async def sleep_100_with_timeout_5() -> None:
    await asyncio.wait_for(asyncio.sleep(100), timeout=5)


def test_run_virtual_inside_the_world_leaves_sleeping_to_the_virtual_loop() -> None:
    clock = VirtualClock()
    with virtual_time(clock):
        run_virtual(async_backoff(), clock)
        assert clock.monotonic() == 15
        with pytest.raises(TimeoutError):
            run_virtual(sleep_100_with_timeout_5(), clock)
    assert clock.monotonic() == pytest.approx(20)


def test_clock_readers_follow_the_virtual_clock_inside() -> None:
    clock = VirtualClock()
    with virtual_time(clock):
        clock.advance(90)
        assert time.time() == DEFAULT_EPOCH + 90
        assert time.time_ns() == (DEFAULT_EPOCH + 90) * 1_000_000_000
        assert time.monotonic() == 90
        assert time.monotonic_ns() == 90_000_000_000
        assert datetime.datetime.now() == datetime.datetime(2026, 1, 1, 0, 1, 30)
        assert datetime.datetime.utcnow() == datetime.datetime(2026, 1, 1, 0, 1, 30)
        assert datetime.datetime.today() == datetime.datetime(2026, 1, 1, 0, 1, 30)
        assert datetime.date.today() == datetime.date(2026, 1, 1)


def test_now_with_a_timezone_converts_like_the_real_now() -> None:
    tz = datetime.timezone(datetime.timedelta(hours=-5))
    with virtual_time(VirtualClock()):
        now = datetime.datetime.now(tz)
    assert now == datetime.datetime(2025, 12, 31, 19, 0, tzinfo=tz)
    assert now.utcoffset() == datetime.timedelta(hours=-5)


def test_datetimes_made_inside_the_world_are_real_datetimes() -> None:
    with virtual_time(VirtualClock()):
        now = datetime.datetime.now()
        built = datetime.datetime(2024, 5, 1)
        today = datetime.date.today()
        assert isinstance(now, datetime.datetime)
        assert isinstance(datetime.date(2024, 5, 1), datetime.date)
    assert type(now) is datetime.datetime
    assert type(built) is datetime.datetime
    assert type(today) is datetime.date


def test_datetime_made_inside_the_world_survives_pickling() -> None:
    with virtual_time(VirtualClock()):
        now = datetime.datetime.now()
        restored = pickle.loads(pickle.dumps(now))
    assert restored == now
    assert type(restored) is datetime.datetime


def test_pydantic_model_declared_inside_the_world_accepts_datetimes() -> None:
    with virtual_time(VirtualClock()):

        class Refund(pydantic.BaseModel):
            created: datetime.datetime
            day: datetime.date

        refund = Refund(created=datetime.datetime.now(), day=datetime.date.today())
    assert refund.created == datetime.datetime(2026, 1, 1)
    assert Refund.model_validate({"created": "2024-05-01T00:00", "day": "2024-05-01"})


def test_everything_is_restored_after_exit(agent_module: types.ModuleType) -> None:
    before = stdlib_clock_objects()
    module_before = module_clock_objects(agent_module)
    with virtual_time(VirtualClock()):
        assert time.sleep is not before["time.sleep"]
        assert agent_module.sleep is not module_before["sleep"]
    assert all(stdlib_clock_objects()[name] is obj for name, obj in before.items())
    assert all(agent_module.__dict__[name] is obj for name, obj in module_before.items())
    assert_stdlib_clocks_are_pristine()


def test_everything_is_restored_after_an_exception(agent_module: types.ModuleType) -> None:
    before = stdlib_clock_objects()
    module_before = module_clock_objects(agent_module)
    with pytest.raises(ZeroDivisionError), virtual_time(VirtualClock()):
        time.sleep(3)
        _ = 1 / 0
    assert all(stdlib_clock_objects()[name] is obj for name, obj in before.items())
    assert all(agent_module.__dict__[name] is obj for name, obj in module_before.items())
    assert_stdlib_clocks_are_pristine()


def test_module_imported_inside_the_world_gets_the_originals_back_on_exit() -> None:
    name = "chaoskit_test_agent_imported_inside"
    try:
        with virtual_time(VirtualClock()):
            sys.modules[name] = module = make_module(name, AGENT_SOURCE)
            assert module.sleep is time.sleep
        assert module.sleep is time.sleep
        assert module.datetime is datetime.datetime
        assert module.async_sleep is asyncio.sleep
    finally:
        sys.modules.pop(name, None)


def test_wait_for_on_run_virtual_times_out_at_exactly_the_virtual_deadline() -> None:
    clock = VirtualClock()
    started = time.perf_counter()
    with pytest.raises(TimeoutError):
        run_virtual(sleep_100_with_timeout_5(), clock)
    assert clock.monotonic() == pytest.approx(5)
    assert time.perf_counter() - started < WALL_BUDGET


def test_asyncio_timeout_on_run_virtual_costs_no_real_time() -> None:
    clock = VirtualClock()

    async def bounded() -> str:
        try:
            async with asyncio.timeout(30):
                await asyncio.sleep(3600)
        except TimeoutError:
            return "timed out"
        return "finished"

    started = time.perf_counter()
    assert run_virtual(bounded(), clock) == "timed out"
    assert clock.monotonic() == pytest.approx(30)
    assert time.perf_counter() - started < WALL_BUDGET


def test_thread_job_awaited_with_a_timeout_on_a_virtual_loop_is_really_waited_for() -> None:
    clock = VirtualClock()

    def slow_tool() -> str:
        threading.Event().wait(0.05)  # real work that takes real time
        return "result"

    async def agent() -> str:
        return await asyncio.wait_for(asyncio.to_thread(slow_tool), timeout=5)

    assert run_virtual(agent(), clock) == "result"
    assert clock.monotonic() < 5


def test_run_virtual_cancels_leftover_tasks_and_closes_its_loop() -> None:
    clock = VirtualClock()
    cancelled = threading.Event()
    loops: list[asyncio.AbstractEventLoop] = []

    async def straggler() -> None:
        try:
            await asyncio.sleep(1000)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def agent() -> None:
        loops.append(asyncio.get_running_loop())
        asyncio.get_running_loop().create_task(straggler())
        await asyncio.sleep(0)

    run_virtual(agent(), clock)
    assert cancelled.is_set()
    assert isinstance(loops[0], VirtualEventLoop)
    assert loops[0].is_closed()


def test_run_virtual_inside_a_running_loop_says_how_to_fix_it() -> None:
    async def agent() -> None:
        await asyncio.sleep(1)

    async def caller() -> None:
        run_virtual(agent(), VirtualClock())

    with pytest.raises(RuntimeError, match=r"^chaoskit: run_virtual\(\) was called while"):
        asyncio.run(caller())


def test_ordinary_event_loop_inside_the_world_keeps_real_timers() -> None:
    async def loop_times() -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        first = loop.time()
        threading.Event().wait(0.01)  # threading keeps real time
        return first, loop.time()

    with virtual_time(VirtualClock()):
        first, second = asyncio.run(loop_times())
    # On the frozen virtual clock the loop's timers would never come due during real I/O.
    assert second > first


def test_nested_activation_raises_runtime_error() -> None:
    clock = VirtualClock()
    with virtual_time(clock):
        with (
            pytest.raises(RuntimeError, match=r"^chaoskit: a virtual clock is already active"),
            virtual_time(VirtualClock()),
        ):
            pass  # pragma: no cover
        time.sleep(2)  # the outer world still works
    assert clock.monotonic() == 2
    assert isinstance(time.sleep, types.BuiltinFunctionType)


def test_thread_started_inside_the_world_sleeps_virtually() -> None:
    clock = VirtualClock()
    started = time.perf_counter()
    with virtual_time(clock):
        worker = threading.Thread(target=time.sleep, args=(10,))
        worker.start()
        worker.join(timeout=5)
    assert not worker.is_alive()
    assert clock.monotonic() >= 10
    assert time.perf_counter() - started < WALL_BUDGET


def test_current_epoch_is_the_default_outside_freezegun() -> None:
    assert current_epoch() == DEFAULT_EPOCH


def test_world_inside_freeze_time_continues_from_the_frozen_time() -> None:
    with freezegun.freeze_time("2024-05-01"):
        frozen = datetime.datetime.now()
        clock = VirtualClock(epoch=current_epoch())
        started = time.perf_counter()
        with virtual_time(clock):
            time.sleep(15)
            inside = datetime.datetime.now()
        assert time.perf_counter() - started < WALL_BUDGET
        assert inside == datetime.datetime(2024, 5, 1, 0, 0, 15)
        assert datetime.datetime.now() == frozen == datetime.datetime(2024, 5, 1)
        assert time.time() == clock.epoch


class _NoDictModule(types.ModuleType):
    """Like cffi's `Lib` objects: registered in sys.modules, a ModuleType, but no __dict__."""

    @property  # type: ignore[misc]
    def __dict__(self) -> dict[str, object]:  # type: ignore[override]
        raise AttributeError("__dict__")


def test_a_module_object_without_a_namespace_does_not_break_the_scan() -> None:
    odd = _NoDictModule("chaoskit_test_nodict")
    sys.modules[odd.__name__] = odd
    try:
        clock = VirtualClock()
        with virtual_time(clock):
            time.sleep(3)
        assert clock.monotonic() == 3
    finally:
        del sys.modules[odd.__name__]


def test_a_class_defined_during_a_world_can_derive_from_date_with_its_own_metaclass() -> None:
    # pydantic v1's ConstrainedDate, imported by langchain-core, does exactly this at import.
    source = textwrap.dedent(
        """
        from datetime import date

        class Meta(type):
            pass

        class ConstrainedDate(date, metaclass=Meta):
            pass
        """
    )
    namespace: dict[str, object] = {}
    with virtual_time(VirtualClock()):
        exec(compile(source, "<library>", "exec"), namespace)
        made = namespace["ConstrainedDate"](2024, 5, 1)  # type: ignore[operator]
        assert isinstance(made, datetime.date)
    assert type(namespace["ConstrainedDate"]).__name__ == "Meta"


def test_a_class_statement_with_keywords_named_like_the_builders_arguments_works() -> None:
    # pydantic-ai declares message parts as `class Part(Base, name=..., namespace=...)`: class
    # keywords go to __init_subclass__, so none of them may collide with the builder's own.
    source = textwrap.dedent(
        """
        class Base:
            def __init_subclass__(cls, *, name: str, func: str, **rest: object) -> None:
                cls.tag = (name, func, rest)

        class Part(Base, name="part", func="f", namespace="ns"):
            pass
        """
    )
    namespace: dict[str, object] = {}
    with virtual_time(VirtualClock()):
        exec(compile(source, "<library>", "exec"), namespace)
    assert namespace["Part"].tag == ("part", "f", {"namespace": "ns"})  # type: ignore[attr-defined]


def _real_yields(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every real sleep a virtual sleep makes (the GIL hand-over), recorded instead of made."""
    from chaoskit.world.timepatch import standins

    made: list[float] = []
    monkeypatch.setattr(standins, "_REAL", standins._REAL._replace(sleep=made.append))
    return made


def test_a_virtual_sleep_yields_the_gil_only_when_the_agent_runs_threads_of_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made = _real_yields(monkeypatch)
    with virtual_time(VirtualClock()):
        for _ in range(5):
            time.sleep(1)  # nobody else to be fair to: no real sleep at all
        assert made == []
        stop = threading.Event()
        worker = threading.Thread(target=stop.wait)
        worker.start()
        try:
            time.sleep(1)  # the agent's own thread may be polling: hand it the GIL
        finally:
            stop.set()
            worker.join()
    assert made == [0]
