"""The virtual event loop: :class:`VirtualEventLoop`, whose time *is* the clock, so that waiting
for a timer jumps the clock, and :func:`run_virtual`, which runs a coroutine on one."""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from chaoskit.core.clock import VirtualClock

if TYPE_CHECKING:
    from concurrent.futures import Executor
    from typing import TypeVarTuple, Unpack

    from _typeshed import FileDescriptorLike

    _Ts = TypeVarTuple("_Ts")

__all__ = ["VirtualEventLoop", "_running_loop", "run_virtual"]

_T = TypeVar("_T")


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class _VirtualSelector(selectors.BaseSelector):
    """A selector that, with nothing to do but wait for a timer, jumps the clock to it."""

    def __init__(self, clock: VirtualClock) -> None:
        self._real = selectors.DefaultSelector()
        self._clock = clock
        #: Executor jobs in flight: real work the loop must really wait for.
        self.threads_pending = 0
        #: Called when nothing is ready and the loop would wait (jump the clock to its next
        #: timer, ``timeout`` seconds away, or block for good with none): returning True means
        #: it scheduled work itself, and the loop runs that instead of waiting.
        self.on_idle: Callable[[float | None], bool] | None = None

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = self._real.select(0)
        if ready or (timeout is not None and timeout <= 0):
            return ready
        if not self.threads_pending and self.on_idle is not None and self.on_idle(timeout):
            return []
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

    def on_idle(self, hook: Callable[[float | None], bool] | None) -> None:
        """Call ``hook(timeout)`` whenever the loop has nothing ready and would wait (see
        :attr:`_VirtualSelector.on_idle`); None removes it."""
        self._chaoskit_selector.on_idle = hook

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
