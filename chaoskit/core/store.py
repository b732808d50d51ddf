"""``task.store``: a durable key-value store that outlives a crash of the agent.

A queue that delivers a task again after the worker died gives the new run nothing of the old
one, except what the old one wrote somewhere durable. ``task.store`` is that somewhere: one
store per example, shared by every delivery of its task (redeliveries, duplicates, follow-ups),
empty again at the next example. What a hardened agent keeps there: an outbox, a progress
record, a claim on an intent.

>>> def agent(task):
...     done = task.store.get("refund")
...     if done is not None:
...         return f"Refund {done} was already made."
...     ...  # refund with an idempotency key derived from task.id, then:
...     task.store.put("refund", "re_123")

Values are JSON (str, int, float, bool, None, lists and dicts of them); the store keeps and
hands out copies, so changing a value read from it changes nothing stored. Every operation is
atomic, also between threads. Inside a world each operation is a call of its own: numbered with
the HTTP calls, in the trace, in the ``store`` ledger when it changed something, and a target
for faults (``store: put``, ``store: claim refund:*``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any, Literal, Protocol, TypeAlias

__all__ = ["STORE_OPERATIONS", "StoreCalls", "StoreChange", "StoreOp", "TaskStore"]

StoreOp: TypeAlias = Literal["get", "put", "claim", "compare_and_set", "delete"]
#: Every operation of :class:`TaskStore`, as fault targets name them (``store: claim``).
STORE_OPERATIONS: tuple[StoreOp, ...] = ("get", "put", "claim", "compare_and_set", "delete")


class StoreChange:
    """What one operation did: its result and, if it wrote, the value written (None: deleted)."""

    __slots__ = ("result", "value", "wrote")

    def __init__(self, result: Any, *, wrote: bool = False, value: str | None = None) -> None:
        self.result = result
        self.wrote = wrote
        self.value = value


class StoreCalls(Protocol):
    """How a world sees the store's operations: each one passes through it as a call."""

    def store_call(
        self, op: StoreOp, key: str, params: dict[str, str], apply: Callable[[], StoreChange]
    ) -> Any: ...


_MISSING: Any = object()


class TaskStore:
    """A durable, thread-safe key-value store for one task (see the module's documentation).

    - :meth:`get` reads a key (``default`` when absent);
    - :meth:`put` writes it;
    - :meth:`claim` writes it only if absent, and says whether this call did (the one way for
      two workers on one task to agree who acts);
    - :meth:`compare_and_set` writes it only if it holds ``expected`` (``None``: absent);
    - :meth:`delete` removes it and says whether it was there.
    """

    def __init__(self) -> None:
        self._data: dict[str, str] = {}
        self._lock = threading.Lock()
        self._calls: StoreCalls | None = None

    def get(self, key: str, default: Any = None) -> Any:
        """The value under ``key``, else ``default``."""

        def apply() -> StoreChange:
            text = self._data.get(key)
            return StoreChange(default if text is None else json.loads(text))

        return self._run("get", key, {}, apply)

    def put(self, key: str, value: Any) -> None:
        """Store ``value`` under ``key``, replacing what was there."""
        text = _encoded(value)

        def apply() -> StoreChange:
            self._data[key] = text
            return StoreChange(None, wrote=True, value=text)

        self._run("put", key, {"value": text}, apply)

    def claim(self, key: str, value: Any = True) -> bool:
        """Store ``value`` under ``key`` only if the key is absent; True if this call stored it.

        >>> if task.store.claim(f"refund:{charge}"):  # doctest: +SKIP
        ...     ...  # this delivery, and no other, makes the refund
        """
        text = _encoded(value)

        def apply() -> StoreChange:
            if key in self._data:
                return StoreChange(False)
            self._data[key] = text
            return StoreChange(True, wrote=True, value=text)

        return bool(self._run("claim", key, {"value": text}, apply))

    def compare_and_set(self, key: str, expected: Any, value: Any) -> bool:
        """Store ``value`` only if ``key`` holds ``expected`` (``None``: the key is absent);
        True if it was stored."""
        want = None if expected is None else _encoded(expected)
        text = _encoded(value)

        def apply() -> StoreChange:
            held = self._data.get(key)
            if held is not None and want is not None and json.loads(held) != json.loads(want):
                return StoreChange(False)
            if (held is None) != (want is None):
                return StoreChange(False)
            self._data[key] = text
            return StoreChange(True, wrote=True, value=text)

        params = {"expected": "null" if want is None else want, "value": text}
        return bool(self._run("compare_and_set", key, params, apply))

    def delete(self, key: str) -> bool:
        """Remove ``key``; True if it was there."""

        def apply() -> StoreChange:
            if self._data.pop(key, _MISSING) is _MISSING:
                return StoreChange(False)
            return StoreChange(True, wrote=True, value=None)

        return bool(self._run("delete", key, {}, apply))

    def snapshot(self) -> dict[str, Any]:
        """Every key and its value, as the store holds them now (for tests and reports)."""
        with self._lock:
            return {key: json.loads(text) for key, text in sorted(self._data.items())}

    def attach(self, calls: StoreCalls | None) -> None:
        """Pass every operation through ``calls`` (a world), or through nothing."""
        self._calls = calls

    def _run(self, op: StoreOp, key: str, params: dict[str, str], apply: Any) -> Any:
        if not isinstance(key, str) or not key:
            raise TypeError(f"chaoskit: a task.store key is a non-empty str, got {key!r}.")

        def atomic() -> StoreChange:
            with self._lock:
                change: StoreChange = apply()
                return change

        calls = self._calls
        if calls is None:
            return atomic().result
        return calls.store_call(op, key, params, atomic)

    def __repr__(self) -> str:
        with self._lock:
            return f"<TaskStore {len(self._data)} key(s)>"


def _encoded(value: Any) -> str:
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"chaoskit: task.store holds JSON values (str, int, float, bool, None, lists and "
            f"dicts of them); {type(value).__name__} cannot be stored: {error}. Store its id "
            "or a dict of its fields instead."
        ) from None
