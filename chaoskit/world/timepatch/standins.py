"""The stand-ins installed over the standard library's clocks: ``time.sleep`` and friends,
``asyncio.sleep`` and the ``datetime.datetime`` / ``datetime.date`` classes."""

from __future__ import annotations

import asyncio
import datetime
import math
import threading
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

from chaoskit.core.clock import VirtualClock
from chaoskit.world.timepatch import state
from chaoskit.world.timepatch.loop import VirtualEventLoop, _running_loop
from chaoskit.world.timepatch.state import _REAL

if TYPE_CHECKING:
    from typing import Self

__all__ = [
    "VirtualDate",
    "VirtualDatetime",
    "_real_loop_time",
    "_reduce_date",
    "_reduce_datetime",
    "_virtual_asyncio_sleep",
    "_virtual_monotonic",
    "_virtual_monotonic_ns",
    "_virtual_sleep",
    "_virtual_time",
    "_virtual_time_ns",
]

_T = TypeVar("_T")


def _virtual_sleep(secs: float) -> None:
    clock = state._current
    if clock is None:
        return _REAL.sleep(secs)
    if math.isnan(secs):
        raise ValueError("Invalid value NaN (not a number)")
    clock.sleep(secs)
    # A real sleep releases the GIL; yielding keeps threads that poll with sleep() fair. Only
    # threads started since the world began (the agent's own) can be waiting for it: with none,
    # the yield would only hand the GIL to the engine's watchdog, for nothing.
    if threading.active_count() > state._threads_at_start:
        _REAL.sleep(0)


def _virtual_time() -> float:
    clock = state._current
    return _REAL.time() if clock is None else clock.time()


def _virtual_time_ns() -> int:
    clock = state._current
    if clock is None:
        return _REAL.time_ns()
    # Summed in two parts: the epoch alone already uses most of a float's 53 bits.
    return round(clock.epoch * 1e9) + round(clock.monotonic() * 1e9)


def _virtual_monotonic() -> float:
    clock = state._current
    return _REAL.monotonic() if clock is None else clock.monotonic()


def _virtual_monotonic_ns() -> int:
    clock = state._current
    return _REAL.monotonic_ns() if clock is None else round(clock.monotonic() * 1e9)


async def _virtual_asyncio_sleep(delay: float, result: _T | None = None) -> _T | None:
    clock = state._current
    # A VirtualEventLoop turns the real sleep into a clock jump of its own, and that keeps
    # wait_for() and timeout() deadlines honest; jumping here would let a sleep outrun them.
    if clock is None or isinstance(_running_loop(), VirtualEventLoop):
        return cast("_T | None", await _REAL.asyncio_sleep(delay, result))
    # A foreign loop runs on real time, so the best we can do is jump and let others run once.
    if delay > 0:
        clock.advance(delay)
    return cast("_T | None", await _REAL.asyncio_sleep(0, result))


def _real_loop_time(self: asyncio.AbstractEventLoop) -> float:
    return _REAL.monotonic()


class _StandInMeta(type):
    """Lets the stand-in classes pass for the real ones in ``isinstance``, ``==`` and dict keys.

    Instances are always real ``datetime``/``date`` objects, so ``isinstance(x, datetime.datetime)``
    must hold for them while the stand-in is installed, and tables keyed by the real class (like
    pydantic's schema handlers) must still find it.
    """

    def _chaoskit_real(cls) -> type | None:
        real = cls.__dict__.get("_real_class")
        return real if isinstance(real, type) else None

    def __instancecheck__(cls, instance: object) -> bool:
        real = cls._chaoskit_real()
        return isinstance(instance, real) if real else super().__instancecheck__(instance)

    def __subclasscheck__(cls, subclass: type) -> bool:
        real = cls._chaoskit_real()
        return issubclass(subclass, real) if real else super().__subclasscheck__(subclass)

    def __eq__(cls, other: object) -> bool:
        real = cls._chaoskit_real()
        return other is cls or (real is not None and other is real)

    def __hash__(cls) -> int:
        real = cls._chaoskit_real()
        return hash(real) if real else super().__hash__()


if TYPE_CHECKING:
    _DatetimeBase = datetime.datetime
    _DateBase = datetime.date
else:
    _DatetimeBase = _REAL.datetime_class
    _DateBase = _REAL.date_class


def _utc_now(clock: VirtualClock) -> datetime.datetime:
    return _REAL.datetime_class.fromtimestamp(clock.time(), datetime.UTC)


class VirtualDatetime(_DatetimeBase, metaclass=_StandInMeta):
    """``datetime.datetime`` inside a world: ``now()`` reads the virtual clock.

    Naive results are UTC wall time, so a world reads the same on every machine.
    Constructing one returns a real ``datetime``: no instance of this class ever exists.
    """

    _real_class: ClassVar[type] = _REAL.datetime_class

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        if cls is VirtualDatetime:
            return _REAL.datetime_class(*args, **kwargs)
        return super().__new__(cls, *args, **kwargs)

    @classmethod
    def now(cls, tz: datetime.tzinfo | None = None) -> Self:
        clock = state._current
        if clock is None:
            return super().now(tz)
        if tz is None:
            return cls.fromtimestamp(clock.time(), datetime.UTC).replace(tzinfo=None)
        return cls.fromtimestamp(clock.time(), tz)

    @classmethod
    def utcnow(cls) -> Self:
        clock = state._current
        if clock is None:
            return super().utcnow()
        return cls.fromtimestamp(clock.time(), datetime.UTC).replace(tzinfo=None)

    @classmethod
    def today(cls) -> Self:
        return cls.now()


class VirtualDate(_DateBase, metaclass=_StandInMeta):
    """``datetime.date`` inside a world: ``today()`` is the virtual clock's UTC date."""

    _real_class: ClassVar[type] = _REAL.date_class

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        if cls is VirtualDate:
            return _REAL.date_class(*args, **kwargs)
        return super().__new__(cls, *args, **kwargs)

    @classmethod
    def today(cls) -> Self:
        clock = state._current
        if clock is None:
            return super().today()
        now = _utc_now(clock)
        return cls(now.year, now.month, now.day)


def _reduce_datetime(value: datetime.datetime) -> tuple[Any, ...]:
    # Pickle finds classes by name, and ``datetime.datetime`` names the stand-in while a world
    # runs; rebuilding through the stand-in (which returns a real instance) keeps pickling working.
    return (VirtualDatetime, cast("tuple[Any, ...]", value.__reduce_ex__(4))[1])


def _reduce_date(value: datetime.date) -> tuple[Any, ...]:
    return (VirtualDate, cast("tuple[Any, ...]", value.__reduce_ex__(4))[1])
