"""Every scenario result of a session (the controller's and xdist workers'), reported once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from chaoskit.results import ScenarioResult

from chaoskit.testing.settings import RESULT_KEY, SETTINGS, is_worker

__all__ = ["ChaosSession"]


class ChaosSession:
    """Collects every scenario result (its own and xdist workers') and reports once."""

    def __init__(self, config: pytest.Config) -> None:
        from chaoskit.engine import RunRecorder

        self.config = config
        settings = config.stash[SETTINGS]
        self.recorder = RunRecorder(seed=settings.seed, examples=settings.examples, ordered=True)
        self.report_error: str | None = None

    @property
    def results(self) -> list[ScenarioResult]:
        return self.recorder.results

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # On the controller this sees its own items and every worker's reports.
        if report.when != "call":
            return
        from chaoskit.results import ScenarioResult

        for key, value in report.user_properties:
            if key == RESULT_KEY:
                self.recorder.add(ScenarioResult.model_validate_json(str(value)))

    def pytest_sessionfinish(self) -> None:
        # Also runs after Ctrl-C, so a partial report of what finished is still written.
        if is_worker(self.config) or not self.results:
            return
        settings = self.config.stash[SETTINGS]
        self.report_error = self.recorder.write(settings.report, settings.json)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.results or is_worker(self.config):
            return
        from chaoskit.report.text import summary_lines

        write = terminalreporter.write_line
        terminalreporter.section("chaoskit")
        # The full story of each failure is in its test's failure section already.
        for line in summary_lines(self.results, details=True):
            write(line)
        settings = self.config.stash[SETTINGS]
        write("")
        if self.report_error:
            write(self.report_error)
        else:
            write(f"chaoskit: report written to {settings.report} (results: {settings.json})")
