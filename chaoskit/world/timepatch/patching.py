"""Installing the stand-ins: :func:`virtual_time` swaps them in process-wide, copies modules took
with ``from time import sleep`` included, and puts all back; and :func:`current_epoch`."""

from __future__ import annotations

import asyncio
import asyncio.base_events
import builtins
import contextlib
import copyreg
import datetime
import itertools
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import Any, Final, NamedTuple

from chaoskit.core.clock import DEFAULT_EPOCH, VirtualClock
from chaoskit.world.timepatch import state
from chaoskit.world.timepatch.standins import (
    VirtualDate,
    VirtualDatetime,
    _real_loop_time,
    _reduce_date,
    _reduce_datetime,
    _virtual_asyncio_sleep,
    _virtual_monotonic,
    _virtual_monotonic_ns,
    _virtual_sleep,
    _virtual_time,
    _virtual_time_ns,
)
from chaoskit.world.timepatch.state import _LOCK, _REAL

__all__ = ["current_epoch", "virtual_time"]

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
    # A prefix, so it covers this package and every one of its submodules (.state, .standins,
    # .patching, .loop): their namespaces hold the fakes and the real functions, never to patch.
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
    with _LOCK:
        active = state._current
        if active is not None:
            raise RuntimeError(
                f"chaoskit: a virtual clock is already active ({active!r}); worlds cannot be "
                "nested. Leave the outer `virtual_time(...)` (or world) before starting another, "
                "or pass its clock down instead of creating a second one."
            )
        originals = {kind: vars(module)[attr] for kind, (module, attr) in _TARGETS.items()}
        _INDEX.refresh(originals)
        changes: list[_Change] = []
        state._current = clock
        state._threads_at_start = threading.active_count()
        try:
            _patch(originals, changes)
        except BaseException:
            _undo(changes)
            state._current = None
            raise
        # Ordinary loops read time.monotonic; on a clock that only jumps when slept on, their
        # timers would never fire while they wait for real I/O. They keep real time instead.
        return _Activation(originals, changes, _set_loop_time(_real_loop_time))


def _deactivate(activation: _Activation) -> None:
    with _LOCK:
        try:
            _set_loop_time(activation.loop_time)
            _undo(activation.changes)
            # Modules imported inside the world copied fakes; give them the originals.
            for namespace, attr, kind in _INDEX.refresh(activation.originals):
                if namespace.get(attr) is _FAKES[kind]:
                    namespace[attr] = activation.originals[kind]
        finally:
            state._current = None


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


def _build_class(func: Callable[..., Any], name: str, /, *bases: Any, **kwargs: Any) -> Any:
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
