"""The virtual clock: the one source of time inside a world.

Time in a world is virtual: sleeps, timeouts, ``Retry-After`` waits and latency faults advance
this clock instead of waiting. Patching the standard library to read it lives in
:mod:`chaoskit.world.timepatch`; this module is only the clock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

#: 2026-01-01T00:00:00Z. A fixed epoch keeps traces and ``created`` fields identical run to run.
DEFAULT_EPOCH = 1_767_225_600.0


class VirtualDeadlineExceeded(BaseException):
    """Raised in an agent that sleeps past its run's virtual deadline.

    A ``BaseException`` so that an agent's ``except Exception`` retry loop cannot swallow it.
    """

    def __init__(self, deadline: float) -> None:
        super().__init__(f"chaoskit: the run passed its virtual deadline of {deadline:g} s")
        self.deadline = deadline


class VirtualClock:
    """A thread-safe clock that only moves when told to.

    >>> clock = VirtualClock()
    >>> clock.sleep(2.5)
    >>> clock.monotonic()
    2.5
    """

    __slots__ = ("_elapsed", "_lock", "deadline", "epoch", "on_sleep")

    def __init__(self, *, epoch: float = DEFAULT_EPOCH) -> None:
        self.epoch = epoch
        self._elapsed = 0.0
        self._lock = threading.Lock()
        #: Called with the length of every sleep (the world records them in its trace).
        self.on_sleep: Callable[[float], None] | None = None
        #: Virtual time after which a sleep raises :class:`VirtualDeadlineExceeded`.
        self.deadline: float | None = None

    def monotonic(self) -> float:
        """Virtual seconds since the clock started."""
        return self._elapsed

    def time(self) -> float:
        """Virtual seconds since the Unix epoch."""
        return self.epoch + self._elapsed

    def advance(self, seconds: float) -> None:
        """Move the clock forward; a negative step is a bug in the caller."""
        if seconds < 0:
            raise ValueError(f"chaoskit: the virtual clock cannot go backwards (step {seconds})")
        with self._lock:
            self._elapsed += seconds

    def sleep(self, seconds: float) -> None:
        """What ``time.sleep`` does in a world: raise like it on bad input, then advance."""
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        self.advance(float(seconds))
        if self.on_sleep is not None:
            self.on_sleep(float(seconds))
        if self.deadline is not None and self._elapsed > self.deadline:
            raise VirtualDeadlineExceeded(self.deadline)

    def __repr__(self) -> str:
        return f"VirtualClock(t={self._elapsed:.6f})"
