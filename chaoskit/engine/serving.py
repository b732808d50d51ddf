"""A scenario's world, set up to be served on loopback (``chaoskit serve``, ``chaos.serve``).

The world is built as an example's would be (the scenario's backends and options, its
generated data, its model script) with the faults that need no exploration: pinned ones
apply, ones left to Hypothesis do not (they need an exploration, which draws them per call)
unless ``pin`` turns them into pinned ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chaoskit.core.agent import Task
from chaoskit.engine.example import backends_for, task_for
from chaoskit.engine.model import install_model
from chaoskit.scenarios import Scenario
from chaoskit.world.data import WorldData, build_world
from chaoskit.world.faults import FaultRule
from chaoskit.world.world import World

__all__ = ["DEFAULT_SERVED", "ServedSetup", "served_world"]

#: What is served when no scenario is named: the built-in backends and a one-customer world.
DEFAULT_SERVED = Scenario(
    name="served",
    task="Serve the default world: every built-in backend, one customer with one order.",
)


@dataclass(frozen=True)
class ServedSetup:
    """The world to serve, the task an agent would be given in it, and the faults left out."""

    world: World
    task: Task
    data: WorldData
    left_out: tuple[FaultRule, ...]


def served_world(
    scenario: Scenario | None = None, *, seed: int = 0, pin: Sequence[int] = ()
) -> ServedSetup:
    """The world of ``scenario`` (default :data:`DEFAULT_SERVED`) with its pinned faults.

    ``pin`` fires the faults the scenario leaves to Hypothesis on those calls of their target
    instead (``pin=[1]``: on the first call each of them matches).
    """
    chosen = scenario or DEFAULT_SERVED
    faults, left_out = _pinned(chosen.faults, tuple(pin))
    world = World(backends_for(chosen), faults=faults, seed=seed)
    data = build_world(seed, chosen.world, world.backends)
    install_model(chosen, world, data, None)
    return ServedSetup(world, task_for(chosen, data, world), data, left_out)


def _pinned(
    rules: Sequence[FaultRule], pin: tuple[int, ...]
) -> tuple[list[FaultRule], tuple[FaultRule, ...]]:
    kept = [rule for rule in rules if not rule.explore]
    explored = tuple(rule for rule in rules if rule.explore)
    if not pin:
        return kept, explored
    for rule in explored:
        data = rule.model_dump()
        data.update(explore=False, calls=pin)
        kept.append(FaultRule.model_validate(data))
    return kept, ()
