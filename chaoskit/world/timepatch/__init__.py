"""Make the standard library read a :class:`~chaoskit.core.clock.VirtualClock`.

Two tools, used together by the engine:

* :func:`virtual_time` swaps ``time.sleep``, ``time.time``, ``time.monotonic`` (and their ``_ns``
  twins), ``datetime.datetime`` / ``datetime.date`` and ``asyncio.sleep`` for versions that read
  and advance the clock, process-wide, including the copies that modules took with
  ``from time import sleep``.
* :class:`VirtualEventLoop` and :func:`run_virtual` run a coroutine on an event loop whose time
  *is* the clock, so ``asyncio.sleep``, ``asyncio.wait_for`` and ``asyncio.timeout`` jump instead
  of waiting.

``time.perf_counter`` is deliberately left alone: profilers, pytest and Hypothesis measure real
durations with it.

The code lives in submodules: :mod:`~chaoskit.world.timepatch.state` (the real clocks and the
active one), :mod:`~chaoskit.world.timepatch.standins` (what gets installed),
:mod:`~chaoskit.world.timepatch.patching` (installing it) and
:mod:`~chaoskit.world.timepatch.loop` (the virtual event loop).
"""

from __future__ import annotations

from chaoskit.world.timepatch.loop import VirtualEventLoop, run_virtual
from chaoskit.world.timepatch.patching import current_epoch, virtual_time

# Not in __all__ (as before the split), but still reachable here: pickles taken inside a world
# before the split name the stand-in classes as ``chaoskit.world.timepatch.VirtualDatetime``.
from chaoskit.world.timepatch.standins import VirtualDate as VirtualDate
from chaoskit.world.timepatch.standins import VirtualDatetime as VirtualDatetime
from chaoskit.world.timepatch.state import _REAL

__all__ = ["VirtualEventLoop", "current_epoch", "real_monotonic", "run_virtual", "virtual_time"]


def real_monotonic() -> float:
    """The real monotonic clock, also while a world has made ``time.monotonic`` virtual."""
    return _REAL.monotonic()
