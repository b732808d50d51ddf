"""Scenario files as pytest items: one item per file, a bad file fails alone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from chaoskit.results import ScenarioResult
    from chaoskit.scenarios import Scenario

from chaoskit.testing.settings import SETTINGS, explore_scenario, invalid_property, result_property

__all__ = [
    "BadScenarioItem",
    "ChaosFailure",
    "ScenarioFile",
    "ScenarioItem",
    "is_within",
    "model_traffic",
]


def is_within(path: Path, root: Path) -> bool:
    root = root.resolve()
    path = path.resolve()
    return path == root or root in path.parents


class ScenarioFile(pytest.File):
    """A scenario TOML file: one test item, or one item that fails with the file's error."""

    def collect(self) -> Iterator[pytest.Item]:
        from chaoskit.core.errors import InvalidScenario
        from chaoskit.scenarios import load_scenario

        try:
            scenario = load_scenario(self.path)
        except InvalidScenario as error:
            yield BadScenarioItem.from_parent(self, name=self.path.stem, message=str(error))
            return
        for tag in scenario.tags:
            self.config.addinivalue_line("markers", f"{tag}: chaoskit scenario tag")
        parts = self.config.stash[SETTINGS].split
        for index in range(1, parts + 1):
            name = scenario.name if parts == 1 else f"{scenario.name}[{index}/{parts}]"
            item = ScenarioItem.from_parent(self, name=name, scenario=scenario, part=(index, parts))
            for tag in scenario.tags:
                item.add_marker(tag)
            yield item


class ScenarioItem(pytest.Item):
    """One scenario explored against the configured agent; or, split across xdist workers,
    part ``i`` of ``n`` of its search (see :mod:`chaoskit.engine.parts`)."""

    def __init__(
        self, *, scenario: Scenario, part: tuple[int, int] = (1, 1), **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.part = part

    def runtest(self) -> None:
        settings = self.config.stash[SETTINGS]
        result = explore_scenario(
            self.config,
            self.scenario,
            settings.agent(),
            settings.agent_spec or "",
            item=self,
            part=self.part,
        )
        # Results travel to the xdist controller as JSON in the report's user properties.
        self.user_properties.append(result_property(result))
        if result.status != "held":
            raise ChaosFailure(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, ChaosFailure):
            return excinfo.value.message
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int, str]:
        part = f" (part {self.part[0]}/{self.part[1]})" if self.part[1] > 1 else ""
        return self.path, 0, f"scenario {self.scenario.name}{part}"


class BadScenarioItem(pytest.Item):
    """Stands for a scenario file that does not validate: it fails alone, the rest runs, and the
    run's report lists it as an invalid input (so its gate can never say PASS)."""

    def __init__(self, *, message: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.message = message

    def runtest(self) -> None:
        from chaoskit.core.paths import shown_path

        self.user_properties.append(invalid_property(shown_path(self.path), self.message))
        raise ChaosFailure(None, self.message)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        return self.message

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"scenario file {self.path.name}"


class ChaosFailure(Exception):
    """A scenario that did not hold; its message is the whole story."""

    def __init__(self, result: ScenarioResult | None, message: str | None = None) -> None:
        from chaoskit.report.text import describe_failure

        self.result = result
        self.message = message or (describe_failure(result) if result else "")
        super().__init__(self.message)


def model_traffic(config: pytest.Config, items: list[pytest.Item]) -> list[str]:
    """The run header's lines for collected scenarios with ``model = "passthrough"``."""
    scenarios = [i.scenario for i in items if isinstance(i, ScenarioItem)]
    if not any(s.passthrough for s in scenarios):
        return []
    from chaoskit.engine.model import model_traffic_lines

    return model_traffic_lines(scenarios, config.stash[SETTINGS].model_cassette)
