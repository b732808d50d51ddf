"""One rule for a file's path wherever chaoskit writes it: relative to the current directory
when under it, else absolute; the ``reproduce:`` line, the report and the results JSON agree."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from chaoskit.cli.main import main
from chaoskit.core.errors import InvalidScenario
from chaoskit.core.paths import shown_path
from chaoskit.scenarios import load_scenario
from tests.test_cli import NAIVE, SCENARIO
from tests.test_plugin import AGENTS, REFUND

pytest_plugins = ["pytester"]


def test_a_path_under_the_current_directory_is_written_relative_to_it(tmp_path: Path) -> None:
    assert shown_path(tmp_path / "scenarios" / "refund.toml", cwd=tmp_path) == os.path.join(
        "scenarios", "refund.toml"
    )
    assert shown_path("scenarios/../scenarios/refund.toml", cwd=tmp_path) == os.path.join(
        "scenarios", "refund.toml"
    )


def test_a_path_outside_the_current_directory_is_written_absolute(tmp_path: Path) -> None:
    (tmp_path / "project").mkdir()
    outside = tmp_path / "elsewhere" / "refund.toml"
    assert shown_path(outside, cwd=tmp_path / "project") == str(outside)
    assert shown_path("../elsewhere/refund.toml", cwd=tmp_path / "project") == str(outside)


def test_a_current_directory_reached_through_a_symlink_still_gives_relative_paths(
    tmp_path: Path,
) -> None:
    real = tmp_path / "real"
    (real / "scenarios").mkdir(parents=True)
    (tmp_path / "link").symlink_to(real)
    assert shown_path(real / "scenarios" / "a.toml", cwd=tmp_path / "link") == os.path.join(
        "scenarios", "a.toml"
    )


def test_a_scenario_loaded_by_its_absolute_path_is_named_relative_everywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "scenarios").mkdir()
    good, bad = tmp_path / "scenarios" / "refund.toml", tmp_path / "scenarios" / "bad.toml"
    good.write_text(SCENARIO)
    bad.write_text('name = "bad"\ntask = "{order.nope}"\n')
    monkeypatch.chdir(tmp_path)
    assert load_scenario(good).source == os.path.join("scenarios", "refund.toml")
    with pytest.raises(InvalidScenario) as error:
        load_scenario(bad)
    assert str(error.value).startswith(os.path.join("scenarios", "bad.toml") + ", task:")
    assert str(tmp_path) not in str(error.value)


def test_chaoskit_run_writes_the_same_paths_in_its_output_report_and_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    inside = tmp_path / "project" / "scenarios" / "refund.toml"
    inside.parent.mkdir(parents=True)
    inside.write_text(SCENARIO)
    outside = tmp_path / "shared" / "refund_too.toml"
    outside.parent.mkdir()
    outside.write_text(SCENARIO.replace('"refund-timeout"', '"refund-shared"'))
    monkeypatch.chdir(tmp_path / "project")
    args = ["run", "--agent", NAIVE, "--examples", "20", "--seed", "3", str(inside), str(outside)]
    assert main(args) == 1
    out = capsys.readouterr().out
    near, far = os.path.join("scenarios", "refund.toml"), str(outside)
    assert f"--seed 3 {near}\n" in out and f"--seed 3 {far}\n" in out
    assert str(inside) not in out  # the file under the current directory: relative only
    data = json.loads(Path("reports/chaoskit.json").read_text())
    runs = {s["scenario"]: s for s in data["scenarios"]}
    assert runs["refund-timeout"]["source"] == near
    assert runs["refund-timeout"]["reproduction"].endswith(f" {near}")
    assert runs["refund-shared"]["source"] == far
    assert runs["refund-shared"]["reproduction"].endswith(f" {far}")


def test_the_plugin_names_scenario_files_relative_to_where_pytest_runs(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(myagent=AGENTS)
    pytester.makeconftest("")
    pytester.syspathinsert()
    (pytester.path / "scenarios").mkdir()
    (pytester.path / "scenarios" / "refund.toml").write_text(REFUND)
    (pytester.path / "scenarios" / "broken.toml").write_text('name = "b"\ntask = "{order.x}"\n')
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--chaos-examples=20", "--chaos-seed=1",
        "--chaos-agent=myagent:naive",
    )  # fmt: skip
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*reproduce: chaoskit run --agent myagent:naive --seed 1 scenarios/refund.toml",
            "invalid        scenarios/broken.toml, task: *",
            "chaoskit: report written to reports/chaoskit.html (results: reports/chaoskit.json)",
        ]
    )
    # pytest's own header names its rootdir; nothing chaoskit writes is absolute.
    assert [line for line in result.outlines if str(pytester.path) in line] == [
        f"rootdir: {pytester.path}"
    ]
    data = json.loads((pytester.path / "reports" / "chaoskit.json").read_text())
    (run,) = data["scenarios"]
    assert run["source"] == "scenarios/refund.toml"
    assert run["reproduction"].endswith(" scenarios/refund.toml")
    assert [i["source"] for i in data["invalid"]] == ["scenarios/broken.toml"]
