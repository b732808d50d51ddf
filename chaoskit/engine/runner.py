"""Running one agent once, safely: whatever it does, the run goes on and says what happened.

An exploration runs in a thread of its own (:func:`supervise`), agent and Hypothesis
together, so an example costs no thread hand-off; the calling thread only watches it:

- sleep loops and async hangs are stopped by the virtual deadline (``budget.seconds``);
- past the wall limit (``budget.wall_seconds``, else the run's ``wall_guard``) the agent is
  interrupted with :class:`AgentHung`, again and again while it swallows it, and after a short
  grace the exploring thread is abandoned: its example is recorded ``agent_hung`` and the run
  goes on in a new thread;
- whatever the agent raises, ``SystemExit``, ``KeyboardInterrupt`` and ``GeneratorExit``
  included, becomes a finding, with a message that survives exceptions whose ``str`` raises
  (a real Ctrl-C reaches the watching thread, never the agent's);
- threads it leaves running are a finding of this example, and the world refuses their calls
  from then on, so they can never be counted in another example.

An abandoned thread cannot be killed (Python has no way to); it is refused by the world and
left to run. ``os._exit`` ends the process: nothing in-process can survive it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures.thread
import ctypes
import inspect
import threading
import traceback
import weakref
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from chaoskit.core.agent import Agent, AgentCrashed, Reply, Task
from chaoskit.core.clock import VirtualClock, VirtualDeadlineExceeded
from chaoskit.results import Finding, FindingKind
from chaoskit.world.server import is_server_thread
from chaoskit.world.timepatch import real_monotonic, run_virtual

__all__ = [
    "Abandoned",
    "AgentFailed",
    "AgentHung",
    "AgentRun",
    "DeliveryStopped",
    "GaveUp",
    "Watch",
    "hung_for_real",
    "own_threads",
    "run_agent",
    "run_agent_task",
    "run_tasks",
    "run_watched",
    "supervise",
]

_T = TypeVar("_T")

#: Threads chaoskit starts itself: never "left by the agent".
_OWN: weakref.WeakSet[threading.Thread] = weakref.WeakSet()
_POOL_WORKER = getattr(concurrent.futures.thread, "_worker", None)


class AgentHung(BaseException):
    """Raised inside an agent that ran past the wall limit."""


class DeliveryStopped(BaseException):
    """Raised at a switch point in one of several concurrent deliveries whose run is over
    (see :mod:`chaoskit.engine.interleave`): a ``BaseException``, so that ``except
    Exception`` in the agent lets it end the delivery, which is no finding of the agent's."""


class AgentFailed(Exception):
    """An out-of-process agent failed in a way chaoskit words itself (it exited non-zero, or
    answered something that is not a reply): becomes a finding with exactly this message."""

    def __init__(self, kind: FindingKind, message: str) -> None:
        super().__init__(message)
        self.kind: FindingKind = kind
        self.message = message


@dataclass
class AgentRun:
    """What one run of the agent gave: its reply, the findings, the threads it left."""

    reply: Reply | None
    findings: list[Finding]
    left: tuple[threading.Thread, ...] = ()


class GaveUp(BaseException):
    """An example ran into the wall limit: stop exploring (a BaseException: Hypothesis lets it
    through at once instead of shrinking, which would run the hung agent again and again)."""


class Watch:
    """What an exploring thread and the thread watching it share.

    The exploring thread says when an agent starts and ends (:meth:`begin`, :meth:`end`) and
    what it is running (:attr:`current`); the watcher interrupts it past the limit and, past
    the grace too, sets :attr:`cancelled` and gives the thread up.
    """

    def __init__(self) -> None:
        self.cancelled = threading.Event()
        #: Whether the last agent run reached its wall limit (stopped there, or abandoned).
        self.hit_wall_limit = False
        #: Whatever the exploring thread wants known if it is abandoned (its example).
        self.current: Any = None
        #: An error of the engine's own raised inside the agent (Hypothesis ending the example
        #: from a draw): raised again once the agent is done, whatever the agent did with it.
        self.engine_error: BaseException | None = None
        self.limit = 0.0
        self._started: float | None = None
        self._lock = threading.Lock()

    def begin(self, limit: float) -> None:
        with self._lock:
            self.hit_wall_limit, self.limit, self._started = False, limit, real_monotonic()
            self.engine_error = None

    def engine(self, fn: Callable[[], _T]) -> _T:
        """Call ``fn``, engine code run inside the agent, noting an error it raises."""
        try:
            return fn()
        except BaseException as error:
            self.engine_error = self.engine_error or error
            raise

    def end(self) -> None:
        """The agent is done: no interruption from now on, and none left pending."""
        with self._lock:
            self._started = None
            if self.hit_wall_limit:
                _async_raise(threading.current_thread(), None)

    def _overdue(self, thread: threading.Thread) -> bool:
        """Interrupt ``thread`` past the limit; True once past the grace too."""
        with self._lock:
            if self._started is None:
                return False
            elapsed = real_monotonic() - self._started
            if elapsed >= self.limit + _grace(self.limit):
                return True
            if elapsed >= self.limit:
                self.hit_wall_limit = True
                _async_raise(thread, AgentHung)  # again each tick: it may swallow one
            return False


class Abandoned:
    """What :func:`supervise` returns for a thread it gave up on."""

    def __init__(self, thread: threading.Thread) -> None:
        self.thread = thread


def own_threads(threads: Iterable[threading.Thread]) -> None:
    """Threads chaoskit started to run the agent in (concurrent deliveries): never counted as
    threads the agent left running."""
    _OWN.update(threads)


def supervise(body: Callable[[], _T], watch: Watch) -> _T | Abandoned:
    """Run ``body`` in a new thread and watch it; its result, or :class:`Abandoned`.

    Ctrl-C (a ``KeyboardInterrupt`` in this thread) cancels the watched thread and goes on up.
    """
    done = threading.Event()
    box: list[Any] = []

    def target() -> None:
        try:
            box.append((body(), None))
        except BaseException as error:  # carried over to the watching thread
            box.append((None, error))
        finally:
            done.set()

    thread = threading.Thread(target=target, name="chaoskit-explore", daemon=True)
    _OWN.add(thread)
    thread.start()
    try:
        while not done.wait(0.05):  # short waits: Ctrl-C lands between two
            if watch._overdue(thread):
                watch.cancelled.set()
                return Abandoned(thread)
    except BaseException:
        watch.cancelled.set()
        raise
    value, error = box[0]
    if error is not None:
        raise error
    result: _T = value
    return result


def _grace(limit: float) -> float:
    return min(1.0, max(limit, 0.05))


def _async_raise(thread: threading.Thread, exc: type[BaseException] | None) -> None:
    if thread.ident is not None and thread.is_alive():
        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(thread.ident), ctypes.py_object(exc) if exc is not None else None
        )


def run_agent(
    agent: Agent,
    task: Task,
    clock: VirtualClock,
    *,
    wall_limit: float,
    watch: Watch | None = None,
) -> AgentRun:
    """Run ``agent`` on ``task`` inside an active world; never raises for the agent's faults.

    Under a :class:`Watch` (inside :func:`supervise`) the wall limit is enforced.
    """
    deadline = task.budget.seconds
    before = set(threading.enumerate())
    findings: list[Finding] = []
    reply: Reply | None = None
    # Concurrent deliveries share the clock: its deadline is whoever set it first's to clear.
    owns_deadline = clock.deadline is None
    if owns_deadline:
        clock.deadline = deadline
    if watch is not None:
        watch.begin(wall_limit)
    try:
        reply = _as_reply(_call(agent, task, clock, deadline), findings)
    except (AgentCrashed, DeliveryStopped):
        pass  # killed by an agent_crash fault, or its run is over: no finding of the agent's
    except BaseException as error:  # the agent's, whatever it is: a real Ctrl-C never lands here
        findings.append(_finding_for(error, deadline, wall_limit))
    finally:
        _settle(watch)
        if owns_deadline:
            clock.deadline = None
    if watch is not None and watch.engine_error is not None:
        raise watch.engine_error  # Hypothesis's, not the agent's: hand it back
    left = _threads_left(before)
    if left:
        findings.append(_left_finding(left))
    return AgentRun(reply, findings, left=tuple(left))


def run_watched(
    body: Callable[[], _T],
    clock: VirtualClock,
    *,
    deadline: float,
    wall_limit: float,
    watch: Watch | None = None,
) -> tuple[_T | None, Finding | None]:
    """Run ``body`` (concurrent deliveries of the agent, which run the agent themselves) under
    the virtual deadline and, with a :class:`Watch`, the wall limit: its value, or the finding
    for what stopped it (a hang, an interruption)."""
    clock.deadline = deadline
    if watch is not None:
        watch.begin(wall_limit)
    try:
        return body(), None
    except BaseException as error:  # the agent's, whatever it is: a real Ctrl-C never lands here
        return None, _finding_for(error, deadline, wall_limit)
    finally:
        _settle(watch)
        clock.deadline = None
        if watch is not None and watch.engine_error is not None:
            raise watch.engine_error  # Hypothesis's, not the agent's: hand it back


def run_tasks(main: Coroutine[Any, Any, _T], clock: VirtualClock, deadline: float) -> _T:
    """Run ``main`` (several deliveries as tasks) on one virtual loop, stopped at the virtual
    ``deadline`` as a single async agent would be."""
    result: _T = run_virtual(_bounded(main, deadline - clock.monotonic(), clock, deadline), clock)
    return result


async def run_agent_task(agent: Agent, task: Task, *, wall_limit: float) -> AgentRun:
    """:func:`run_agent` for one of several deliveries run as tasks on the running loop: the
    agent's coroutine is awaited here, and what it raises becomes a finding."""
    findings: list[Finding] = []
    reply: Reply | None = None
    try:
        result = agent(task)
        if inspect.isawaitable(result):
            result = await result
        reply = _as_reply(result, findings)
    except (AgentCrashed, DeliveryStopped):
        pass  # killed by an agent_crash fault, or its run is over: no finding of the agent's
    except asyncio.CancelledError:
        raise  # the run's deadline, or a delivery given up as blocked: not the agent's doing
    except BaseException as error:  # the agent's, whatever it is
        findings.append(_finding_for(error, task.budget.seconds, wall_limit))
    return AgentRun(reply, findings)


def _settle(watch: Watch | None) -> None:
    """End the watch, even if a last interruption arrives while doing so."""
    while watch is not None:
        try:
            watch.end()
            return
        except AgentHung:
            continue


class _AsyncHang(Exception):
    pass


def _call(agent: Agent, task: Task, clock: VirtualClock, deadline: float) -> Any:
    result = agent(task)
    if inspect.iscoroutine(result):
        return run_virtual(_bounded(result, deadline - clock.monotonic(), clock, deadline), clock)
    if inspect.isawaitable(result):

        async def wrap() -> Any:
            return await result

        return run_virtual(_bounded(wrap(), deadline - clock.monotonic(), clock, deadline), clock)
    return result


async def _bounded(
    coro: Coroutine[Any, Any, Any], remaining: float, clock: VirtualClock, deadline: float
) -> Any:
    try:
        return await asyncio.wait_for(coro, timeout=max(remaining, 0.0))
    except TimeoutError:
        if clock.monotonic() >= deadline:
            raise _AsyncHang from None
        raise


def _as_reply(result: Any, findings: list[Finding]) -> Reply | None:
    if isinstance(result, Reply):
        return result
    if isinstance(result, str):
        return Reply(text=result)
    findings.append(
        Finding(
            kind="bad_reply",
            message=(
                f"The agent returned {type(result).__name__} ({_shown(result, 80)}); an agent "
                "must return its final reply as a str or a chaoskit.Reply."
            ),
        )
    )
    return None


def _finding_for(error: BaseException, deadline: float, wall_limit: float) -> Finding:
    if isinstance(error, VirtualDeadlineExceeded | _AsyncHang):
        return _hung_virtually(deadline)
    if isinstance(error, AgentHung):
        return hung_for_real(wall_limit, stopped=True)
    if isinstance(error, AgentFailed):
        return Finding(kind=error.kind, message=error.message)
    if isinstance(error, SystemExit | KeyboardInterrupt | GeneratorExit):
        return _exited(error)
    return _raised(error)


def _hung_virtually(deadline: float) -> Finding:
    return Finding(
        kind="agent_hung",
        message=(
            f"The agent was still running after {deadline:g} s of virtual time (the scenario's "
            "budget.seconds) and was stopped: it is sleeping or waiting in a loop that never "
            "ends. Give its retries a bound or a deadline."
        ),
    )


def hung_for_real(wall_limit: float, *, stopped: bool) -> Finding:
    what = (
        "was stopped"
        if stopped
        else "did not stop when interrupted (it swallows the interruption, or waits inside C "
        "code) and was abandoned: its thread may still be running, and the world refuses "
        "its calls from now on"
    )
    return Finding(
        kind="agent_hung",
        message=(
            f"The agent ran for {wall_limit:g} s of real time without finishing (a busy loop, "
            f"or a wait chaoskit cannot make virtual) and {what}. Bound its loops; if it is "
            "only slow, raise the limit: [budget] wall_seconds in the scenario, or "
            "--wall-seconds / --chaos-wall-seconds."
        ),
    )


def _exited(error: BaseException) -> Finding:
    name = type(error).__name__
    detail = f" with code {_shown(error.code, 40)}" if isinstance(error, SystemExit) else ""
    return Finding(
        kind="agent_raised",
        message=(
            f"The agent raised {name}{detail}{_where(error)}. An agent must not try to end the "
            "process or the test session; chaoskit caught it and went on with the run."
        ),
    )


def _raised(error: BaseException) -> Finding:
    return Finding(
        kind="agent_raised",
        message=(
            f"The agent raised {type(error).__name__}: {_shown(error, 300, use_str=True)}"
            f"{_where(error)}. An agent should report failures in its reply, not crash."
        ),
    )


def _where(error: BaseException) -> str:
    frames = traceback.extract_tb(error.__traceback__)
    return f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""


def _shown(value: object, limit: int, *, use_str: bool = False) -> str:
    """``str``/``repr`` of something the agent made, which may raise or be huge."""
    try:
        text = str(value) if use_str else repr(value)
    except BaseException:  # its __str__ or __repr__ raised: say so instead of crashing
        text = f"<{type(value).__name__} whose {'str' if use_str else 'repr'} raised>"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _threads_left(before: set[threading.Thread]) -> list[threading.Thread]:
    return [
        t
        for t in threading.enumerate()
        if t not in before
        and t not in _OWN
        and not is_server_thread(t)  # the fakes served on loopback: chaoskit's, not the agent's
        and t.is_alive()
        and not _idle_pool_worker(t)
    ]


def _idle_pool_worker(thread: threading.Thread) -> bool:
    """A worker of a ``ThreadPoolExecutor`` with nothing left to do: an agent that keeps a pool
    for the next task has left no work running (its next task's calls are that task's own).

    Read from the executor's internals; anything unexpected counts as a thread left running.
    """
    if getattr(thread, "_target", None) is not _POOL_WORKER:
        return False
    try:
        pool = thread._args[0]()  # type: ignore[attr-defined]
        idle = pool._idle_semaphore._value >= len(pool._threads)
        return bool(idle and pool._work_queue.empty())
    except Exception:  # another Python's executor: do not guess
        return False


def _left_finding(left: list[threading.Thread]) -> Finding:
    names = ", ".join(sorted(_shown(t.name, 60, use_str=True) for t in left))
    return Finding(
        kind="threads_left",
        message=(
            f"The agent left {len(left)} thread(s) running after it returned ({names}); their "
            "requests could land in a later example, so the world refuses them from now on. "
            "Join them before returning."
        ),
    )
