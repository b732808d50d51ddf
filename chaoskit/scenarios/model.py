"""Scenarios: a task, a world, the faults to explore, a budget and the invariants that must hold.

Written as TOML files (``scenarios/*.toml``) or in Python with :func:`scenario`; both go
through the same validation, and every mistake is an :class:`InvalidScenario` that names the
file, the field, what is wrong and how to fix it.

.. code-block:: toml

    name = "refund-timeout-after-commit"
    task = "My order {order.id} arrived broken. Please refund it."

    [[faults]]
    kind = "timeout_after_commit"
    target = "payments: POST /v1/refunds"
    explore = true

    [[invariants]]
    name = "at_most_one_effect_per_intent"
    effect = "refund.created"
    key = "charge"
"""

from __future__ import annotations

import string
from typing import Any, Literal

from pydantic import Field

from chaoskit.core.agent import Budget
from chaoskit.core.errors import InvalidScenario
from chaoskit.core.models import FrozenModel
from chaoskit.fakes.model import ModelScript, ScriptTurn
from chaoskit.invariants import Invariant, build_invariant
from chaoskit.scenarios.fields import task_context
from chaoskit.world.data import WorldData, WorldRecipe
from chaoskit.world.faults import FaultRule

__all__ = [
    "DeliverySpec",
    "Expectation",
    "InvariantSpec",
    "ModelSpec",
    "Passthrough",
    "PinnedMisbehaviour",
    "Scenario",
    "Sometimes",
]


class Expectation(FrozenModel):
    """An expected end state: exactly ``count`` ledger entries of ``effect`` matching ``where``.

    ``where`` values are task templates: ``{charge = "{order.charge_id}"}``.
    """

    effect: str
    count: int = Field(ge=0)
    where: dict[str, str] = Field(default_factory=dict)


class Sometimes(FrozenModel):
    """A property that must hold in at least one example: the fault really reached its call,
    or the task really was delivered again (``delivery = "duplicate"``…)."""

    name: str
    fault: str | None = None
    target: str | None = None
    delivery: Literal["redelivery", "duplicate", "follow_up", "concurrent"] | None = None


class InvariantSpec(FrozenModel):
    name: str
    params: dict[str, Any] = Field(default_factory=dict)


class PinnedMisbehaviour(FrozenModel):
    """A misbehaviour the fake model always shows on one model call (1 = the first)."""

    call: int = Field(ge=1)
    misbehaviour: str


class ModelSpec(FrozenModel):
    """The fake LLM of a scenario: what a competent model would do, and how it may misbehave.

    ``turns`` is the script (tool calls or a final reply per model call; placeholders are the
    task-template fields with ``_`` for ``.``: ``{order_id}``, ``{order_charge_id}``…).
    ``explore`` lists the misbehaviours Hypothesis may pick on each model call; ``pinned``
    fixes some by call number.
    """

    #: The fake provider that serves the script: ``"openai"``, ``"anthropic"`` or a registered
    #: :class:`~chaoskit.fakes.ScriptedModel` backend.
    provider: str
    turns: tuple[ScriptTurn, ...] = Field(min_length=1)
    explore: tuple[str, ...] = ()
    pinned: tuple[PinnedMisbehaviour, ...] = ()
    prices: dict[str, tuple[float, float]] | None = None

    def script(self, name: str) -> ModelScript:
        return ModelScript(name=name, turns=self.turns)


class DeliverySpec(FrozenModel):
    """How the task is delivered: ``[delivery]`` in a scenario.

    - ``attempts``: at-least-once delivery; after an ``agent_crash`` the task is delivered
      again, up to this many deliveries of one message (1: never again);
    - ``duplicate``: Hypothesis may deliver the task a second time after a run that replied;
    - ``follow_up``: Hypothesis may send this second customer message (a task template) in the
      same conversation after the reply, with the first turn in ``task.history``;
    - ``concurrent``: Hypothesis may run two deliveries of the task at once.

    Whether a duplicate, follow-up or concurrent delivery happens is a decision Hypothesis
    draws, and shrinks away like a fault.
    """

    attempts: int = Field(default=1, ge=1, le=10)
    duplicate: bool = False
    concurrent: bool = False
    follow_up: str | None = Field(default=None, min_length=1)

    @property
    def active(self) -> bool:
        """Whether the task may be delivered more than once."""
        return self.attempts > 1 or self.duplicate or self.concurrent or bool(self.follow_up)


class Passthrough(FrozenModel):
    """``model = "passthrough"``: the agent's own model, reached for real on ``allow_hosts``.

    Every tool backend stays faked and faulted; only requests to these hosts (``host`` or
    ``host:port``, e.g. ``"api.openai.com"``) leave the process, as the backend ``model``
    (faults target it as ``model: POST /v1/chat/completions`` or ``model: POST /v1/messages``).
    """

    allow_hosts: tuple[str, ...] = Field(min_length=1)


class Scenario(FrozenModel):
    """A validated scenario. Build one with :func:`scenario` or :func:`load_scenario`."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    description: str = ""
    task: str
    principal: Literal["user", "service_account"] = "user"
    backends: tuple[str, ...] | None = None
    world: WorldRecipe = WorldRecipe()
    #: Each backend's options by backend name, from tables named after it (``[approvals]``),
    #: checked against that backend's ``Options`` model.
    options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    model: ModelSpec | None = None
    #: Set by ``model = "passthrough"`` with ``allow_hosts``: no fake model, the real one.
    passthrough: Passthrough | None = None
    faults: tuple[FaultRule, ...] = ()
    budget: Budget = Budget()
    delivery: DeliverySpec = DeliverySpec()
    invariants: tuple[InvariantSpec, ...] = ()
    expect: tuple[Expectation, ...] = ()
    sometimes: tuple[Sometimes, ...] = ()
    tags: tuple[str, ...] = ()
    #: Runs of each drawn fault schedule, for an agent that is not deterministic (a real
    #: model): wins over ``--chaos-trials``.
    trials: int | None = Field(default=None, ge=1, le=1000)
    #: The lowest pass^k (k = the trials) at which the scenario holds; without one, any
    #: failing trial fails it.
    min_pass_k: float | None = Field(default=None, ge=0.0, le=1.0)
    source: str | None = None

    def build_invariants(self) -> list[Invariant]:
        where = self.source or f"scenario {self.name!r}"
        return [
            build_invariant(spec.name, spec.params, where=f"{where}, [[invariants]]")
            for spec in self.invariants
        ]

    def message(self, world: WorldData) -> str:
        """The user's message with the world's fields filled in."""
        return self.filled(self.task, world, "task")

    def follow_up(self, world: WorldData) -> str | None:
        """The follow-up message of ``[delivery]``, filled in, if the scenario has one."""
        template = self.delivery.follow_up
        return None if template is None else self.filled(template, world, "delivery.follow_up")

    def filled(self, template: str, world: WorldData, field_name: str) -> str:
        """A task template with the world's fields filled in."""
        context = task_context(world)
        for _, field, _, _ in string.Formatter().parse(template):
            if field is not None:
                obj, _, attr = field.partition(".")
                if getattr(context[obj], attr, None) is None:
                    raise InvalidScenario(
                        f"{self.source or self.name}, {field_name}: {{{field}}} is empty in "
                        f"this world (seed {world.seed}); ask the world for it in [world], e.g. "
                        'order_status = "shipped" for a tracking number, or '
                        "outsider_accounts = 1 for {outsider.*}."
                    )
        return template.format(**context)
