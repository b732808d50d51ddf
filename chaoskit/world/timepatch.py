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
"""

from __future__ import annotations

import asyncio
import asyncio.base_events
import builtins
import contextlib
import copyreg
import datetime
import itertools
import math
import selectors
import sys
import threading
import time
import types
from collections.abc import Callable, Coroutine, Iterator, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any, ClassVar, Final, NamedTuple, TypeVar, cast

from chaoskit.core.clock import DEFAULT_EPOCH, VirtualClock

if TYPE_CHECKING:
    from concurrent.futures import Executor
    from typing import Self, TypeVarTuple, Unpack

    from _typeshed import FileDescriptorLike

    _Ts = TypeVarTuple("_Ts")

__all__ = ["VirtualEventLoop", "current_epoch", "run_virtual", "virtual_time"]

_T = TypeVar("_T")


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
#: The clock the patched functions read; ``None`` outside :func:`virtual_time`.
_current: VirtualClock | None = None


# --- the stand-ins -------------------------------------------------------------------------------


def _virtual_sleep(secs: float) -> None:
    clock = _current
    if clock is None:
        return _REAL.sleep(secs)
    if math.isnan(secs):
        raise ValueError("Invalid value NaN (not a number)")
    clock.sleep(secs)
    # A real sleep releases the GIL; yielding keeps threads that poll with sleep() fair.
    _REAL.sleep(0)


def _virtual_time() -> float:
    clock = _current
    return _REAL.time() if clock is None else clock.time()


def _virtual_time_ns() -> int:
    clock = _current
    if clock is None:
        return _REAL.time_ns()
    # Summed in two parts: the epoch alone already uses most of a float's 53 bits.
    return round(clock.epoch * 1e9) + round(clock.monotonic() * 1e9)


def _virtual_monotonic() -> float:
    clock = _current
    return _REAL.monotonic() if clock is None else clock.monotonic()


def _virtual_monotonic_ns() -> int:
    clock = _current
    return _REAL.monotonic_ns() if clock is None else round(clock.monotonic() * 1e9)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


async def _virtual_asyncio_sleep(delay: float, result: _T | None = None) -> _T | None:
    clock = _current
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
        clock = _current
        if clock is None:
            return super().now(tz)
        if tz is None:
            return cls.fromtimestamp(clock.time(), datetime.UTC).replace(tzinfo=None)
        return cls.fromtimestamp(clock.time(), tz)

    @classmethod
    def utcnow(cls) -> Self:
        clock = _current
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
        clock = _current
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


# --- what gets patched ---------------------------------------------------------------------------

#: Each patched name, keyed by a "kind" shared with the copies modules hold of it.
_TARGETS: Final[dict[str, tuple[types.ModuleType, str]]] = {
    "time.sleep": (time, "sleep"),
    "time.time": (time, "time"),
    "time.time_ns": (time, "time_ns"),
    "time.monotonic": (time, "monotonic"),
    "time.monotonic_ns": (time, "monotonic_ns"),
    "datetime.datetime": (datetime, "datetime"),
    "datetime.date": (datetime, "date"),
    "asyncio.sleep": (asyncio, "sleep"),
}

_FAKES: Final[dict[str, object]] = {
    "time.sleep": _virtual_sleep,
    "time.time": _virtual_time,
    "time.time_ns": _virtual_time_ns,
    "time.monotonic": _virtual_monotonic,
    "time.monotonic_ns": _virtual_monotonic_ns,
    "datetime.datetime": VirtualDatetime,
    "datetime.date": VirtualDate,
    "asyncio.sleep": _virtual_asyncio_sleep,
}

_REAL_BY_KIND: Final[dict[str, object]] = {
    "time.sleep": _REAL.sleep,
    "time.time": _REAL.time,
    "time.time_ns": _REAL.time_ns,
    "time.monotonic": _REAL.monotonic,
    "time.monotonic_ns": _REAL.monotonic_ns,
    "datetime.datetime": _REAL.datetime_class,
    "datetime.date": _REAL.date_class,
    "asyncio.sleep": _REAL.asyncio_sleep,
}

#: Modules whose own clocks must stay real: test runners time tests with them, and the rest
#: pair deadlines with real blocking waits, which would never time out on a frozen clock.
_SKIP_PREFIXES: Final = (
    "pytest",
    "_pytest",
    "pluggy",
    "hypothesis",
    "_hypothesis",
    "freezegun",
    "time_machine",
    "execnet",
    "xdist",
    "coverage",
    "threading",
    "asyncio",
    "concurrent",
    "selectors",
    "chaoskit.world.timepatch",
    "chaoskit.core.clock",
)
_SKIP_EXACT: Final = frozenset(
    {"time", "datetime", "_datetime", "_pydatetime", "queue", "subprocess", "socketserver"}
)

_MISSING: Final = object()

#: A copy a module holds of a patched object: (its namespace, attribute, kind).
_Ref = tuple[dict[str, object], str, str]
#: One patch to undo: (mapping, key, value before); ``_MISSING`` means the key was absent.
_Change = tuple[MutableMapping[Any, Any], Any, object]


def _scan(name: str, module: object, candidates: Mapping[int, str]) -> list[_Ref]:
    """Which names in ``module`` hold one of the candidate objects, and of which kind."""
    if not isinstance(module, types.ModuleType) or not isinstance(name, str):
        return []
    if name.startswith(_SKIP_PREFIXES) or name in _SKIP_EXACT:
        return []
    # object.__getattribute__ reads the namespace without waking a lazily imported module.
    try:
        namespace: dict[str, object] = object.__getattribute__(module, "__dict__")
    except AttributeError:
        # cffi's `Lib` objects (cryptography's `_openssl.lib`, pulled in by pyjwt, mcp…) sit in
        # sys.modules and pass isinstance(…, ModuleType), but have no __dict__.
        return []
    return [
        (namespace, attr, kind)
        for attr, value in namespace.copy().items()  # a copy: it may still be importing
        if (kind := candidates.get(id(value))) is not None
    ]


class _ModuleIndex:
    """Where imported modules keep their own references to the patched objects.

    Scanning every module costs milliseconds, far too much once per Hypothesis example, so the
    result is kept and only modules that appeared (or were re-imported) since the last scan are
    looked at again.
    """

    __slots__ = ("_by_module", "_modules", "_scanned", "refs")

    def __init__(self) -> None:
        #: ``sys.modules``' values at the last scan, in order.
        self._modules: list[object] = []
        #: Which module object was scanned under each name.
        self._scanned: dict[str, object] = {}
        self._by_module: dict[str, list[_Ref]] = {}
        #: Every copy found so far.
        self.refs: list[_Ref] = []

    def refresh(self, originals: Mapping[str, object]) -> list[_Ref]:
        """Scan modules imported since the last call and return the copies found in them."""
        # List equality short-circuits on identity, so when nothing was imported (the usual
        # case) this is one quick C loop; a re-import under the same name changes a value.
        values: list[object] = list(sys.modules.values())
        if values == self._modules:
            return []
        candidates = _candidates(originals)
        found: list[_Ref] = []
        for name, module in self._fresh_modules(values):
            if refs := _scan(name, module, candidates):
                self._by_module[name] = refs
                found += refs
        self.refs = [ref for refs in self._by_module.values() for ref in refs]
        return found

    def _fresh_modules(self, values: list[object]) -> list[tuple[str, object]]:
        """Modules not scanned yet; forgets the ones that left ``sys.modules``."""
        known = len(self._modules)
        # Imports only append, so usually the old modules are an unchanged prefix and the new
        # ones can be sliced off in C (copying sys.modules alone would cost ~35 ns a module).
        if values[:known] == self._modules:
            fresh: list[tuple[str, object]] = list(
                itertools.islice(sys.modules.items(), known, None)
            )
            self._modules = values[:known] + [module for _, module in fresh]
            self._scanned.update(fresh)
            return fresh
        items: list[tuple[str, object]] = list(sys.modules.items())
        current = dict(items)
        for name in [n for n in self._by_module if current.get(n) is not self._scanned.get(n)]:
            del self._by_module[name]
        fresh = [(name, module) for name, module in items if self._scanned.get(name) is not module]
        self._scanned, self._modules = current, [module for _, module in items]
        return fresh


_INDEX: Final = _ModuleIndex()


def _candidates(originals: Mapping[str, object]) -> dict[int, str]:
    """Objects whose copies we track: current originals, the true builtins, and our fakes."""
    found: dict[int, str] = {}
    for table in (_REAL_BY_KIND, originals, _FAKES):
        found.update((id(value), kind) for kind, value in table.items())
    return found


def _swap(
    namespace: MutableMapping[Any, Any], key: Any, new: object, changes: list[_Change]
) -> None:
    changes.append((namespace, key, namespace.get(key, _MISSING)))
    namespace[key] = new


def _undo(changes: list[_Change]) -> None:
    for namespace, key, before in reversed(changes):
        if before is _MISSING:
            namespace.pop(key, None)
        else:
            namespace[key] = before
    changes.clear()


def _patch(originals: Mapping[str, object], changes: list[_Change]) -> None:
    for kind, (module, attr) in _TARGETS.items():
        _swap(vars(module), attr, _FAKES[kind], changes)
    for namespace, attr, kind in _INDEX.refs:
        original = originals[kind]
        # Only a copy that still is the original: a module may have rebound the name since.
        if namespace.get(attr) is original:
            namespace[attr] = _FAKES[kind]
            changes.append((namespace, attr, original))
    for cls, reducer in (
        (_REAL.datetime_class, _reduce_datetime),
        (_REAL.date_class, _reduce_date),
    ):
        if cls not in copyreg.dispatch_table:  # freezegun registers its own; keep it
            _swap(copyreg.dispatch_table, cls, reducer, changes)


def _set_loop_time(method: Any) -> object:
    """Install ``method`` as ``BaseEventLoop.time`` and return the one it replaces."""
    loop_class = asyncio.base_events.BaseEventLoop
    before = loop_class.__dict__["time"]
    loop_class.time = method  # type: ignore[method-assign]
    return before


class _Activation(NamedTuple):
    originals: dict[str, object]
    changes: list[_Change]
    loop_time: object


def _activate(clock: VirtualClock) -> _Activation:
    global _current
    with _LOCK:
        if _current is not None:
            raise RuntimeError(
                f"chaoskit: a virtual clock is already active ({_current!r}); worlds cannot be "
                "nested. Leave the outer `virtual_time(...)` (or world) before starting another, "
                "or pass its clock down instead of creating a second one."
            )
        originals = {kind: vars(module)[attr] for kind, (module, attr) in _TARGETS.items()}
        _INDEX.refresh(originals)
        changes: list[_Change] = []
        _current = clock
        try:
            _patch(originals, changes)
        except BaseException:
            _undo(changes)
            _current = None
            raise
        # Ordinary loops read time.monotonic; on a clock that only jumps when slept on, their
        # timers would never fire while they wait for real I/O. They keep real time instead.
        return _Activation(originals, changes, _set_loop_time(_real_loop_time))


def _deactivate(activation: _Activation) -> None:
    global _current
    with _LOCK:
        try:
            _set_loop_time(activation.loop_time)
            _undo(activation.changes)
            # Modules imported inside the world copied fakes; give them the originals.
            for namespace, attr, kind in _INDEX.refresh(activation.originals):
                if namespace.get(attr) is _FAKES[kind]:
                    namespace[attr] = activation.originals[kind]
        finally:
            _current = None


@contextlib.contextmanager
def virtual_time(clock: VirtualClock) -> Iterator[VirtualClock]:
    """Make the whole process read ``clock`` instead of the real time, until the block ends.

    Sleeping advances the clock instead of waiting; ``time.time()``, ``time.monotonic()``,
    ``datetime.datetime.now()`` and ``datetime.date.today()`` read it (naive values in UTC, so a
    world reads the same on every machine); ``asyncio.sleep`` on an ordinary event loop advances
    it and yields once. Copies taken with ``from time import sleep`` are covered. Everything is
    put back on exit, even on an exception. ``time.perf_counter`` stays real.

    >>> import time
    >>> clock = VirtualClock()
    >>> with virtual_time(clock):
    ...     time.sleep(15)
    >>> clock.monotonic()
    15.0

    Raises ``RuntimeError`` if another virtual clock is already active.
    """
    activation = _activate(clock)
    real_build_class = builtins.__build_class__
    setattr(builtins, "__build_class__", _build_class)  # noqa: B010 (typeshed's signature differs)
    try:
        yield clock
    finally:
        setattr(builtins, "__build_class__", real_build_class)  # noqa: B010
        _deactivate(activation)


def _build_class(func: Callable[..., Any], name: str, *bases: Any, **kwargs: Any) -> Any:
    """Class statements run while a world is active subclass the real ``datetime``/``date``.

    A module imported during a run sees the stand-ins; a class it derives from one with a
    metaclass of its own (pydantic v1's ``ConstrainedDate``) would otherwise fail with a
    metaclass conflict, since the stand-ins carry theirs.
    """
    swapped = tuple(
        _REAL.datetime_class
        if base is VirtualDatetime
        else _REAL.date_class
        if base is VirtualDate
        else base
        for base in bases
    )
    return _REAL_BUILD_CLASS(func, name, *swapped, **kwargs)


_REAL_BUILD_CLASS = builtins.__build_class__


def current_epoch() -> float:
    """The Unix time a new world should start at.

    Inside ``freezegun.freeze_time(...)`` that is the frozen time, so a world started in a frozen
    test continues from it; otherwise it is :data:`~chaoskit.core.clock.DEFAULT_EPOCH`.

    >>> current_epoch() == DEFAULT_EPOCH
    True
    """
    return float(time.time()) if _freezegun_active() else DEFAULT_EPOCH


def _freezegun_active() -> bool:
    api = sys.modules.get("freezegun.api")
    if api is None:
        return False
    now = time.time
    patched = not isinstance(now, types.BuiltinFunctionType) and now is not _virtual_time
    return bool(getattr(api, "freeze_factories", None)) or patched


# --- the virtual event loop ----------------------------------------------------------------------


class _VirtualSelector(selectors.BaseSelector):
    """A selector that, with nothing to do but wait for a timer, jumps the clock to it."""

    def __init__(self, clock: VirtualClock) -> None:
        self._real = selectors.DefaultSelector()
        self._clock = clock
        #: Executor jobs in flight: real work the loop must really wait for.
        self.threads_pending = 0

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = self._real.select(0)
        if ready or (timeout is not None and timeout <= 0):
            return ready
        # No timer to jump to, or a thread still working: only a real wake-up can help.
        if timeout is None or self.threads_pending:
            ready = self._real.select(timeout)
            if ready or timeout is None:
                return ready
        self._clock.advance(timeout)
        return []

    def register(
        self, fileobj: FileDescriptorLike, events: int, data: Any = None
    ) -> selectors.SelectorKey:
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj: FileDescriptorLike) -> selectors.SelectorKey:
        return self._real.unregister(fileobj)

    def modify(
        self, fileobj: FileDescriptorLike, events: int, data: Any = None
    ) -> selectors.SelectorKey:
        return self._real.modify(fileobj, events, data)

    def get_key(self, fileobj: FileDescriptorLike) -> selectors.SelectorKey:
        return self._real.get_key(fileobj)

    def get_map(self) -> Mapping[FileDescriptorLike, selectors.SelectorKey]:
        return self._real.get_map()

    def close(self) -> None:
        self._real.close()


class VirtualEventLoop(asyncio.SelectorEventLoop):
    """An event loop whose ``time()`` is ``clock.monotonic()``.

    When the loop would block until its next timer, it advances the clock to that timer instead,
    so ``asyncio.sleep(15)``, ``asyncio.wait_for`` and ``asyncio.timeout`` cost no wall time.
    Real I/O and executor jobs (``asyncio.to_thread``) are still waited for in real time.

    >>> clock = VirtualClock()
    >>> loop = VirtualEventLoop(clock)
    >>> loop.run_until_complete(asyncio.sleep(15))
    >>> loop.close()
    >>> clock.monotonic()
    15.0
    """

    def __init__(self, clock: VirtualClock) -> None:
        self._chaoskit_clock = clock
        self._chaoskit_selector = _VirtualSelector(clock)
        super().__init__(self._chaoskit_selector)

    @property
    def clock(self) -> VirtualClock:
        """The clock this loop runs on."""
        return self._chaoskit_clock

    def time(self) -> float:
        """The loop's notion of now: the clock's virtual monotonic seconds."""
        return self._chaoskit_clock.monotonic()

    def run_in_executor(
        self, executor: Executor | None, func: Callable[[Unpack[_Ts]], _T], *args: *_Ts
    ) -> asyncio.Future[_T]:
        """Like the base method; while the job runs, timers wait for real rather than jump."""
        future = super().run_in_executor(executor, func, *args)
        self._chaoskit_selector.threads_pending += 1
        future.add_done_callback(self._chaoskit_thread_done)
        return future

    def _chaoskit_thread_done(self, future: asyncio.Future[Any]) -> None:
        self._chaoskit_selector.threads_pending -= 1


def run_virtual(coro: Coroutine[Any, Any, _T], clock: VirtualClock) -> _T:
    """Run ``coro`` to completion on a fresh :class:`VirtualEventLoop` and return its result.

    Leftover tasks are cancelled and the loop is closed afterwards, as ``asyncio.run`` does.

    >>> clock = VirtualClock()
    >>> run_virtual(asyncio.sleep(15, result="done"), clock)
    'done'
    >>> clock.monotonic()
    15.0
    """
    if _running_loop() is not None:
        coro.close()  # never awaited now; closing it avoids a second, confusing warning
        raise RuntimeError(
            "chaoskit: run_virtual() was called while an event loop is already running in this "
            "thread, and a thread can run only one loop. Call it from synchronous code (or a "
            "worker thread), or await the coroutine directly on the running loop."
        )
    with asyncio.Runner(loop_factory=lambda: VirtualEventLoop(clock)) as runner:
        return runner.run(coro)
