"""Concurrent deliveries that take turns: chaoskit, not the OS scheduler, decides who goes next.

Two (or more) deliveries of one task run at once, in threads of their own (a sync agent) or as
tasks on one event loop (an async agent), but only one of them runs at a time: it holds the
baton. Every call into a fake is a switch point (:func:`chaoskit.world.dispatch.turn`): the
delivery that reached it waits while ``choose`` says which delivery makes that call, and the
baton goes there. ``choose`` is a Hypothesis draw that shrinks toward ``None`` ("the same
delivery goes on"), so a failing interleaving shrinks to the fewest switches, and the recorded
switches replay it exactly:

>>> def choose(point: SwitchPoint) -> int | None:
...     return 2 if point.call == 2 else None  # delivery 2 makes call #2
>>> scheduler = Interleaving(choose)
>>> with scheduler.taking_turns():  # doctest: +SKIP
...     outcomes = scheduler.run([deliver, deliver])
>>> [str(s) for s in scheduler.switches]  # doctest: +SKIP
['delivery 2 ran at call #2']

A delivery that finishes or raises hands the baton to the first delivery still waiting. One
that stops outside any switch point (a lock held by a waiting delivery, an event only another
delivery sets) is *stalled*: a thread whose stack has not moved for ``stall`` real seconds, a
task when its loop has nothing left to run before the budget's end. The stall is recorded,
with where the delivery waits, and the baton goes on; a stalled delivery that gets free waits
at its next switch point like any other. When every delivery left is stalled they wait for
each other: the run ends there, those deliveries marked ``blocked``. Nothing waits for ever.
"""

from __future__ import annotations

import asyncio
import queue
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Generic, Literal, TypeVar, cast

from chaoskit.core.clock import VirtualClock
from chaoskit.engine.runner import DeliveryStopped, own_threads
from chaoskit.results import Finding
from chaoskit.world.dispatch import taking_turns
from chaoskit.world.timepatch import real_monotonic
from chaoskit.world.timepatch.loop import VirtualEventLoop

__all__ = [
    "Choose",
    "Interleaving",
    "Outcome",
    "Stall",
    "Switch",
    "SwitchPoint",
    "current_delivery",
    "in_turn",
    "stall_findings",
]

_T = TypeVar("_T")

#: How often (real seconds) a waiting scheduler looks at the thread that holds the baton.
_POLL = 0.01
#: Real seconds a thread's stack may stay still outside a switch point before it is stalled.
DEFAULT_STALL = 0.5


@dataclass(frozen=True)
class SwitchPoint:
    """A delivery reached a call into a fake: who should make that call?"""

    #: The number the call will get (calls are numbered across all deliveries, from 1).
    call: int
    #: The delivery that reached the call (it holds the baton).
    delivery: int
    #: The deliveries that could make the call instead, in order.
    others: tuple[int, ...]


#: Given a switch point, the delivery that makes the call, or None for the one that reached it.
Choose = Callable[[SwitchPoint], int | None]


@dataclass(frozen=True)
class Switch:
    """One decision that moved the baton: ``delivery`` made call ``call``, not ``left``."""

    call: int
    delivery: int
    left: int

    def __str__(self) -> str:
        return f"delivery {self.delivery} ran at call #{self.call}"


@dataclass(frozen=True)
class Stall:
    """A delivery that stopped outside any switch point while it held the baton."""

    delivery: int
    #: The number the next call would have had.
    call: int
    #: Where it waited (``file:line`` of the innermost frame outside the standard library).
    where: str
    #: The deliveries that were waiting at a switch point (or to start) then.
    waiting: tuple[int, ...]

    def __str__(self) -> str:
        at = f" at {self.where}" if self.where else ""
        others = ", ".join(str(n) for n in self.waiting) or "none"
        return (
            f"delivery {self.delivery} stopped{at}, outside any HTTP call, before call "
            f"#{self.call} (waiting at a call or to start: delivery {others})"
        )


@dataclass
class Outcome(Generic[_T]):
    """How one delivery ended: its value, what it raised, or ``blocked`` (it never ended:
    it waited on another delivery that waited on it)."""

    delivery: int
    value: _T | None = None
    error: BaseException | None = None
    blocked: bool = False


_State = Literal["start", "parked", "running", "stalled", "stuck", "done"]
_Report = Literal["call", "done", "stalled"]


class _Lane:
    """One delivery as the scheduler sees it."""

    def __init__(self, owner: Interleaving, number: int) -> None:
        self.owner = owner
        self.number = number
        self.state: _State = "start"
        #: Its next switch point is already decided: it makes that call without asking.
        self.granted = False
        #: A task's turn taken at an await point, for the call the world then serves.
        self.turn_taken = False
        #: Stalled, then given the baton again when no one else could run.
        self.watched_again = False
        self.go = threading.Event()
        self.ago: asyncio.Event | None = None
        self.thread: threading.Thread | None = None
        self.task: asyncio.Task[None] | None = None
        self.outcome: Outcome[object] = Outcome(number)

    def wake(self) -> None:
        self.state = "running"
        if self.owner.on_turn is not None:
            self.owner.on_turn(self.number)
        if self.ago is not None:
            self.ago.set()
        else:
            self.go.set()


_CURRENT: ContextVar[_Lane | None] = ContextVar("chaoskit_delivery", default=None)


def current_delivery() -> int | None:
    """The number of the concurrent delivery running this code (1, 2, …), or None outside any."""
    lane = _CURRENT.get()
    return None if lane is None else lane.number


def in_turn() -> bool:
    """Whether the calling code is a concurrent delivery that holds the baton: its draws happen
    in the order the switches fix, so they replay (a thread of the agent's own does not)."""
    lane = _CURRENT.get()
    return lane is not None and lane.owner._holder is lane and not lane.owner._stopped


class Interleaving:
    """A deterministic cooperative scheduler for concurrent deliveries (see the module).

    ``next_call`` gives the number the next call into a fake will get (the world's count plus
    one); by default the scheduler counts the calls it lets through itself. ``stall``: real
    seconds a thread may wait, its stack unchanged, outside a switch point before it counts as
    stalled. ``clock``: the run's clock, whose deadline tells a stalled task apart from one
    that sleeps. ``on_turn(delivery)`` is called each time a delivery is given the baton,
    before it runs on (while no delivery runs).
    """

    def __init__(
        self,
        choose: Choose,
        *,
        next_call: Callable[[], int] | None = None,
        stall: float = DEFAULT_STALL,
        clock: VirtualClock | None = None,
        on_turn: Callable[[int], None] | None = None,
    ) -> None:
        self.choose = choose
        self.on_turn = on_turn
        self.stall = stall
        self.clock = clock
        self.switches: list[Switch] = []
        self.stalls: list[Stall] = []
        self._next_call = next_call
        self._counted = 0
        self._lanes: list[_Lane] = []
        self._holder: _Lane | None = None
        self._stopped = False
        self._reports: queue.SimpleQueue[tuple[_Lane, _Report]] = queue.SimpleQueue()
        self._areports: asyncio.Queue[tuple[_Lane, _Report]] | None = None

    # -- running the deliveries ---------------------------------------------------------------

    def run(self, bodies: Sequence[Callable[[], _T]]) -> list[Outcome[_T]]:
        """Run each body in a thread of its own, one at a time as the switches say; every
        body's outcome, in order. Call it inside :meth:`taking_turns`."""
        lanes = self._new_lanes(len(bodies))
        for lane, body in zip(lanes, bodies, strict=True):
            lane.thread = threading.Thread(
                target=self._thread_main,
                args=(lane, body),
                name=f"chaoskit-delivery-{lane.number}",
                daemon=True,
            )
            own_threads([lane.thread])
            lane.thread.start()
        try:
            holder: _Lane | None = self._begin(lanes[0])
            while holder is not None:
                lane, what = self._thread_report(holder)
                holder = self._advance(holder, lane, what)
        finally:
            self._stop()
        return cast("list[Outcome[_T]]", [lane.outcome for lane in lanes])

    async def gather(self, bodies: Sequence[Callable[[], Awaitable[_T]]]) -> list[Outcome[_T]]:
        """Run each body as a task on the running loop, one at a time as the switches say;
        every body's outcome, in order. Call it inside :meth:`taking_turns`."""
        loop = asyncio.get_running_loop()
        self._areports = asyncio.Queue()
        lanes = self._new_lanes(len(bodies))
        for lane, body in zip(lanes, bodies, strict=True):
            lane.ago = asyncio.Event()
            lane.task = loop.create_task(self._task_main(lane, body))
        idle = loop.on_idle if isinstance(loop, VirtualEventLoop) else None
        if idle is not None:
            idle(self._idle)
        try:
            holder: _Lane | None = self._begin(lanes[0])
            while holder is not None:
                lane, what = await self._areports.get()
                holder = self._advance(holder, lane, what)
        finally:
            if idle is not None:
                idle(None)
            self._stop()
            for lane in lanes:
                if lane.task is not None and not lane.task.done():
                    lane.task.cancel()  # blocked for good, or the run was interrupted
        return cast("list[Outcome[_T]]", [lane.outcome for lane in lanes])

    @contextmanager
    def taking_turns(self) -> Iterator[Interleaving]:
        """Make this scheduler decide the world's switch points while the block runs."""
        with taking_turns(self):
            yield self

    @property
    def outcomes(self) -> tuple[Outcome[object], ...]:
        """Every delivery's outcome so far, in order."""
        return tuple(lane.outcome for lane in self._lanes)

    @property
    def left(self) -> tuple[threading.Thread, ...]:
        """Threads of deliveries that never ended (blocked, or running on after an
        interruption): the world must refuse their calls from now on."""
        return tuple(
            lane.thread
            for lane in self._lanes
            if lane.thread is not None and lane.thread.is_alive()
        )

    # -- switch points (called by the world and the asynchronous clients) ----------------------

    def before_call(self) -> None:
        lane = self._mine()
        if lane is None:
            return
        if self._stopped:
            raise DeliveryStopped  # see _stop
        if lane.task is not None:
            # Its turn was taken at the client's await point; a sync client inside a task
            # cannot wait here without stopping the loop, so its call goes on.
            lane.turn_taken = False
            return
        if lane.granted:
            lane.granted = False
        else:
            self._reports.put((lane, "call"))
            lane.go.wait()
            lane.go.clear()
            if self._stopped:
                raise DeliveryStopped
        self._counted += 1

    async def before_async_call(self) -> None:
        lane = self._mine()
        if lane is None or lane.ago is None or self._areports is None:
            return
        if self._stopped:
            raise DeliveryStopped  # see _stop
        if lane.granted:
            lane.granted = False
        else:
            self._areports.put_nowait((lane, "call"))
            await lane.ago.wait()
            lane.ago.clear()
            if self._stopped:
                raise DeliveryStopped
        lane.turn_taken = True
        self._counted += 1

    # -- the decisions ---------------------------------------------------------------------------

    def _advance(self, holder: _Lane, lane: _Lane, what: _Report) -> _Lane | None:
        """Take one report into account; the delivery that holds the baton from now on (None:
        none can run, all done or all blocked)."""
        lane.watched_again = lane.watched_again and what == "stalled"
        if lane is not holder:  # a stalled delivery got free: it ended, or waits at a call
            lane.state = "done" if what == "done" else "parked"
            return holder
        if what == "call":
            target = self._decide(lane)
            if target is not lane:
                lane.state = "parked"
                # One waiting to start makes this call at its first switch point; one parked at
                # a switch point makes it as soon as it wakes.
                target.granted = target.state == "start"
            self._holder = target  # before it wakes: from then on its draws count
            target.wake()
            return target
        if what == "stalled":
            lane.granted = False  # the call it was given goes to whoever runs next
            if lane.watched_again:
                lane.state = "stuck"
            else:
                lane.state = "stalled"
                self.stalls.append(
                    Stall(lane.number, self._call_number(), _where(lane), self._waiting(lane))
                )
        else:
            lane.state = "done"
        return self._hand_on()

    def _decide(self, lane: _Lane) -> _Lane:
        others = tuple(o.number for o in self._lanes if o is not lane and _can_run(o))
        if not others:
            return lane
        call = self._call_number()
        pick = self.choose(SwitchPoint(call=call, delivery=lane.number, others=others))
        if pick is None or pick == lane.number:
            return lane
        if pick not in others:
            raise ValueError(
                f"chaoskit: the interleaving chose delivery {pick} at call #{call}, which cannot "
                f"run now; the deliveries that can: {', '.join(map(str, others))}."
            )
        self.switches.append(Switch(call=call, delivery=pick, left=lane.number))
        return self._lanes[pick - 1]

    def _hand_on(self) -> _Lane | None:
        """The baton after its holder ended or stalled: to the first delivery that can run;
        with none, to a stalled one, watched again in case what it waited for has come (one
        that stalls twice, with no one else able to run, is stuck)."""
        for lane in self._lanes:
            if _can_run(lane):
                lane.granted = lane.state == "start"  # no choice was made for its first call
                self._holder = lane
                lane.wake()
                return lane
        for lane in self._lanes:
            if lane.state == "stalled":
                lane.state, lane.watched_again = "running", True
                self._holder = lane
                return lane
        self._holder = None
        for lane in self._lanes:
            if lane.state == "stuck":
                lane.outcome.blocked = True  # each waits on another that waits: a deadlock
        return None

    def _begin(self, first: _Lane) -> _Lane:
        self._holder = first
        first.wake()
        return first

    def _call_number(self) -> int:
        return self._next_call() if self._next_call is not None else self._counted + 1

    def _waiting(self, stalled: _Lane) -> tuple[int, ...]:
        return tuple(o.number for o in self._lanes if o is not stalled and _can_run(o))

    # -- threads ---------------------------------------------------------------------------------

    def _thread_main(self, lane: _Lane, body: Callable[[], object]) -> None:
        _CURRENT.set(lane)
        lane.go.wait()
        lane.go.clear()
        if self._stopped:
            return  # the run ended before this delivery's turn came
        try:
            lane.outcome.value = body()
        except BaseException as error:  # the delivery's own outcome, whatever it is
            lane.outcome.error = error
        finally:
            self._reports.put((lane, "done"))

    def _thread_report(self, holder: _Lane) -> tuple[_Lane, _Report]:
        """The next report; ``(holder, "stalled")`` once the holder's stack stays still."""
        seen, since = None, real_monotonic()
        while True:
            try:
                return self._reports.get(timeout=_POLL)
            except queue.Empty:
                pass
            now, where = real_monotonic(), _position(holder)
            if where != seen:
                seen, since = where, now
            elif now - since >= self.stall:
                return holder, "stalled"

    # -- tasks -----------------------------------------------------------------------------------

    async def _task_main(self, lane: _Lane, body: Callable[[], Awaitable[object]]) -> None:
        _CURRENT.set(lane)
        assert lane.ago is not None and self._areports is not None
        await lane.ago.wait()
        lane.ago.clear()
        if self._stopped:
            return  # the run ended before this delivery's turn came
        try:
            lane.outcome.value = await body()
        except BaseException as error:  # the delivery's own outcome, whatever it is
            lane.outcome.error = error
        finally:
            self._areports.put_nowait((lane, "done"))

    def _idle(self, timeout: float | None) -> bool:
        """The loop has nothing ready: the holder waits on something no timer will end before
        the budget's end (a lock another delivery holds), unless it only sleeps."""
        holder = self._holder
        if holder is None or holder.state != "running" or self._areports is None:
            return False
        deadline = None if self.clock is None else self.clock.deadline
        if timeout is not None and (deadline is None or self._now() + timeout < deadline):
            return False  # a timer wakes someone before the end: a sleep, not a stall
        self._areports.put_nowait((holder, "stalled"))
        return True

    def _now(self) -> float:
        return 0.0 if self.clock is None else self.clock.monotonic()

    # -- helpers ---------------------------------------------------------------------------------

    def _new_lanes(self, count: int) -> list[_Lane]:
        if self._lanes:
            raise RuntimeError("chaoskit: an Interleaving runs its deliveries once; make another.")
        if count < 1:
            raise ValueError("chaoskit: an Interleaving needs at least one delivery to run.")
        self._lanes = [_Lane(self, number) for number in range(1, count + 1)]
        return self._lanes

    def _mine(self) -> _Lane | None:
        lane = _CURRENT.get()
        if lane is None or lane.owner is not self:
            return None
        return lane

    def _stop(self) -> None:
        """The run is over (done, deadlocked, or interrupted): no delivery gets the baton
        again. One waiting to start ends at once; one waiting at a switch point, or reaching
        one later (a blocked one that got free, one the run gave up on), gets
        :class:`DeliveryStopped` there instead of its call: whatever it would do next would
        land in a later example."""
        self._stopped = True
        self._holder = None
        for lane in self._lanes:  # whichever is waiting, or will: a stopped run never blocks
            lane.go.set()
            if lane.ago is not None:
                lane.ago.set()


def _can_run(lane: _Lane) -> bool:
    return lane.state in ("start", "parked")


def _position(lane: _Lane) -> object:
    """What changes while the lane's thread does anything: the CPU time it used (a thread
    blocked on a lock uses none), else its innermost frame and instruction."""
    ident = None if lane.thread is None else lane.thread.ident
    if ident is None:
        return None
    try:
        return time.clock_gettime(time.pthread_getcpuclockid(ident))
    except (AttributeError, OSError):  # no per-thread CPU clock here (Windows)
        frame = sys._current_frames().get(ident)
        return None if frame is None else (id(frame.f_code), frame.f_lasti)


#: Code whose frames never say where a delivery waits: Python's own library, chaoskit's engine
#: and world.
_LIBRARY = (
    str(Path(threading.__file__).parent),
    str(Path(__file__).parent),
    str(Path(__file__).parents[1] / "world"),
)


def _where(lane: _Lane) -> str:
    """The innermost ``file:line`` of the lane's code outside Python's library and chaoskit."""
    frames: list[FrameType] = []
    if lane.thread is not None and lane.thread.ident is not None:
        frame = sys._current_frames().get(lane.thread.ident)
        while frame is not None:
            frames.append(frame)
            frame = frame.f_back
    elif lane.task is not None:
        frames = list(reversed(lane.task.get_stack()))
    for frame in frames:
        name = frame.f_code.co_filename
        if not name.startswith(_LIBRARY):
            return f"{name}:{frame.f_lineno}"
    return ""


def stall_findings(scheduler: Interleaving) -> list[Finding]:
    """What the stalls of a run of concurrent deliveries mean, as findings: a delivery that
    waited outside any HTTP call on another (a lock held across a call), and deliveries that
    waited on each other for good."""
    findings = [
        Finding(
            kind="delivery_blocked",
            message=(
                f"{str(stall)[0].upper()}{str(stall)[1:]}: it waited on something another "
                "delivery held across an HTTP call (a lock or an event in memory). Two workers "
                "of a real queue run in separate processes, where an in-memory lock protects "
                "nothing; claim the work in task.store (task.store.claim) or make the effect "
                "idempotent with a key derived from task.id."
            ),
        )
        for stall in scheduler.stalls
    ]
    blocked = [str(o.delivery) for o in scheduler.outcomes if o.blocked]
    if blocked:
        findings.append(
            Finding(
                kind="delivery_blocked",
                message=(
                    f"Deliveries {' and '.join(blocked)} waited on each other and would never "
                    "have ended (a deadlock: each holds what the other waits for); chaoskit "
                    "stopped waiting, and the world refuses their calls from now on."
                ),
            )
        )
    return findings
