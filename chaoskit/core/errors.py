"""Two separate trees: usage mistakes (the user must fix their input) and findings."""

from __future__ import annotations

__all__ = [
    "ChaoskitError",
    "InvalidFault",
    "InvalidScenario",
    "InvariantViolation",
    "RunInterrupted",
    "UsageError",
    "WorldError",
]


class ChaoskitError(Exception):
    """Base of every error chaoskit raises on its own account."""


class UsageError(ChaoskitError, ValueError):
    """chaoskit was called wrongly; the message says how to fix it."""


class InvalidFault(UsageError):
    """A fault, target or schedule that cannot be applied."""


class InvalidScenario(UsageError):
    """A scenario file or builder call that cannot be run."""


class WorldError(UsageError):
    """A world set up or used wrongly (two worlds at once, unknown backend name…)."""


class InvariantViolation(ChaoskitError, AssertionError):
    """A finding: the agent broke an invariant. Not a usage mistake."""


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during a scenario: still a ``KeyboardInterrupt``, carrying what finished.

    ``partial`` is the interrupted scenario's result so far (a ``ScenarioResult`` marked
    ``interrupted``, with every example that finished), or ``None`` when none had.
    """

    def __init__(self, partial: object | None = None) -> None:
        super().__init__("interrupted")
        self.partial = partial
