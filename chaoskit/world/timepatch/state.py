"""The real clock functions and classes, captured before anything is patched, and the lock and
the virtual clock that the patched functions share."""

from __future__ import annotations

import asyncio
import datetime
import sys
import threading
import time
import types
from collections.abc import Callable, Coroutine
from typing import Any, Final, NamedTuple, cast

from chaoskit.core.clock import VirtualClock

__all__ = ["_LOCK", "_REAL", "_Reals", "_current"]


def _true_time_function(name: str) -> Any:
    """The builtin ``time.<name>``, even when this module is imported under ``freeze_time``."""
    value = getattr(time, name)
    api = sys.modules.get("freezegun.api")
    if api is not None and not isinstance(value, types.BuiltinFunctionType):
        value = getattr(api, f"real_{name}", value)
    return value


def _stdlib_class(cls: type, name: str) -> type:
    """The class ``datetime`` defines, even when freezegun has installed a subclass over it."""
    for base in cls.__mro__:
        if base.__module__ == "datetime" and base.__name__ == name:
            return base
    return cls


class _Reals(NamedTuple):
    sleep: Callable[[float], None]
    time: Callable[[], float]
    time_ns: Callable[[], int]
    monotonic: Callable[[], float]
    monotonic_ns: Callable[[], int]
    datetime_class: type[datetime.datetime]
    date_class: type[datetime.date]
    asyncio_sleep: Callable[..., Coroutine[Any, Any, Any]]


# Held inside a tuple rather than as module globals because freezegun rewrites every module-level
# name that is identical to a real clock function, and these must stay real.
_REAL: Final = _Reals(
    sleep=_true_time_function("sleep"),
    time=_true_time_function("time"),
    time_ns=_true_time_function("time_ns"),
    monotonic=_true_time_function("monotonic"),
    monotonic_ns=_true_time_function("monotonic_ns"),
    datetime_class=cast("type[datetime.datetime]", _stdlib_class(datetime.datetime, "datetime")),
    date_class=cast("type[datetime.date]", _stdlib_class(datetime.date, "date")),
    asyncio_sleep=asyncio.tasks.sleep,
)

_LOCK: Final = threading.Lock()
#: The clock the patched functions read; ``None`` outside :func:`virtual_time`. Only
#: :mod:`~chaoskit.world.timepatch.patching` sets it; readers look it up on this module
#: (``state._current``) at each call, never keep a copy with ``from … import _current``.
_current: VirtualClock | None = None
#: How many threads were alive when the clock was activated: a virtual sleep yields the GIL
#: only when more are (threads of the agent's own, which may poll with sleep()).
_threads_at_start: int = 0
