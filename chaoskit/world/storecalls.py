"""``task.store`` inside a world: each operation is a call like an HTTP one.

It is numbered with the HTTP calls, traced as a request to the ``store`` backend (client
``store``, route = the operation), may meet a fault aimed at it (``store: put``), and what it
changed is appended to the ``store`` ledger. What the agent sees of a fault is what a store
client would raise: ``TimeoutError``, ``ConnectionResetError``, or the crash itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn, assert_never

from chaoskit.core.agent import AgentCrashed
from chaoskit.core.errors import InvalidFault
from chaoskit.core.names import did_you_mean
from chaoskit.core.store import STORE_OPERATIONS, StoreChange, StoreOp
from chaoskit.world.faults import (
    STORE,
    STORE_FAULT_KINDS,
    AgentCrash,
    ConnectionReset,
    FaultRule,
    Latency,
    MalformedResponse,
    PoisonedDocument,
    RateLimit,
    ServerError,
    StaleRead,
    TimeoutAfterCommit,
    TimeoutBeforeCommit,
)
from chaoskit.world.injector import Call
from chaoskit.world.trace import (
    CommitEvent,
    ExceptionEvent,
    FaultEvent,
    RequestEvent,
    ResponseEvent,
)

if TYPE_CHECKING:
    from chaoskit.world.world import World

__all__ = ["STORE_TIMEOUT", "check_store_target", "serve_store_call"]

#: How long a store call waits before its timeout fault raises (virtual seconds).
STORE_TIMEOUT = 5.0


def check_store_target(rule: FaultRule) -> None:
    """A fault aimed at ``task.store``: a known operation and a kind the store can meet."""
    op = rule.target.method.lower()
    if op != "*" and op not in STORE_OPERATIONS:
        raise InvalidFault(
            f"chaoskit: fault {rule.label!r} targets task.store operation {op!r}, which does "
            f"not exist.{did_you_mean(op, STORE_OPERATIONS)} Operations: "
            f"{', '.join(STORE_OPERATIONS)}."
        )
    if rule.fault.kind not in STORE_FAULT_KINDS:
        raise InvalidFault(
            f"chaoskit: fault {rule.label!r}: task.store cannot meet a {rule.fault.kind} fault "
            f"(it answers no HTTP). Faults it can meet: {', '.join(STORE_FAULT_KINDS)}."
        )


def serve_store_call(
    world: World, op: StoreOp, key: str, params: dict[str, str], apply: Callable[[], StoreChange]
) -> Any:
    index = world.next_call()
    now = world.clock.monotonic()
    path = f"/{key}"
    world.trace.add(
        RequestEvent,
        now,
        call=index,
        client=STORE,
        backend=STORE,
        method=op.upper(),
        path=path,
        route=op,
        params={k: v[:200] for k, v in params.items()},
    )
    rule = world.injector.choose(
        Call(index=index, backend=STORE, method=op.upper(), path=path, route=op, at=now)
    )
    call = _StoreCall(world, index, op, key, apply)
    try:
        change = call.run(rule)
    except (TimeoutError, ConnectionError, AgentCrashed) as error:
        what = {TimeoutError: "timeout", AgentCrashed: "crash"}.get(type(error), "reset")
        world.trace.add(
            ExceptionEvent, world.clock.monotonic(), call=index, error=what, message=str(error)
        )
        raise
    world.trace.add(ResponseEvent, world.clock.monotonic(), call=index, status=200)
    return change.result


class _StoreCall:
    def __init__(
        self, world: World, index: int, op: StoreOp, key: str, apply: Callable[[], StoreChange]
    ) -> None:
        self.world, self.index, self.op, self.key, self.apply = world, index, op, key, apply

    def run(self, rule: FaultRule | None) -> StoreChange:
        if rule is None:
            return self.execute()
        try:
            return self.faulted(rule)
        finally:
            self.world.trace.add(
                FaultEvent,
                self.world.clock.monotonic(),
                call=self.index,
                fault=rule.fault.kind,
                rule=rule.label,
            )

    def faulted(self, rule: FaultRule) -> StoreChange:
        fault = rule.fault
        match fault:
            case TimeoutBeforeCommit():
                self.time_out()
            case TimeoutAfterCommit():
                self.execute()
                self.time_out()
            case ConnectionReset():
                if fault.phase == "after_commit":
                    self.execute()
                raise ConnectionResetError(104, "Connection reset by peer (task.store)")
            case Latency():
                self.world.clock.advance(fault.seconds)
                return self.execute()
            case AgentCrash():
                if fault.phase == "after_commit":
                    self.execute()
                self.world.crash(self.index)
            case RateLimit() | ServerError() | MalformedResponse() | PoisonedDocument():
                return self.execute()  # refused when the world was made (check_store_target)
            case StaleRead():
                return self.execute()
            case _:
                assert_never(fault)

    def execute(self) -> StoreChange:
        change = self.apply()
        if change.wrote:
            now = self.world.clock.monotonic()
            entry = self.world.store_ledger.append(
                f"store.{self.op}",
                self.key,
                at=now,
                fields={"key": self.key, "value": change.value},
                request_id=f"store_{self.index}",
            )
            self.world.trace.add(
                CommitEvent,
                now,
                call=self.index,
                backend=STORE,
                effect=entry.kind,
                object_id=self.key,
                ledger_seq=entry.seq,
            )
        return change

    def time_out(self) -> NoReturn:
        self.world.clock.advance(STORE_TIMEOUT)
        raise TimeoutError(f"task.store {self.op} {self.key!r} timed out")
