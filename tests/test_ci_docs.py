"""The documented GitHub Actions workflows: valid, complete, and the same as docs/ci.md shows."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from chaoskit.cli.main import main
from tests.test_shards import shard_run

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def workflow(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DOCS / name).read_text())
    return data


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = job["steps"]
    return found


def step_running(job: dict[str, Any], command: str) -> dict[str, Any]:
    return next(s for s in steps(job) if s.get("run", "").startswith(command))


def uploads(job: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in steps(job) if s.get("uses", "").startswith("actions/upload-artifact@")]


@pytest.mark.parametrize("name", ["github-workflow.yml", "github-workflow-sharded.yml"])
def test_each_workflow_is_shown_verbatim_in_docs_ci_md(name: str) -> None:
    assert f"```yaml\n{(DOCS / name).read_text()}```" in (DOCS / "ci.md").read_text()


def test_the_readme_links_the_ci_page() -> None:
    assert "(docs/ci.md)" in (ROOT / "README.md").read_text()


def test_the_workflow_runs_chaoskit_and_uploads_reports_even_on_failure() -> None:
    data = workflow("github-workflow.yml")
    assert set(data[True]) == {"push", "pull_request"}  # YAML 1.1 reads the key `on` as True
    job = data["jobs"]["chaos"]
    assert "--chaos-agent=" in step_running(job, "pytest")["run"]
    (upload,) = uploads(job)
    assert upload["if"] == "always()" and upload["with"]["path"] == "reports/"
    assert steps(job).index(upload) > steps(job).index(step_running(job, "pytest"))
    # No step may swallow pytest's exit status: a violation must fail the job.
    assert not any(s.get("continue-on-error") for s in steps(job))
    assert "|| true" not in step_running(job, "pytest")["run"]


def test_the_matrix_recipe_runs_every_shard_and_merges_them_all() -> None:
    jobs = workflow("github-workflow-sharded.yml")["jobs"]
    shards = jobs["chaos"]["strategy"]["matrix"]["shard"]
    assert jobs["chaos"]["strategy"]["fail-fast"] is False
    command = step_running(jobs["chaos"], "pytest")["run"]
    assert f"--chaos-shard=${{{{ matrix.shard }}}}/{len(shards)}" in command
    assert shards == list(range(1, len(shards) + 1))
    (upload,) = uploads(jobs["chaos"])
    assert upload["if"] == "always()" and upload["with"]["path"] == "reports/"
    report = jobs["report"]
    assert report["needs"] == "chaos" and report["if"] == "always()"
    download = next(s for s in steps(report) if s.get("uses", "").startswith("actions/download"))
    prefix = download["with"]["pattern"].removesuffix("*")
    assert upload["with"]["name"].startswith(prefix)
    assert uploads(report)[0]["if"] == "always()"


def test_the_documented_merge_step_merges_downloaded_shards(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The merge command as written, run where download-artifact puts each shard's files."""
    report = workflow("github-workflow-sharded.yml")["jobs"]["report"]
    args = shlex.split(step_running(report, "chaoskit merge")["run"])[1:]
    monkeypatch.chdir(tmp_path)
    files = []
    for index in (1, 2, 3):
        folder = tmp_path / "shards" / f"chaoskit-shard-{index}"
        folder.mkdir(parents=True)
        (folder / "chaoskit.json").write_text(shard_run(index).model_dump_json())
        files.append(str(folder.relative_to(tmp_path) / "chaoskit.json"))
    pattern = "shards/*/chaoskit.json"
    assert pattern in args
    expanded = [part for arg in args for part in (files if arg == pattern else [arg])]
    assert main(expanded) == 0
    assert (tmp_path / "reports" / "chaoskit.html").is_file()
    assert (tmp_path / "reports" / "chaoskit.json").is_file()
