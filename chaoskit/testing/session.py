"""Every scenario result of a session (the controller's and xdist workers'), reported once."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from chaoskit.engine.recorder import RunRecorder
    from chaoskit.results import ScenarioResult

from chaoskit.testing.settings import INVALID_KEY, RESULT_KEY, SETTINGS, is_worker

__all__ = ["ChaosSession"]

_CRASHED = (
    "the pytest-xdist worker running this test crashed (an agent calling os._exit, or a fatal "
    "signal), so its result is lost. Run the test alone without -n to see what happened."
)


class ChaosSession:
    """Collects every scenario result and invalid input (its own and xdist workers') and
    reports once; after Ctrl-C, the report is marked interrupted."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        settings = config.stash[SETTINGS]
        self._recorder: RunRecorder | None = None
        self.report_error: str | None = None
        self._tests: dict[int, str] = {}  # id() of a recorded result -> its test's node id
        # A split scenario's parts merge into a new result: its test's node id without the
        # part, by (scenario, agent).
        self._split_tests: dict[tuple[str, str], str] = {}
        if settings.shard is not None:
            from chaoskit.testing.shard import ShardSelection

            selection = ShardSelection(config, settings.shard, self.recorder)
            config.pluginmanager.register(selection, "chaoskit-shard")

    @property
    def recording(self) -> bool:
        """Whether any result or invalid input arrived (nothing is imported until one does)."""
        return self._recorder is not None and self._recorder.recorded

    @property
    def recorder(self) -> RunRecorder:
        # The engine is imported only when a result arrives: a suite with no chaos test never
        # pays for Hypothesis, the report or the fakes.
        if self._recorder is None:
            from chaoskit.engine.recorder import RunRecorder

            settings = self.config.stash[SETTINGS]
            self._recorder = RunRecorder(
                seed=settings.seed,
                examples=settings.examples,
                ordered=True,
                database=settings.database,
                shard=settings.shard,
                trials=settings.trials,
            )
        return self._recorder

    @property
    def results(self) -> list[ScenarioResult]:
        return self.recorder.results if self._recorder is not None else []

    @pytest.hookimpl(tryfirst=True)  # before pytest's JUnit XML reads the teardown report
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # On the controller this sees its own items and every worker's reports.
        if report.when == "teardown":
            # The result travelled with the call's report; a copy in the teardown report
            # would be written whole into --junitxml's properties.
            report.user_properties = [p for p in report.user_properties if p[0] != RESULT_KEY]
        if report.failed and "crashed while running" in report.longreprtext:
            self.recorder.invalid(report.nodeid, _CRASHED)  # never a PASS page for a lost result
            return
        if report.when != "call" or not report.user_properties:
            return
        from chaoskit.results import ScenarioResult

        for key, value in report.user_properties:
            if key == RESULT_KEY:
                result = ScenarioResult.model_validate_json(str(value))
                if result.part is None:
                    self._tests[id(result)] = report.nodeid
                else:
                    item = (result.scenario, result.agent)
                    self._split_tests[item] = report.nodeid.rpartition("[")[0]
                self.recorder.add(result)  # a part of a split scenario is merged
            elif key == INVALID_KEY:
                invalid = json.loads(str(value))
                self.recorder.invalid(invalid["source"], invalid["message"])

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        # Ctrl-C inside a scenario: the engine's RunInterrupted carries what finished of it.
        from chaoskit.core.errors import RunInterrupted

        stop = excinfo.value
        if isinstance(stop, RunInterrupted) or (
            isinstance(stop, KeyboardInterrupt) and self.recording
        ):
            self.recorder.interrupt(stop)

    def pytest_sessionfinish(
        self, session: pytest.Session, exitstatus: int | pytest.ExitCode
    ) -> None:
        # Also runs after Ctrl-C, so a partial report of what finished is still written.
        if is_worker(self.config):
            return
        if not self.recording:
            return
        if exitstatus == pytest.ExitCode.INTERRUPTED:
            self.recorder.interrupt()
        settings = self.config.stash[SETTINGS]
        self.report_error = self.recorder.write(settings.report, settings.json)
        if exitstatus == pytest.ExitCode.OK and self.recorder.missing_parts():
            # A split scenario explored on only some of its parts: its items all passed, but
            # the run must not (the report says why).
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.recording or is_worker(self.config):
            return
        from chaoskit.report.text import run_summary_lines, summary_lines

        write = terminalreporter.write_line
        terminalreporter.section("chaoskit")
        # The full story of each failure is in its test's failure section already.
        tests = [
            self._tests.get(id(result)) or self._split_tests.get((result.scenario, result.agent))
            for result in self.results
        ]
        for line in summary_lines(self.results, details=True, tests=tests):
            write(line)
        for line in run_summary_lines(self.recorder.result()):
            write(line)
        settings = self.config.stash[SETTINGS]
        write("")
        if self.report_error:
            write(self.report_error)
        else:
            from chaoskit.core.paths import shown_path

            report, results = shown_path(settings.report), shown_path(settings.json)
            write(f"chaoskit: report written to {report} (results: {results})")
        self._publish(write)

    def _publish(self, write: Any) -> None:
        """On GitHub Actions: the annotations (printed) and the job summary (appended)."""
        from chaoskit.report.github import publish

        for line in publish(self.recorder.result()):
            write(line)
