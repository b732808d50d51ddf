"""The object the ``chaos`` fixture yields."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from chaoskit.core.agent import Agent
    from chaoskit.results import ScenarioResult
    from chaoskit.scenarios import Scenario

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
        from chaoskit.core.loading import load_agent

        chosen = scenario or self._defaults.get("scenarios")
        if chosen is None:
            raise pytest.UsageError("chaoskit: chaos.run() needs a scenario (path or Scenario).")
        loaded = self._resolve(chosen)
        agent = agent or self._defaults.get("agent") or self._config.stash[SETTINGS].agent_spec
        if not agent:
            raise pytest.UsageError(
                "chaoskit: no agent: pass agent=..., use @pytest.mark.chaos(agent=...), "
                "or --chaos-agent=module:callable."
            )
        resolved = load_agent(agent) if isinstance(agent, str) else agent
        name = agent if isinstance(agent, str) else _callable_name(agent)
        result = explore_scenario(
            self._config, loaded, resolved, name, examples or self._defaults.get("examples")
        )
        self.results.append(result)
        self._item.user_properties.append(result_property(result))
        return result

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
    return f"{getattr(agent, '__module__', '?')}:{getattr(agent, '__qualname__', repr(agent))}"
