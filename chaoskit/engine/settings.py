"""How hard the engine looks, and the progress it reports on the way."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the run recorder uses these settings without Hypothesis (xdist controller)
    from hypothesis.database import ExampleDatabase

    from chaoskit.fakes.model import Cassette

__all__ = ["EngineSettings", "Progress", "ProgressCallback"]


@dataclass(frozen=True)
class EngineSettings:
    """How hard to look.

    ``database``: with a database, a failure found once is tried first on the next run, so the
    same seed no longer gives the same results. ``None`` (the default) follows Hypothesis's
    own rule for ``@seed``: no database for a run with a ``seed`` or in CI (``CI`` is set),
    the local one otherwise; ``True``/``False`` force it; an ``ExampleDatabase`` is used as
    is. :attr:`use_database` is the decision.

    ``model_cassette``: for scenarios with ``model = "passthrough"``, a
    :class:`~chaoskit.fakes.model.Cassette` that records every model request and response
    (``Cassette.record(path)``) or answers them with no network (``Cassette.replay(path)``).
    ``trials``: how many times each drawn fault schedule is run, for an agent that is not
    deterministic (see :mod:`chaoskit.engine.trials`); a scenario's own ``trials`` wins.
    """

    examples: int = 100
    seed: int | None = None
    database: bool | ExampleDatabase | None = None
    wall_guard: float = 30.0
    passing_samples: int = 2
    model_cassette: Cassette | None = None
    #: ``(i, n)``: this search is part ``i`` of ``n`` independent searches of one scenario
    #: (one per xdist worker), with its share of the examples and a seed of its own; their
    #: results merge into one (:func:`chaoskit.engine.parts.merge_parts`).
    part: tuple[int, int] = (1, 1)

    def __post_init__(self) -> None:
        index, total = self.part
        if not 1 <= index <= total:
            raise ValueError(f"chaoskit: part {index}/{total} is not a part of {total}.")

    @property
    def split(self) -> bool:
        return self.part[1] > 1

    @property
    def share(self) -> int:
        """This part's share of the examples (the first parts take the remainder)."""
        index, total = self.part
        return self.examples // total + (index <= self.examples % total)

    #: Runs of each drawn fault schedule unless the scenario sets its own ``trials``.
    trials: int = 1

    @property
    def in_ci(self) -> bool:
        return bool(os.environ.get("CI"))

    @property
    def use_database(self) -> bool:
        """Whether Hypothesis's example database is used (see ``database``).

        A seeded run or a CI run without one is reproducible: the same seed gives the same
        results JSON, byte for byte, except its ``timing``.
        """
        if self.database is None:
            return self.seed is None and not self.in_ci
        return self.database is not False


@dataclass(frozen=True)
class Progress:
    """Reported after every example, so long runs are never silent."""

    scenario: str
    examples: int
    faults_fired: int
    failing: bool


ProgressCallback = Callable[[Progress], None]
