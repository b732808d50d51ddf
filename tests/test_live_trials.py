"""The real model in trials: a pass rate and pass^k, measured live, then replayed offline.

The model is the nondeterministic loopback server (tests/loopback_model.py): on each
conversation it decides, with its own seeded generator, whether to repeat the refund, and logs
that decision. The naive reference agent runs whatever it is told, so a trial passes exactly
when the server did not repeat: the test computes pass^k by hand from the server's own log
and checks chaoskit's measure against it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from math import comb
from pathlib import Path

import pytest

from chaoskit.engine import EngineSettings, explore
from chaoskit.engine.example import backends_for
from chaoskit.examples.agents import llm
from chaoskit.fakes.model import Cassette
from chaoskit.results import ScenarioResult
from chaoskit.scenarios import Scenario
from chaoskit.world.data import build_world
from chaoskit.world.world import World
from tests.loopback_model import loopback_model
from tests.test_passthrough import live_refund

K = 4
#: The model repeats the refund on about one conversation in three.
REPEAT = 0.3


@dataclass
class Measured:
    scenario: Scenario
    result: ScenarioResult
    #: The server's decisions, by order id: True where it repeated the refund.
    decisions: dict[str, list[bool]]
    cassette: Path
    #: Where the (now stopped) model listened: the agent is configured the same under replay.
    base_url: str


def trials(cassette: Cassette | None, examples: int = 8) -> EngineSettings:
    return EngineSettings(
        examples=examples, seed=0, database=False, trials=K, model_cassette=cassette
    )


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Measured]:
    """The naive agent in 4 trials per schedule against the live model, recorded."""
    folder = tmp_path_factory.mktemp("live")
    log, path = folder / "decisions.jsonl", folder / "model.json"
    with (
        loopback_model(seed=5, repeat=REPEAT, log=log) as server,
        pytest.MonkeyPatch.context() as patch,
    ):
        patch.setenv("OPENAI_BASE_URL", server.base_url)
        chosen = live_refund(server.host)
        config = trials(Cassette.record(path))
        result = explore(chosen, llm.openai_naive, agent_name="naive", config=config)
    decisions: dict[str, list[bool]] = defaultdict(list)
    for line in log.read_text().splitlines():
        entry = json.loads(line)
        decisions[entry["order"]].append(entry["repeated"])
    yield Measured(chosen, result, dict(decisions), path, server.base_url)


def order_of(chosen: Scenario, world_seed: int) -> str:
    """The order a schedule's world is about: how the server's log names the schedule."""
    world = World(backends_for(chosen), seed=world_seed)  # ids follow the fakes' seed too
    return build_world(world_seed, chosen.world, world.backends).orders[0].order_id


def test_the_real_model_in_trials_gives_a_pass_rate_strictly_between_0_and_1(
    measured: Measured,
) -> None:
    result = measured.result
    assert result.error is None  # a measurement, not a FlakyFailure
    assert result.trials == K
    rates = [s.pass_rate for s in result.schedules]
    overall = sum(s.passed for s in result.schedules) / sum(s.trials for s in result.schedules)
    assert 0 < overall < 1
    assert any(0 < rate < 1 for rate in rates)  # one schedule, both outcomes
    assert result.pass_k is not None and 0 < result.pass_k < 1
    assert result.status == "violated"  # no min_pass_k: any failing trial fails it


def test_pass_k_is_the_hand_computed_estimator_over_the_models_own_decisions(
    measured: Measured,
) -> None:
    result = measured.result
    orders = [order_of(measured.scenario, s.world_seed) for s in result.schedules]
    assert len(set(orders)) == len(orders)  # one order, so one log group, per schedule
    assert set(orders) <= measured.decisions.keys()
    by_hand = []
    for schedule, order in zip(result.schedules, orders, strict=True):
        repeated = measured.decisions[order]
        assert len(repeated) == K  # every trial of the schedule reached the model's decision
        passed = repeated.count(False)
        assert schedule.passed == passed
        by_hand.append([comb(passed, k) / comb(K, k) for k in range(1, K + 1)])
    curve = [sum(row[k] for row in by_hand) / len(by_hand) for k in range(K)]
    assert result.pass_k == pytest.approx(curve[K - 1])
    assert list(result.pass_curve) == pytest.approx(curve)


def test_trials_replayed_from_the_cassette_measure_the_same_with_no_server(
    measured: Measured, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The server is stopped (the fixture's block has ended): only the cassette can answer.
    # The K trials of a schedule send identical first requests, answered in recorded order.
    monkeypatch.setenv("OPENAI_BASE_URL", measured.base_url)
    config = trials(Cassette.replay(measured.cassette))
    again = explore(measured.scenario, llm.openai_naive, agent_name="naive", config=config)
    live = measured.result
    assert [(s.world_seed, s.passed) for s in again.schedules] == [
        (s.world_seed, s.passed) for s in live.schedules
    ]
    assert (again.pass_k, again.pass_curve, again.status) == (
        live.pass_k,
        live.pass_curve,
        live.status,
    )
    assert [(i.invariant, i.status) for i in again.invariants] == [
        (i.invariant, i.status) for i in live.invariants
    ]
