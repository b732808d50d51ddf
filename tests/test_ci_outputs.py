"""What chaoskit gives CI: GitHub annotations and job summary, JUnit XML (`chaoskit run`)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from chaoskit.cli.main import main
from chaoskit.report.github import escape_data, escape_property, step_summary
from chaoskit.report.junit import junit_xml
from chaoskit.report.lines import field_path, line_of
from chaoskit.scenarios import load_scenario
from tests.test_cli import HARDENED, NAIVE, SCENARIO
from tests.test_report import make_result

BAD_TARGET = """name = "bad"
task = "Refund {order.id}"

[[faults]]
kind = "timeout_after_commit"
target = "payments: POST /v1/nowhere"
explore = true
"""


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A workspace with one good and one bad scenario file, run from its root."""
    monkeypatch.chdir(tmp_path)
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    (scenarios / "refund.toml").write_text(SCENARIO)
    (scenarios / "bad.toml").write_text(BAD_TARGET)
    return scenarios


def run(agent: str, *extra: str) -> int:
    args = ["run", "--agent", agent, "--examples", "30", "--seed", "3", "--report", "out/r.html"]
    return main([*args, *extra, "scenarios"])


def unescape(text: str) -> str:
    """GitHub's reading of an escaped workflow command value."""
    for code, char in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
        text = text.replace(code, char)
    return text


# --- escaping ---------------------------------------------------------------------------------


def test_messages_escape_percent_and_line_breaks_as_github_reads_them() -> None:
    data = "50% of 2 refunds\r\nwent: twice, %0A not a break"
    escaped = escape_data(data)
    assert "\n" not in escaped and "\r" not in escaped and "%0A not" not in escaped
    assert escaped == "50%25 of 2 refunds%0D%0Awent: twice, %250A not a break"
    assert unescape(escaped) == data


def test_properties_also_escape_colon_and_comma() -> None:
    value = "scenarios/a,b.toml: 5%\n"
    escaped = escape_property(value)
    assert not re.search(r"[:,\n]", escaped)
    assert unescape(escaped) == value


# --- annotations from chaoskit run ------------------------------------------------------------


def annotations(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("::")]


def test_run_on_github_actions_annotates_each_violation_at_its_invariant_table(
    folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_WORKSPACE", str(folder.parent))
    assert run(NAIVE) == 1
    lines = annotations(capsys.readouterr().out)
    invariant = SCENARIO.splitlines().index('name = "at_most_one_effect_per_intent"') + 1
    assert lines[0].startswith(
        "::error file=scenarios/bad.toml,line=6,title=chaoskit%3A invalid scenario file::"
        "scenarios/bad.toml, faults[0].target: 'payments' has no route matching"
    )
    assert lines[1].startswith(
        f"::error file=scenarios/refund.toml,line={invariant},title=chaoskit%3A "
        "at_most_one_effect_per_intent violated by refund-timeout [tests.test_engine%3A"
        "retries_with_new_keys]::2 refund.created effects for one intent"
    )
    story = unescape(lines[1].split("::", 2)[2])
    assert "\nminimal fault schedule:\n  call 2" in story and "timeout_after_commit" in story
    assert story.endswith(f"reproduce: chaoskit run --agent {NAIVE} --seed 3 scenarios/refund.toml")
    assert len(lines) == 2


def test_run_of_an_agent_that_holds_annotates_only_the_bad_file(
    folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert run(HARDENED) == 1  # the bad file fails the run
    lines = annotations(capsys.readouterr().out)
    assert len(lines) == 1 and "file=scenarios/bad.toml" in lines[0]


def test_run_off_github_actions_prints_no_workflow_command(
    folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    assert run(NAIVE) == 1
    assert annotations(capsys.readouterr().out) == []


@pytest.mark.parametrize(
    ("text", "line"),
    [
        # a typo in a fault table (whatever level the model's error names)
        (
            'name = "x"\ntask = "t"\n[[faults]]\nkind = "timeout_after_commit"\n'
            'target = "payments: POST /v1/refunds"\nexplor = 1\n',
            6,
        ),
        ('name = "x"\nexplor = true\ntask = "t"\n', 2),  # a typo at the top
        ('name = "x"\ntask = "t"\n[budget]\ntool_calls = "many"\n', 4),
        ('name = "x"\ntask = \n', 2),  # a TOML syntax error: the reader's own line
    ],
)
def test_an_invalid_file_is_annotated_at_the_line_of_its_bad_field(
    tmp_path: Path, text: str, line: int
) -> None:
    path = tmp_path / "s.toml"
    path.write_text(text)
    with pytest.raises(ValueError) as error:
        load_scenario(path)
    where = field_path(str(path), str(error.value))
    assert (where if isinstance(where, int) else line_of(text, where)) == line


def test_a_key_inside_a_multi_line_string_is_not_taken_for_a_field() -> None:
    text = 'name = "x"\ndescription = """\nexplore = true\n"""\n[[faults]]\nexplore = true\n'
    assert line_of(text, ("faults", 0, "explore")) == 6
    assert line_of(text, ("explore",)) == 1  # not at the top level: the file's first line


# --- job summary ------------------------------------------------------------------------------


def test_run_appends_a_job_summary_with_gate_matrix_and_fenced_schedules(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = folder.parent / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    run(NAIVE)
    text = summary.read_text()
    assert text.startswith("earlier step\n## ❌ chaoskit: FAIL: 1 violated; 1 invalid input")
    assert "| scenario | agent | status | at\\_most\\_one\\_effect\\_per\\_intent |" in text
    agent = NAIVE.replace("_", "\\_")
    assert f"| refund-timeout | {agent} | ❌ violated | ❌ |" in text
    assert "; 1 invalid input, not run: fix it (listed below)\n" in text
    assert "### Invalid inputs (not run)\n\n- scenarios/bad.toml, faults\\[0\\].target: " in text
    fenced = text.split("```text\n", 1)[1].split("\n```", 1)[0]
    assert "minimal fault schedule (1 fault):" in fenced
    assert f"reproduce: chaoskit run --agent {NAIVE} --seed 3 scenarios/refund.toml" in fenced


def test_a_reply_with_backticks_cannot_end_the_summarys_fence() -> None:
    text = step_summary(make_result("```\n## PASS"))
    fence = re.search(r"^(`{3,})text$", text, re.M)
    assert fence is not None and len(fence.group(1)) > 3
    assert text.count(fence.group(1) + "\n") == 2  # one story: opened and closed once


def test_markup_in_names_and_messages_is_shown_as_text() -> None:
    text = step_summary(make_result("<script>alert(1)</script>|*x*"))
    outside = re.sub(r"^(`{3,})text\n.*?^\1$", "", text, flags=re.M | re.S)  # not the stories
    assert "<script>" not in outside and "\\<script\\>" in outside
    rows = [line for line in outside.splitlines() if line.startswith("|")]
    assert len({len(re.findall(r"(?<!\\)\|", row)) for row in rows}) == 1  # no cell split


# --- JUnit XML --------------------------------------------------------------------------------


def test_junitxml_has_a_case_per_scenario_and_fails_the_violated_one(
    folder: Path, tmp_path: Path
) -> None:
    (folder / "other.toml").write_text(SCENARIO.replace("refund-timeout", "refund-other"))
    run(NAIVE, "--junitxml", "out/junit.xml")
    root = ET.parse(tmp_path / "out" / "junit.xml").getroot()
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "2", "1")
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert set(cases) == {"refund-timeout", "refund-other", "scenarios/bad.toml"}
    failure = cases["refund-timeout"].find("failure")
    assert failure is not None and cases["refund-timeout"].get("classname") == NAIVE
    assert failure.get("message") == "invariant violated: at_most_one_effect_per_intent"
    assert "minimal fault schedule (1 fault)" in (failure.text or "")
    error = cases["scenarios/bad.toml"].find("error")
    assert error is not None and "has no route matching" in (error.text or "")


def test_junitxml_of_a_run_that_held_has_no_failure(folder: Path, tmp_path: Path) -> None:
    (folder / "bad.toml").unlink()
    assert run(HARDENED, "--junitxml", "out/junit.xml") == 0
    suite = ET.parse(tmp_path / "out" / "junit.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == suite.get("errors") == "0"
    assert [c.get("name") for c in suite.iter("testcase")] == ["refund-timeout"]
    assert not list(suite.iter("failure"))


def test_control_characters_in_any_field_still_give_xml_that_parses() -> None:
    document = junit_xml(make_result("\x00\x1b[31m \ud800"))
    failure = ET.fromstring(document).find("testsuite/testcase/failure")
    assert failure is not None and "against naive\ufffd\ufffd[31m \ufffd (after" in (
        failure.text or ""
    )


def test_a_scenario_that_could_not_run_and_a_bad_file_are_errors_not_failures() -> None:
    suite = ET.fromstring(junit_xml(make_result())).find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "1", "2")


# --- chaoskit merge ---------------------------------------------------------------------------


def test_merge_summarises_the_merged_run_and_annotates_only_a_missing_shard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.test_shards import shard_run

    files = []
    for index in (1, 3):
        files.append(tmp_path / f"s{index}.json")
        files[-1].write_text(shard_run(index, status="violated").model_dump_json())
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert main(["merge", *map(str, files), "-o", str(tmp_path / "m.html")]) == 1
    lines = annotations(capsys.readouterr().out)
    assert len(lines) == 1  # the shards' own jobs annotated their violations already
    assert lines[0].startswith(
        "::error title=chaoskit%3A shard 2/3 missing::chaoskit: shard 2/3 is missing"
    )
    text = summary.read_text()
    assert text.startswith("## ❌ chaoskit: FAIL: 2 violated; 1 invalid input")
    assert "| s1 | shop:agent | ❌ violated |" in text and "shard 2/3 is missing" in text
