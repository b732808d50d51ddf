"""Running one agent once, safely: whatever it does, the run goes on and says what happened.

The agent runs in a thread of its own, which chaoskit can give up on. The engine's thread
waits for it, runs the Hypothesis draws it asks for (Hypothesis is driven from one thread
only) and watches the real clock:

- sleep loops and async hangs are stopped by the virtual deadline (``budget.seconds``);
- past the wall limit (``budget.wall_seconds``, else the run's ``wall_guard``) the agent is
  interrupted with :class:`AgentHung`, again and again while it swallows it, and after a short
  grace it is abandoned: the example is recorded ``agent_hung`` and the run goes on;
- whatever it raises, ``SystemExit``, ``KeyboardInterrupt`` and ``GeneratorExit`` included,
  becomes a finding, with a message that survives exceptions whose ``str`` raises;
- threads it leaves running are a finding of this example, and the world refuses their calls
  from then on, so they can never be counted in another example.

An abandoned thread cannot be killed (Python has no way to); it is refused by the world and
left to run. ``os._exit`` ends the process: nothing in-process can survive it.
"""

from __future__ import annotations

import asyncio
import ctypes
import inspect
import queue
import threading
import traceback
import weakref
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from chaoskit.core.agent import Agent, Reply, Task
from chaoskit.core.clock import VirtualClock, VirtualDeadlineExceeded
from chaoskit.results import Finding
from chaoskit.world.timepatch import real_monotonic, run_virtual

__all__ = ["AgentHung", "AgentRun", "Conductor", "run_agent"]

_T = TypeVar("_T")

#: Threads chaoskit starts itself: never "left by the agent".
_OWN: weakref.WeakSet[threading.Thread] = weakref.WeakSet()


class AgentHung(BaseException):
    """Raised inside an agent that ran past the wall limit."""


class _Aborted(BaseException):
    """Raised inside an agent whose request to the engine failed (Hypothesis ended the example)."""


@dataclass
class AgentRun:
    """What one run of the agent gave: its reply, the findings, the threads given up on."""

    reply: Reply | None
    findings: list[Finding]
    #: The agent's thread if it was abandoned, and every thread it left running.
    abandoned: tuple[threading.Thread, ...] = ()


@dataclass
class _Request:
    fn: Callable[[], Any]
    done: threading.Event = field(default_factory=threading.Event)
    value: Any = None
    failed: bool = False


@dataclass
class _Outcome:
    value: Any = None
    error: BaseException | None = None


class _Worker:
    """The thread agents run in, kept from one example to the next (a thread start costs more
    than the rest of the engine's work around an example)."""

    def __init__(self) -> None:
        self.jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._loop, name="chaoskit-agent", daemon=True)
        _OWN.add(self.thread)
        self.thread.start()

    def _loop(self) -> None:
        while True:
            try:
                job = self.jobs.get()
                if job is None:
                    return
                job()
            except AgentHung:  # an interruption that arrived just after its job ended
                continue

    def retire(self) -> None:
        self.jobs.put(None)  # ends the thread once it is free, if ever


class Conductor:
    """The engine's side of the agent's thread: starts it, serves it, gives up on it.

    :meth:`ask` is how code running inside the agent (a fault decision, a model misbehaviour)
    gets something done on the engine's thread: Hypothesis's draws must happen there. Call
    :meth:`close` when done with it.
    """

    def __init__(self) -> None:
        self._requests: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()
        self._worker: _Worker | None = None
        self._agent: threading.Thread | None = None
        self._engine: threading.Thread | None = None
        self._engine_error: BaseException | None = None
        #: Whether the last run reached the wall limit (stopped there, or abandoned).
        self.hit_wall_limit = False

    def may_ask(self) -> bool:
        """Whether this thread may :meth:`ask`: the agent's own thread, or the engine's.

        Threads the agent starts may not: the order of their requests would change from one
        run to the next, and so would the examples Hypothesis replays.
        """
        here = threading.current_thread()
        return self._agent is None or here is self._engine or here is self._agent

    def ask(self, fn: Callable[[], _T]) -> _T:
        """``fn()`` on the engine's thread (call :meth:`may_ask` first).

        Outside a run (no agent thread), ``fn`` runs where it is called.
        """
        here = threading.current_thread()
        if self._agent is None or here is self._engine:
            return fn()
        if here is not self._agent:
            raise RuntimeError("chaoskit: Conductor.ask from a thread that may not ask")
        request = _Request(fn)
        self._requests.put(request)
        request.done.wait()
        if request.failed:
            raise _Aborted
        result: _T = request.value
        return result

    def run(
        self, body: Callable[[], Any], *, wall_limit: float
    ) -> tuple[_Outcome, threading.Thread | None]:
        """Run ``body`` in the agent's thread: its outcome, and the thread if it was abandoned.

        An error of the engine's own (raised by a request it ran) is raised again here.
        """
        outcome = _Outcome()
        requests: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()

        def job() -> None:
            try:
                outcome.value = body()
            except BaseException as error:  # everything: the agent's thread must report back
                outcome.error = error
            finally:
                requests.put(None)

        worker = self._worker = self._worker or _Worker()
        self._requests, self._agent = requests, worker.thread
        self._engine, self._engine_error = threading.current_thread(), None
        self.hit_wall_limit = False
        finished = False
        try:
            worker.jobs.put(job)
            finished = self._serve(worker.thread, requests, wall_limit)
        finally:
            self._agent = None
            if not finished or self.hit_wall_limit:  # never reuse a thread that was interrupted
                worker.retire()
                self._worker = None
        if self._engine_error is not None:
            raise self._engine_error
        return outcome, None if finished else worker.thread

    def close(self) -> None:
        """Let the agent's thread end."""
        if self._worker is not None:
            self._worker.retire()
            self._worker = None

    def _serve(
        self,
        thread: threading.Thread,
        requests: queue.SimpleQueue[_Request | None],
        wall_limit: float,
    ) -> bool:
        """Serve the agent's requests until it ends (True) or is given up on (False)."""
        started = real_monotonic()
        grace = min(1.0, max(wall_limit, 0.05))
        while True:
            elapsed = real_monotonic() - started
            if elapsed >= wall_limit + grace:
                self._give_up(requests)
                return False
            if elapsed >= wall_limit:
                self.hit_wall_limit = True
                _async_raise(thread, AgentHung)  # again each tick: it may swallow one
            # Short slices: a Ctrl-C is handled between two waits, never after the whole limit.
            wait = min(wall_limit - elapsed, 0.1) if elapsed < wall_limit else 0.05
            try:
                request = requests.get(timeout=max(wait, 0.001))
            except queue.Empty:
                continue
            if request is None:
                return True
            self._answer(request)

    def _answer(self, request: _Request) -> None:
        try:
            request.value = request.fn()
        except BaseException as error:  # Hypothesis's own control flow (StopTest…) included
            self._engine_error = self._engine_error or error
            request.failed = True
        request.done.set()

    @staticmethod
    def _give_up(requests: queue.SimpleQueue[_Request | None]) -> None:
        """Release whatever the abandoned agent waits on: its requests fail from now on."""
        while True:
            try:
                request = requests.get_nowait()
            except queue.Empty:
                return
            if request is not None:
                request.failed = True
                request.done.set()


def _async_raise(thread: threading.Thread, exc: type[BaseException]) -> None:
    if thread.ident is not None and thread.is_alive():
        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(thread.ident), ctypes.py_object(exc)
        )


def run_agent(
    agent: Agent,
    task: Task,
    clock: VirtualClock,
    *,
    wall_limit: float,
    conductor: Conductor | None = None,
) -> AgentRun:
    """Run ``agent`` on ``task`` inside an active world; never raises for the agent's faults."""
    own = conductor is None
    conductor = conductor or Conductor()
    deadline = task.budget.seconds
    before = set(threading.enumerate())
    clock.deadline = deadline
    try:
        outcome, abandoned = conductor.run(
            lambda: _call(agent, task, clock, deadline), wall_limit=wall_limit
        )
    finally:
        clock.deadline = None
        if own:
            conductor.close()
    findings: list[Finding] = []
    reply: Reply | None = None
    if abandoned is not None:
        findings.append(_hung_for_real(wall_limit, stopped=False))
    elif outcome.error is None:
        reply = _as_reply(outcome.value, findings)
    else:
        findings.append(_finding_for(outcome.error, deadline, wall_limit))
    left = _threads_left(before)
    if left:
        findings.append(_left_finding(left))
    stuck = () if abandoned is None else (abandoned,)
    return AgentRun(reply, findings, abandoned=(*stuck, *left))


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
        return _hung_for_real(wall_limit, stopped=True)
    if isinstance(error, _Aborted):
        return Finding(kind="agent_raised", message="The example was ended by the engine.")
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


def _hung_for_real(wall_limit: float, *, stopped: bool) -> Finding:
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
    return [t for t in threading.enumerate() if t not in before and t not in _OWN and t.is_alive()]


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
