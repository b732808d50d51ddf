"""Hypothesis's own options and chaoskit's, together (run in subprocesses: Hypothesis keeps a
loaded profile and a forced seed for the rest of the process).

- ``--hypothesis-seed`` is the chaos seed when ``--chaos-seed`` is not given;
- a settings profile's ``max_examples`` is the default examples per scenario, and
  ``--chaos-examples`` overrides it;
- ``--hypothesis-show-statistics`` prints each exploration's statistics.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.test_plugin import AGENTS, EXPECT, REFUND

pytest_plugins = ["pytester"]

PROFILES = """
from hypothesis import settings

settings.register_profile("few", max_examples=7)
settings.register_profile("some", max_examples=9)
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(myagent=AGENTS)
    pytester.makeconftest(PROFILES)
    pytester.syspathinsert()
    (pytester.path / "scenarios").mkdir()
    (pytester.path / "scenarios" / "refund.toml").write_text(REFUND + EXPECT)
    return pytester


def run(project: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, Any]]:
    result = project.runpytest_subprocess(
        "-p", "no:cacheprovider", "--chaos-agent=myagent:hardened", *args
    )
    assert result.ret == 0, result.stdout.str()
    data: dict[str, Any] = json.loads((project.path / "reports" / "chaoskit.json").read_text())
    data.pop("timing")
    return result, data


def test_hypothesis_seed_is_the_chaos_seed_and_reproduces_as_one(project: pytest.Pytester) -> None:
    result, by_hypothesis = run(project, "--chaos-examples=10", "--hypothesis-seed=7")
    result.stdout.fnmatch_lines(["chaoskit * seed 7", "*pytest --chaos-seed=7*"])
    assert by_hypothesis["seed"] == 7 and by_hypothesis["database"] is False
    _, by_chaos = run(project, "--chaos-examples=10", "--chaos-seed=7")
    assert by_hypothesis == by_chaos


def test_chaos_seed_wins_over_hypothesis_seed(project: pytest.Pytester) -> None:
    result, data = run(project, "--chaos-examples=5", "--hypothesis-seed=7", "--chaos-seed=3")
    result.stdout.fnmatch_lines(["chaoskit * seed 3"])
    assert data["seed"] == 3


def test_a_profile_sets_the_examples_and_chaos_examples_overrides_it(
    project: pytest.Pytester,
) -> None:
    result, data = run(project, "--chaos-seed=1", "--hypothesis-profile=few")
    result.stdout.fnmatch_lines(["chaoskit * 7 examples per scenario*"])
    assert data["scenarios"][0]["examples"] == 7
    (project.path / "conftest.py").write_text(PROFILES + 'settings.load_profile("some")\n')
    result, data = run(project, "--chaos-seed=1")
    result.stdout.fnmatch_lines(["chaoskit * 9 examples per scenario*"])
    assert data["scenarios"][0]["examples"] == 9
    result, data = run(project, "--chaos-seed=1", "--chaos-examples=4")
    result.stdout.fnmatch_lines(["chaoskit * 4 examples per scenario*"])
    assert data["scenarios"][0]["examples"] == 4


def test_without_a_profile_a_scenario_runs_hypothesiss_default_100_examples(
    project: pytest.Pytester,
) -> None:
    result = project.runpytest_subprocess("--chaos-agent=myagent:hardened", "--co")
    result.stdout.fnmatch_lines(["chaoskit * 100 examples per scenario*"])


def test_show_statistics_prints_each_explorations_statistics(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_fixture="""
        def test_refunds(chaos):
            chaos.check("scenarios/refund.toml", agent="myagent:hardened")
        """
    )
    result, _ = run(project, "--chaos-seed=1", "--chaos-examples=6", "--hypothesis-show-statistics")
    result.stdout.fnmatch_lines(
        [
            "*= Hypothesis Statistics =*",
            "scenarios/refund.toml::refund-timeout-after-commit:",
            "scenario 'refund-timeout-after-commit' against myagent:hardened:",
            "*6 passing, 0 failing*",
        ]
    )
    result.stdout.fnmatch_lines(
        ["test_fixture.py::test_refunds:", "scenario 'refund-timeout-after-commit' against *"]
    )
    quiet, _ = run(project, "--chaos-seed=1", "--chaos-examples=6")
    assert "Hypothesis Statistics" not in quiet.stdout.str()
