"""The deliveries of one task in one example: Jepsen's process-kill nemesis, for agents.

A task is delivered once; then, as the scenario's ``[delivery]`` allows:

- after an ``agent_crash`` it is delivered again (a redelivery), up to ``attempts``
  deliveries of one message, with the same ``task.id`` and ``task.store``;
- after a delivery that replied, Hypothesis may deliver it once more (``duplicate``);
- after that, Hypothesis may send the customer's ``follow_up`` message, with the first turn
  in ``task.history`` (itself redelivered after a crash like the first message).

:class:`Deliveries` holds that plan and nothing of how one delivery runs: it is given
``run`` (one delivery, the example runner's) and ``choose`` (Hypothesis's decision whether
an optional delivery happens). With ``[delivery] concurrent``, Hypothesis may deliver the
task twice *at once* first: the two deliveries run as a group, through ``together`` (the
example runner's, which interleaves them call by call, see
:mod:`~chaoskit.engine.interleave`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from chaoskit.core.agent import Turn
from chaoskit.engine.runner import AgentRun
from chaoskit.results import DeliveryReason, DeliveryRecord
from chaoskit.scenarios import DeliverySpec

__all__ = [
    "Delivered",
    "Deliveries",
    "Delivery",
    "DeliveryChooser",
    "DeliveryRunner",
    "GroupRunner",
]


@dataclass(frozen=True)
class Delivery:
    """One delivery to make: its number, why, the message and the conversation so far."""

    number: int
    reason: DeliveryReason
    message: str
    history: tuple[Turn, ...] = ()
    after_crash: int | None = None
    #: Whether ``agent_crash`` faults may hit this delivery: only when a redelivery could
    #: follow, or when the scenario delivers once (a crash draw that could only end the
    #: last attempt would make the shrinker keep it: a crash shortens the run).
    may_crash: bool = True


@dataclass
class Delivered:
    """What one delivery gave: the agent's run, where it was killed, where the run stood at
    its end (trace length and each ledger's length: what its reply is judged against)."""

    delivery: Delivery
    run: AgentRun
    crashed_at: int | None
    started: float
    ended: float
    trace_end: int
    ledger_ends: dict[str, int] = field(default_factory=dict)

    @property
    def record(self) -> DeliveryRecord:
        d = self.delivery
        return DeliveryRecord(
            number=d.number,
            reason=d.reason,
            message=d.message,
            reply=self.run.reply,
            after_crash=d.after_crash,
            crashed_at=self.crashed_at,
            started=self.started,
            ended=self.ended,
        )


#: Runs one delivery of the task (the example runner's).
DeliveryRunner = Callable[[Delivery], Delivered]
#: Whether an optional delivery happens:
#: ``("duplicate" | "follow_up" | "concurrent", number) -> bool``.
DeliveryChooser = Callable[[str, int], bool]
#: Runs deliveries due at once, together (the example runner's); their results, in order.
GroupRunner = Callable[[Sequence[Delivery]], list[Delivered]]


class Deliveries:
    """The deliveries of one task: see the module's documentation."""

    def __init__(
        self,
        spec: DeliverySpec,
        message: str,
        follow_up: str | None,
        run: DeliveryRunner,
        choose: DeliveryChooser | None,
        together: GroupRunner | None = None,
    ) -> None:
        self.spec = spec
        self.message = message
        self.follow_up = follow_up
        self.run = run
        self.choose = choose or (lambda what, number: False)
        self.together = together
        self.done: list[Delivered] = []

    def all(self) -> list[Delivered]:
        """Deliver the task as the plan says; every delivery made, in order."""
        answered = self.first()
        if answered is None or answered.run.reply is None:
            return self.done  # nobody was answered: nothing to duplicate or follow up on
        if self.spec.duplicate and self.choose("duplicate", self.next_number):
            duplicate = Delivery(self.next_number, "duplicate", self.message, may_crash=False)
            self.run_group([duplicate])
        if self.follow_up is not None and self.choose("follow_up", self.next_number):
            turn = Turn(message=self.message, reply=answered.run.reply.text)
            self.until_answered(
                Delivery(self.next_number, "follow_up", self.follow_up, history=(turn,))
            )
        return self.done

    def first(self) -> Delivered | None:
        """The first delivery, or two at once when the scenario allows it and Hypothesis draws
        it: the one answered (a delivery of the pair that replied, the first if both did)."""
        if self.spec.concurrent and self.together is not None and self.choose("concurrent", 2):
            # No redelivery follows a pair: a crash may hit it only when none could anyway.
            alone = self.spec.attempts == 1
            pair = [
                Delivery(1, "first", self.message, may_crash=alone),
                Delivery(2, "concurrent", self.message, may_crash=alone),
            ]
            ran = self.run_group(pair)
            return next((d for d in ran if d.run.reply is not None), None)
        return self.until_answered(Delivery(1, "first", self.message))

    @property
    def next_number(self) -> int:
        return len(self.done) + 1

    def until_answered(self, delivery: Delivery) -> Delivered | None:
        """Deliver one message, again after each crash while attempts remain; the delivery
        that ended without a crash (None: every attempt crashed)."""
        attempts = self.spec.attempts
        for attempt in range(1, attempts + 1):
            delivery = replace(delivery, may_crash=attempts == 1 or attempt < attempts)
            (last,) = self.run_group([delivery])[-1:]
            if last.crashed_at is None:
                return last
            if attempt < self.spec.attempts:
                delivery = replace(
                    delivery,
                    number=self.next_number,
                    reason="redelivery",
                    after_crash=last.crashed_at,
                )
        return None

    def run_group(self, group: Sequence[Delivery]) -> list[Delivered]:
        """Run deliveries that are due: one alone, several at once through ``together``."""
        if len(group) > 1 and self.together is not None:
            ran = self.together(group)
        else:
            ran = [self.run(delivery) for delivery in group]
        self.done.extend(ran)
        return ran
