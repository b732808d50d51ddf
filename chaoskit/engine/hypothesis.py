"""The engine's only contact with Hypothesis's settings and internals.

Each Hypothesis example draws a world seed and then, lazily, call by call, whether an explore
fault fires. Shrinking therefore switches faults off and keeps the fewest that still break the
agent. Everything that depends on how Hypothesis is configured or seeded lives here."""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple, TypeVar

import hypothesis.core as _hypothesis_core
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.database import ExampleDatabase
from hypothesis.errors import Flaky

from chaoskit.engine.settings import EngineSettings
from chaoskit.scenarios import Scenario

__all__ = [
    "Draws",
    "Failed",
    "Flaky",
    "Schedule",
    "collecting",
    "draw_choice",
    "draw_choice_elsewhere",
    "draw_schedule",
    "draw_switch",
    "draw_world_seed",
    "hypothesis_test",
    "profile_examples",
    "reproduce_blob",
    "seeded",
]

#: What one example draws its choices from.
Draws = st.DataObject
_T = TypeVar("_T")


def draw_world_seed(data: Draws) -> int:
    """The seed of the example's generated world (shrinks towards 0)."""
    seed: int = data.conjecture_data.draw(_strategy(data, (), lambda: st.integers(0, 2**16 - 1)))
    return seed


def draw_choice(data: Draws, options: Sequence[_T]) -> _T | None:
    """One of ``options`` or ``None`` (shrinks towards ``None``: no fault, no misbehaviour).

    Drawn on the example's conjecture data, not through ``data.draw``: chaoskit tells each
    example's decisions in its own story, and Hypothesis's note of every draw cost more than
    the draw itself (as did building the strategy anew for each call)."""
    options = tuple(options)
    strategy = _strategy(data, options, lambda: st.sampled_from((None, *options)))
    choice: _T | None = data.conjecture_data.draw(strategy)
    return choice


#: Strategies by Hypothesis's own data class (a test that imports Hypothesis afresh, as
#: pytester's in-process runs do, gets its own) and the identity of their options (kept alive
#: beside them, so ids stay theirs).
_STRATEGIES: dict[tuple[Any, ...], tuple[tuple[Any, ...], st.SearchStrategy[Any]]] = {}


def _strategy(
    data: Draws, options: tuple[Any, ...], build: Callable[[], st.SearchStrategy[Any]]
) -> st.SearchStrategy[Any]:
    key = (type(data.conjecture_data), *map(id, options))
    cached = _STRATEGIES.get(key)
    if cached is None:
        if len(_STRATEGIES) >= 512:  # a long session of many scenarios: start over
            _STRATEGIES.clear()
        cached = (options, build())
        _STRATEGIES[key] = cached
    return cached[1]


def draw_choice_elsewhere(data: Draws, options: Sequence[_T]) -> _T | None:
    """:func:`draw_choice` from a thread other than the test's (a thread of the server that
    serves an agent in another process): the same draw, which Hypothesis allows there because
    it is made on the conjecture data, never noted."""
    return draw_choice(data, options)


#: Decision points a schedule drawn up front covers (see :func:`draw_schedule`); later ones
#: get no fault.
SCHEDULE_POINTS = 64
#: Model calls a schedule drawn up front covers.
SCHEDULE_MODEL_CALLS = 16


class Schedule(NamedTuple):
    """A whole fault schedule, drawn up front (see :func:`draw_schedule`)."""

    world_seed: int
    faults: tuple[int, ...]
    misbehaviours: tuple[int, ...]
    #: For each optional delivery the scenario allows, in order, whether it happens (0: no).
    deliveries: tuple[int, ...] = ()


def draw_schedule(data: Draws, *, rules: int, misbehaviours: int, deliveries: int = 0) -> Schedule:
    """A whole fault schedule drawn up front.

    ``faults[n]`` decides the n-th call an explore rule targets: 0 is no fault, ``i`` the
    ``i``-th candidate (cycling); ``misbehaviours[n]`` likewise for the n-th model call;
    ``deliveries[n]`` whether the n-th optional delivery happens. The draws never depend on
    what the agent does, so an agent that is not deterministic cannot make Hypothesis see a
    different test each time it replays one. Each value shrinks towards 0, so shrinking still
    switches faults off and keeps the fewest that break the agent.
    """
    seed = draw_world_seed(data)
    faults = tuple(data.draw(st.integers(0, rules)) for _ in range(SCHEDULE_POINTS * (rules > 0)))
    model = tuple(
        data.draw(st.integers(0, misbehaviours))
        for _ in range(SCHEDULE_MODEL_CALLS * (misbehaviours > 0))
    )
    delivered = tuple(data.draw(st.integers(0, 1)) for _ in range(deliveries))
    return Schedule(seed, faults, model, delivered)


#: How often a switch point hands the call to another delivery while exploring: rarely, so
#: that the first interleaving found to break an agent needs few switches (shrinking can turn
#: a switch off, but seldom move one later).
SWITCH_PROBABILITY = 0.15


def draw_switch(data: Draws, others: Sequence[_T]) -> _T | None:
    """Which of ``others`` makes the call at a switch point, or ``None`` (shrinks towards
    ``None``: the delivery that reached it goes on, no switch)."""
    conjecture = data.conjecture_data
    if not conjecture.draw_boolean(SWITCH_PROBABILITY):
        return None
    if len(others) == 1:
        return others[0]
    pick: _T = conjecture.draw(st.sampled_from(tuple(others)))
    return pick


class Failed(Exception):
    """Raised inside the Hypothesis property so that it shrinks the example."""


def reproduce_blob(found: BaseException) -> str | None:
    """Hypothesis's ``@reproduce_failure(...)`` decorator for the failure, from its notes."""
    for note in getattr(found, "__notes__", ()):
        match = re.search(r"@reproduce_failure\(.*?\)", note)
        if match:
            return match.group(0)
    return None


def hypothesis_test(
    body: Callable[[Draws], None],
    scenario: Scenario,
    agent_name: str,
    config: EngineSettings,
) -> Callable[[], None]:
    database: ExampleDatabase | None
    if isinstance(config.database, ExampleDatabase):
        database = config.database
    else:
        database = settings().database if config.use_database else None
    test = settings(
        max_examples=config.examples,
        deadline=None,
        database=database,
        derandomize=config.in_ci and config.seed is None,
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
        report_multiple_bugs=False,
        print_blob=True,
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
    )(given(st.data())(body))
    # Each scenario × agent gets its own entry in the example database (the key is a digest of
    # the inner function, so the salt goes there).
    body._hypothesis_internal_add_digest = f"{scenario.name}|{agent_name}".encode()  # type: ignore[attr-defined]
    if config.seed is not None and not hasattr(_hypothesis_core, "threadlocal"):
        test = hypothesis_seed(config.seed)(test)  # fallback: reproducible, but no database
    return test


def profile_examples() -> int:
    """``max_examples`` of the active settings profile (``settings.load_profile``,
    ``--hypothesis-profile``): Hypothesis's 100 unless a profile says otherwise."""
    return settings().max_examples  # a fresh settings object inherits the active profile


@contextmanager
def collecting(label: str, report: Callable[[str], None] | None) -> Iterator[None]:
    """Hand Hypothesis's statistics of this exploration, described the way
    ``--hypothesis-show-statistics`` prints them, to ``report``."""
    if report is None:
        yield
        return
    from hypothesis.statistics import collector, describe_statistics

    def described(stats: Any) -> None:
        labelled: Any = {**stats, "nodeid": label}
        report(describe_statistics(labelled))

    variable: Any = collector  # typed by Hypothesis as holding None only
    with variable.with_value(described):
        yield


@contextmanager
def seeded(seed: int | None, salt: str) -> Iterator[None]:
    """Make Hypothesis's own random choices follow ``seed`` (a database, if one is forced on
    with a seed, is still used).

    ``@hypothesis.seed`` would also do, but Hypothesis then neither saves nor replays failures
    (a seeded run is meant to be reproducible), and a found failure must run first next time.
    So the seed goes into the thread's Hypothesis generator, the one an unseeded test draws
    its own seed from. Salting with the scenario and agent keeps scenarios apart.
    """
    holder = getattr(_hypothesis_core, "threadlocal", None)
    if seed is None or holder is None:
        yield
        return
    saved = getattr(holder, "_hypothesis_global_random", None)
    holder._hypothesis_global_random = random.Random(f"{seed}|{salt}")
    # --hypothesis-seed forces one seed on every test; chaoskit's own seed (which defaults to
    # it) decides here, salted per scenario, so `--chaos-seed=N` reproduces the run exactly.
    forced = _hypothesis_core.global_force_seed
    _hypothesis_core.global_force_seed = None
    try:
        yield
    finally:
        holder._hypothesis_global_random = saved
        _hypothesis_core.global_force_seed = forced
