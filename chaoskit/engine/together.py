"""Deliveries of one task run at once: threads for a sync agent, tasks on one loop for an
async one, their calls interleaved as :class:`~chaoskit.engine.interleave.Interleaving` decides.

The example runner hands over how one delivery starts, runs and ends; this module runs a
group of them together, keeps the world told whose turn it is (``world.delivery``, so that a
crash or a fault lands on the right delivery), marks each change of turn in the trace, and
turns what stopped a delivery outside any call into findings.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from chaoskit.core.agent import Agent, Task
from chaoskit.engine.deliveries import Delivered, Delivery
from chaoskit.engine.interleave import Choose, Interleaving, Outcome, stall_findings
from chaoskit.engine.runner import AgentRun, Watch, run_agent_task, run_tasks, run_watched
from chaoskit.results import Finding
from chaoskit.world.trace import DeliveryEvent
from chaoskit.world.world import World

__all__ = ["Steps", "is_async", "run_together"]


@dataclass(frozen=True)
class Steps:
    """How the example runner runs one delivery: whole (``deliver``, for a thread), or in
    three steps around the agent's coroutine (``start``, then the agent, then ``finish``)."""

    deliver: Callable[[Delivery], Delivered]
    start: Callable[[Delivery], tuple[Task, float]]
    finish: Callable[[Delivery, AgentRun, float], Delivered]


def is_async(agent: Agent) -> bool:
    """Whether ``agent`` is an ``async def`` function (or an object whose ``__call__`` is)."""
    call: Any = agent
    if not (inspect.isfunction(call) or inspect.ismethod(call)):
        call = getattr(call, "__call__", call)  # noqa: B004 - an object's own __call__
    return inspect.iscoroutinefunction(call)


def run_together(
    group: Sequence[Delivery],
    agent: Agent,
    world: World,
    steps: Steps,
    *,
    switch: Choose | None,
    deadline: float,
    limit: float,
    watch: Watch | None,
) -> tuple[list[Delivered], list[Finding]]:
    """Run ``group`` at once; each delivery's result, and the findings of the group."""
    started: list[int] = []

    def on_turn(lane: int) -> None:
        delivery = group[lane - 1]
        world.delivery = delivery.number
        world.injector.crashes = delivery.may_crash
        # A delivery's start is marked by the delivery itself; a turn only when the baton
        # moves back to one that started before.
        if lane in started and started[-1] != lane:
            world.trace.add(
                DeliveryEvent,
                world.clock.monotonic(),
                delivery=delivery.number,
                what="turn",
                reason=delivery.reason,
            )
        started.append(lane)

    scheduler = Interleaving(
        switch or (lambda point: None),
        next_call=lambda: world.calls + 1,
        clock=world.clock,
        on_turn=on_turn,
    )
    try:
        _, stopped = run_watched(
            lambda: _run(scheduler, group, agent, steps, world, deadline, limit),
            world.clock,
            deadline=deadline,
            wall_limit=limit,
            watch=watch,
        )
    finally:  # also when the engine's own error ends the example: nothing of it runs on
        world.abandon(scheduler.left)
    findings = stall_findings(scheduler) + ([stopped] if stopped is not None else [])
    outcomes = scheduler.outcomes or tuple(Outcome(d.number) for d in group)
    ended = [
        _delivered(d, o, steps, world, stopped=stopped)
        for d, o in zip(group, outcomes, strict=True)
    ]
    return ended, findings


def _run(
    scheduler: Interleaving,
    group: Sequence[Delivery],
    agent: Agent,
    steps: Steps,
    world: World,
    deadline: float,
    limit: float,
) -> list[Outcome[Delivered]]:
    with scheduler.taking_turns():
        if not is_async(agent):
            return scheduler.run([_whole(steps, d) for d in group])
        bodies = [_in_steps(steps, agent, d, limit) for d in group]
        return run_tasks(scheduler.gather(bodies), world.clock, deadline)


def _whole(steps: Steps, delivery: Delivery) -> Callable[[], Delivered]:
    return lambda: steps.deliver(delivery)


def _in_steps(steps: Steps, agent: Agent, delivery: Delivery, limit: float) -> Callable[[], Any]:
    async def body() -> Delivered:
        task, at = steps.start(delivery)
        ran = await run_agent_task(agent, task, wall_limit=limit)
        return steps.finish(delivery, ran, at)

    return body


def _delivered(
    delivery: Delivery,
    outcome: Outcome[Any],
    steps: Steps,
    world: World,
    *,
    stopped: Finding | None,
) -> Delivered:
    """What a delivery gave; one that never ended gave no reply (the findings say why)."""
    if isinstance(outcome.value, Delivered):
        return outcome.value
    if outcome.error is not None and not outcome.blocked and stopped is None:
        raise outcome.error  # the engine's own failure inside a delivery: not the agent's
    return steps.finish(delivery, AgentRun(None, []), world.clock.monotonic())
