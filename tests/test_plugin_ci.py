"""The pytest plugin in CI, run as users run it: shards, GitHub annotations, the job summary."""

from __future__ import annotations

import json
import re

import pytest

from tests.test_plugin import REFUND, project, run

pytest_plugins = ["pytester"]
__all__ = ["project"]  # the fixture, imported for these tests

NAMES = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"]


@pytest.fixture
def many(project: pytest.Pytester) -> pytest.Pytester:
    """The project with six more scenario files, so that every shard of three holds some."""
    for name in NAMES:
        text = REFUND.replace("refund-timeout-after-commit", f"refund-{name}")
        (project.path / "scenarios" / f"{name}.toml").write_text(text)
    return project


def collected(result: pytest.RunResult) -> set[str]:
    return {line for line in result.outlines if line.startswith("scenarios/")}


def test_the_shards_split_the_items_each_into_exactly_one(many: pytest.Pytester) -> None:
    everything = collected(run(many, "--chaos-agent=myagent:hardened", "--co", "-q"))
    parts = [
        collected(run(many, "--chaos-agent=myagent:hardened", "--co", "-q", f"--chaos-shard={i}/3"))
        for i in (1, 2, 3)
    ]
    assert len(everything) == 8 and all(parts)
    assert set().union(*parts) == everything and sum(map(len, parts)) == len(everything)


def test_items_of_other_shards_are_reported_as_deselected(many: pytest.Pytester) -> None:
    result = run(many, "--chaos-agent=myagent:hardened", "--co", "-q", "--chaos-shard=2/3")
    kept = len(collected(result))
    result.stdout.fnmatch_lines([f"{kept}/8 tests collected ({8 - kept} deselected)*"])


def test_a_shard_records_itself_in_the_results_json(many: pytest.Pytester) -> None:
    result = run(many, "--chaos-agent=myagent:hardened", "--chaos-seed=1", "--chaos-shard=3/3")
    data = json.loads((many.path / "reports" / "chaoskit.json").read_text())
    ran = len(data["scenarios"])
    assert result.ret == 0 and data["shard"] == {
        "index": 3,
        "total": 3,
        "selected": ran,
        "collected": 8,
        "agent": "myagent:hardened",
    }
    result.stdout.fnmatch_lines([f"chaoskit: shard 3/3: {ran} of 8 items ran here*"])


def test_the_ini_twin_chaos_shard_selects_the_same_items(many: pytest.Pytester) -> None:
    by_option = run(many, "--chaos-agent=myagent:hardened", "--co", "-q", "--chaos-shard=1/3")
    many.makeini("[pytest]\nchaos_shard = 1/3\n")
    by_ini = run(many, "--chaos-agent=myagent:hardened", "--co", "-q")
    assert collected(by_ini) == collected(by_option)


@pytest.mark.parametrize("spec", ["0/3", "4/3", "x/y"])
def test_a_shard_that_cannot_exist_is_a_usage_error(project: pytest.Pytester, spec: str) -> None:
    result = run(project, "--chaos-agent=myagent:hardened", f"--chaos-shard={spec}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*chaoskit: --chaos-shard *{spec}*"])


def test_an_empty_shard_passes_and_still_writes_its_results(project: pytest.Pytester) -> None:
    (project.path / "scenarios" / "refund_loose.toml").unlink()
    shards = [
        run(project, "--chaos-agent=myagent:hardened", "--chaos-seed=1", f"--chaos-shard={i}/3")
        for i in (1, 2, 3)
    ]
    empty = [r for r in shards if "1 deselected" in r.stdout.str()]
    assert [r.ret for r in shards] == [0, 0, 0] and len(empty) == 2
    data = json.loads((project.path / "reports" / "chaoskit.json").read_text())
    assert data["shard"]["collected"] == 1


def test_xdist_runs_a_shard_with_two_workers(many: pytest.Pytester) -> None:
    alone = run(many, "--chaos-agent=myagent:hardened", "--chaos-seed=1", "--chaos-shard=1/3")
    one = json.loads((many.path / "reports" / "chaoskit.json").read_text())
    both = run(
        many, "--chaos-agent=myagent:hardened", "--chaos-seed=1", "--chaos-shard=1/3", "-n", "2"
    )
    two = json.loads((many.path / "reports" / "chaoskit.json").read_text())
    assert alone.ret == both.ret == 0
    assert [s["scenario"] for s in two["scenarios"]] == [s["scenario"] for s in one["scenarios"]]
    assert two["shard"] == one["shard"] and two["shard"]["collected"] == 8


# --- GitHub Actions -------------------------------------------------------------------------


def line_of(text: str, needle: str) -> int:
    return text.splitlines().index(needle) + 1


def test_on_github_actions_each_violation_and_bad_file_is_annotated_at_its_line(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = project.path / "summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("GITHUB_WORKSPACE", str(project.path))
    bad = "\n".join(["name = 'bad'", "task = 'x'", "[[faults]]", "kind = 'timeout_after_commit'",
                     "target = 'payments: POST /v1/nowhere'", "explore = true"])  # fmt: skip
    (project.path / "scenarios" / "bad.toml").write_text(bad)
    result = run(project, "--chaos-agent=myagent:naive", "--chaos-seed=1")
    errors = [line for line in result.outlines if line.startswith("::error ")]
    refund = (project.path / "scenarios" / "refund.toml").read_text()
    invariant_line = line_of(refund, 'name = "at_most_one_effect_per_intent"')
    assert any(
        line.startswith(
            f"::error file=scenarios/refund.toml,line={invariant_line},title=chaoskit%3A "
            "at_most_one_effect_per_intent violated by refund-timeout-after-commit "
            "[myagent%3Anaive]::"
        )
        and "%0Aminimal fault schedule:%0A  call" in line
        for line in errors
    ), errors
    assert any(
        line.startswith("::error file=scenarios/bad.toml,line=5,title=chaoskit%3A invalid")
        for line in errors
    ), errors
    text = summary.read_text()
    assert text.startswith("## ❌ chaoskit: FAIL")
    assert "| refund-timeout-after-commit | myagent:naive | ❌ violated |" in text
    assert "reproduce: chaoskit run --agent myagent:naive --seed 1" in text


def test_off_github_actions_nothing_is_annotated_nor_summarised(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    result = run(project, "--chaos-agent=myagent:naive", "--chaos-seed=1")
    assert result.ret == 1
    assert not [line for line in result.outlines if re.match(r"::\w+ ", line)]


def test_pytests_own_junitxml_has_the_story_but_not_the_results_json(
    project: pytest.Pytester,
) -> None:
    import xml.etree.ElementTree as ET

    run(project, "--chaos-agent=myagent:naive", "--chaos-seed=1", "--junitxml=junit.xml")
    root = ET.parse(project.path / "junit.xml").getroot()
    names = {p.get("name") for p in root.iter("property")}
    assert "chaoskit_result" not in names
    failures = [f.text or "" for f in root.iter("failure")]
    assert any("minimal fault schedule" in text for text in failures)
    data = json.loads((project.path / "reports" / "chaoskit.json").read_text())
    assert {s["status"] for s in data["scenarios"]} == {"violated"}  # still recorded
