"""Running one agent once, safely: whatever it does, the run goes on and says what happened.

An agent that raises, hangs (a sync sleep loop, a busy loop, an async task that never
finishes), returns something that is not a reply, or leaves threads running becomes a
:class:`Finding` with a clear message. Sleep loops and async hangs are stopped by the virtual
deadline (``budget.seconds``); busy loops by a real wall-clock guard as a last resort.
"""

from __future__ import annotations

import asyncio
import ctypes
import inspect
import threading
import traceback
from collections.abc import Coroutine
from typing import Any

from chaoskit.core.agent import Agent, Reply, Task
from chaoskit.core.clock import VirtualClock, VirtualDeadlineExceeded
from chaoskit.results import Finding
from chaoskit.world.timepatch import run_virtual

__all__ = ["AgentHung", "run_agent"]


class AgentHung(BaseException):
    """Injected into an agent that ran past the real wall-clock guard."""


class _Watchdog:
    """Raises :class:`AgentHung` in the running thread after ``seconds`` of real time."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.fired = False
        self._thread_id = threading.get_ident()
        self._lock = threading.Lock()
        self._done = False
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.name = "chaoskit-watchdog"

    def _fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.fired = True
            _async_raise(self._thread_id, AgentHung)

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._done = True
            self._timer.cancel()
            if self.fired and exc[0] is None:
                _async_raise(self._thread_id, None)  # not delivered yet: take it back


def _async_raise(thread_id: int, exc: type[BaseException] | None) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exc) if exc is not None else None
    )


def run_agent(
    agent: Agent, task: Task, clock: VirtualClock, *, wall_guard: float
) -> tuple[Reply | None, list[Finding]]:
    """Run ``agent`` on ``task`` inside an active world; never raises for the agent's faults."""
    deadline = task.budget.seconds
    before = set(threading.enumerate())
    findings: list[Finding] = []
    reply: Reply | None = None
    clock.deadline = deadline
    try:
        with _Watchdog(wall_guard):
            result = _call(agent, task, clock, deadline)
        reply = _as_reply(result, findings)
    except (VirtualDeadlineExceeded, _AsyncHang):
        findings.append(_hung_virtually(deadline))
    except AgentHung:
        findings.append(
            Finding(
                kind="agent_hung",
                message=(
                    f"The agent ran for {wall_guard:g} s of real time without finishing (a busy "
                    "loop, or a wait chaoskit cannot make virtual) and was stopped. Bound its "
                    "loops, or raise the wall-clock guard if it is only slow."
                ),
            )
        )
    except Exception as error:
        findings.append(_raised(error))
    finally:
        clock.deadline = None
    findings.extend(_threads_left(before))
    return reply, findings


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
                f"The agent returned {type(result).__name__} ({result!r:.80}); an agent must "
                "return its final reply as a str or a chaoskit.Reply."
            ),
        )
    )
    return None


def _hung_virtually(deadline: float) -> Finding:
    return Finding(
        kind="agent_hung",
        message=(
            f"The agent was still running after {deadline:g} s of virtual time (the scenario's "
            "budget.seconds) and was stopped: it is sleeping or waiting in a loop that never "
            "ends. Give its retries a bound or a deadline."
        ),
    )


def _raised(error: Exception) -> Finding:
    frames = traceback.extract_tb(error.__traceback__)
    where = f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return Finding(
        kind="agent_raised",
        message=(
            f"The agent raised {type(error).__name__}: {error}{where}. An agent should report "
            "failures in its reply, not crash."
        ),
    )


def _threads_left(before: set[threading.Thread]) -> list[Finding]:
    left = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    left = [t for t in left if not t.name.startswith("chaoskit-")]
    if not left:
        return []
    names = ", ".join(sorted(t.name for t in left))
    return [
        Finding(
            kind="threads_left",
            message=(
                f"The agent left {len(left)} thread(s) running after it returned ({names}); "
                "their requests may land after the run and outside its checks. Join them "
                "before returning."
            ),
        )
    ]
