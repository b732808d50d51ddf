"""How hard the engine looks, and the progress it reports on the way."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from hypothesis.database import ExampleDatabase

__all__ = ["EngineSettings", "Progress", "ProgressCallback"]


@dataclass(frozen=True)
class EngineSettings:
    """How hard to look.

    ``database``: ``None`` means Hypothesis's local example database, except in CI (``CI`` is
    set), where it is off; ``True``/``False`` force it; an ``ExampleDatabase`` is used as is.
    With a database, a failure found once is tried first on the next run.
    """

    examples: int = 100
    seed: int | None = None
    database: bool | ExampleDatabase | None = None
    wall_guard: float = 30.0
    passing_samples: int = 2

    @property
    def in_ci(self) -> bool:
        return bool(os.environ.get("CI"))


@dataclass(frozen=True)
class Progress:
    """Reported after every example, so long runs are never silent."""

    scenario: str
    examples: int
    faults_fired: int
    failing: bool


ProgressCallback = Callable[[Progress], None]
