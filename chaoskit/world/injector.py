"""The fault injector: decides, call by call, whether a fault fires, and applies it.

Decisions come from pinned schedules first (an ongoing 5xx storm, call numbers, ``always``,
time windows) and then from the decision callback for ``explore`` rules: the Hypothesis engine
supplies one that draws lazily, so shrinking switches faults off and moves them earlier.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from chaoskit.world.faults import FaultRule, PoisonedDocument

__all__ = ["Call", "Decider", "Injector"]


@dataclass(frozen=True, slots=True)
class Call:
    """What the decision callback sees about a call: enough to decide, nothing to mutate."""

    index: int
    backend: str
    method: str
    path: str
    route: str
    at: float


#: Given a call and the explore rules that target it, the rule to fire (or None).
Decider = Callable[[Call, Sequence[FaultRule]], FaultRule | None]


@dataclass
class _Storm:
    remaining: int
    until: float | None


@dataclass
class Injector:
    """Holds the rules of a world and the per-rule counters and storms of the current run."""

    rules: tuple[FaultRule, ...]
    decide: Decider | None = None
    #: Whether ``agent_crash`` rules apply to calls now: the engine turns them off in a
    #: delivery no redelivery could follow (its calls neither count for them nor draw them).
    crashes: bool = True
    _counts: list[int] = field(init=False)
    _storms: dict[int, _Storm] = field(init=False, default_factory=dict)
    _fired: list[int] = field(init=False)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._counts = [0] * len(self.rules)
        self._fired = [0] * len(self.rules)
        self._storms = {}
        self.crashes = True

    @property
    def fired(self) -> dict[str, int]:
        """How often each rule fired in this run, by label."""
        return {rule.label: n for rule, n in zip(self.rules, self._fired, strict=True)}

    def choose(self, call: Call) -> FaultRule | None:
        """The rule that fires on ``call``, if any."""
        with self._lock:
            matching = [
                i
                for i, rule in enumerate(self.rules)
                if rule.target.matches(call.backend, call.method, call.path)
                and (self.crashes or rule.fault.kind != "agent_crash")
            ]
            for i in matching:
                self._counts[i] += 1
            chosen = self._pinned(matching, call.at)
        if chosen is None:
            chosen = self._explored(matching, call)
        if chosen is not None:
            self._start_storm(chosen, call.at)
        return None if chosen is None else self.rules[chosen]

    def _pinned(self, matching: list[int], now: float) -> int | None:
        for i in matching:
            storm = self._storms.get(i)
            if storm is not None and self._storm_continues(i, storm, now):
                return i
        for i in matching:
            rule = self.rules[i]
            if not rule.explore and rule.pinned_fires(self._counts[i], now):
                return i
        return None

    def _storm_continues(self, i: int, storm: _Storm, now: float) -> bool:
        if storm.until is not None:
            alive = now < storm.until
        else:
            alive = storm.remaining > 0
            storm.remaining -= 1
        if not alive:
            del self._storms[i]
        return alive

    def _explored(self, matching: list[int], call: Call) -> int | None:
        candidates = [self.rules[i] for i in matching if self.rules[i].explore]
        if not candidates or self.decide is None:
            return None
        picked = self.decide(call, candidates)
        if picked is None:
            return None
        return next(i for i in matching if self.rules[i] is picked)

    def _start_storm(self, i: int, now: float) -> None:
        with self._lock:
            self._fired[i] += 1
            fault = self.rules[i].fault
            if fault.kind != "server_error" or i in self._storms:
                return
            if fault.seconds is not None:
                self._storms[i] = _Storm(remaining=0, until=now + fault.seconds)
            elif fault.burst > 1:
                self._storms[i] = _Storm(remaining=fault.burst - 1, until=None)


#: Fields a poisoned document lands in, in order of preference, when the fault names none.
POISON_FIELDS = (
    "text",
    "body",
    "note",
    "notes",
    "description",
    "comment",
    "content",
    "message",
    "hs_note_body",  # HubSpot's note body
)


def poison(content: bytes, fault: PoisonedDocument) -> tuple[bytes, str | None]:
    """Place the fault's payload in the first text field of a JSON body.

    Returns the new body and the JSON path where the payload went (None: nowhere to put it,
    so the poison never reached the agent and the trace says so).
    """
    try:
        data = json.loads(content)
    except ValueError:
        return content, None
    fields = (fault.field,) if fault.field else POISON_FIELDS
    where = _poison_into(data, fields, fault.text(), "$")
    return json.dumps(data, separators=(",", ":")).encode(), where


def _poison_into(node: Any, fields: tuple[str, ...], text: str, path: str) -> str | None:
    if isinstance(node, dict):
        for name in fields:
            if isinstance(node.get(name), str):
                node[name] = f"{node[name]}\n\n{text}" if node[name] else text
                return f"{path}.{name}"
        children: list[tuple[str, Any]] = [(f"{path}.{k}", v) for k, v in node.items()]
    elif isinstance(node, list):
        children = [(f"{path}[{i}]", v) for i, v in enumerate(node)]
    else:
        return None
    for child_path, child in children:
        found = _poison_into(child, fields, text, child_path)
        if found is not None:
            return found
    return None


def malform(content: bytes, mode: str) -> bytes:
    """Break a body the way a flaky proxy does: cut it short, or garble its JSON."""
    if mode == "truncated":
        return content[: max(1, len(content) // 2)]
    return b"{" + content.lstrip(b"{[").replace(b'":', b'" ', 1)
