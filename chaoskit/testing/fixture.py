"""The object the ``chaos`` fixture yields."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Sequence

    from chaoskit.core.agent import Agent
    from chaoskit.results import ScenarioResult
    from chaoskit.scenarios import Scenario
    from chaoskit.world.server import Served

from chaoskit.testing.settings import (
    SETTINGS,
    explore_scenario,
    invalid_property,
    result_property,
)

__all__ = ["Chaos"]


class Chaos:
    """What the ``chaos`` fixture yields: run scenarios against an agent, get typed results.

    >>> def test_refunds_survive_timeouts(chaos):
    ...     chaos.check("scenarios/refund_timeout_after_commit.toml", agent=my_agent)
    """

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self._config = request.config
        self._item = request.node
        self._request = request
        marker = request.node.get_closest_marker("chaos")
        self._defaults: dict[str, Any] = dict(marker.kwargs) if marker else {}
        self.results: list[ScenarioResult] = []

    def run(
        self,
        scenario: Scenario | str | Path | None = None,
        *,
        agent: Agent | str | None = None,
        examples: int | None = None,
    ) -> ScenarioResult:
        """Explore one scenario and return its result.

        ``scenario`` is a :class:`Scenario`, a TOML file path, or the name of a built-in
        scenario such as ``"refund-timeout-after-commit"``.
        """
        from chaoskit.engine.external import resolve_agent

        chosen = scenario or self._defaults.get("scenarios")
        if chosen is None:
            raise pytest.UsageError("chaoskit: chaos.run() needs a scenario (path or Scenario).")
        loaded = self._resolve(chosen)
        agent = agent or self._defaults.get("agent") or self._config.stash[SETTINGS].agent_spec
        if not agent:
            raise pytest.UsageError(
                "chaoskit: no agent: pass agent=..., use @pytest.mark.chaos(agent=...), "
                "or --chaos-agent=module:callable (--chaos-agent-cmd / --chaos-agent-url for an "
                "agent in another process)."
            )
        search = self._config.stash[SETTINGS].search
        resolved = resolve_agent(agent, search=search) if isinstance(agent, str) else agent
        name = agent if isinstance(agent, str) else _callable_name(agent)
        result = explore_scenario(
            self._config,
            loaded,
            resolved,
            name,
            examples or self._defaults.get("examples"),
            item=self._item,
        )
        self.results.append(result)
        self._item.user_properties.append(result_property(result))
        return result

    def serve(
        self,
        scenario: Scenario | str | Path | None = None,
        *,
        seed: int = 0,
        pin: Sequence[int] = (),
        **options: Any,
    ) -> Served:
        """Serve a scenario's fakes on loopback for this test; they stop when it ends.

        Without a scenario, every built-in backend. Pinned faults apply (``pin=[1]`` fires the
        ones left to Hypothesis on the first call of their target); ``options`` are those of
        :meth:`chaoskit.World.serve` (``routing``, ``time_scale``, ``port``…). The world is
        ``served.world``: its ledgers hold what the agent did.

        >>> def test_node_agent_refunds_once(chaos):
        ...     served = chaos.serve("refund-timeout-after-commit", pin=[1])
        ...     subprocess.run(["node", "agent.js"], env={**os.environ, **served.env}, check=True)
        ...     assert len(served.world.ledger("payments")) == 1
        """
        from chaoskit.engine.serving import served_world

        loaded = None if scenario is None else self._resolve(scenario)
        setup = served_world(loaded, seed=seed, pin=pin)
        served = setup.world.serve(**options)
        served.task = setup.task
        self._request.addfinalizer(served.close)
        return served

    def _resolve(self, chosen: Scenario | str | Path) -> Scenario:
        """The scenario; one that does not load fails the test and is listed in the report."""
        from chaoskit.core.errors import InvalidScenario
        from chaoskit.scenarios import Scenario, resolve_scenario

        if isinstance(chosen, Scenario):
            return chosen
        try:
            return resolve_scenario(chosen)
        except InvalidScenario as error:
            self._item.user_properties.append(invalid_property(str(chosen), str(error)))
            raise

    def check(self, scenario: Scenario | str | Path | None = None, **kwargs: Any) -> ScenarioResult:
        """Like :meth:`run`, but fail the test with the full story unless the scenario held."""
        result = self.run(scenario, **kwargs)
        if result.status != "held":
            from chaoskit.report.text import describe_failure

            pytest.fail(describe_failure(result), pytrace=False)
        return result


def _callable_name(agent: Any) -> str:
    from chaoskit.engine.external import OutOfProcessAgent

    if isinstance(agent, OutOfProcessAgent):
        return agent.name  # cmd: … or url: …, which chaoskit run and replay read back
    return f"{getattr(agent, '__module__', '?')}:{getattr(agent, '__qualname__', repr(agent))}"
