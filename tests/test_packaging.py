"""The distribution ships the fakes and scenarios inside `chaoskit`, nothing at top level, and
each way of installing it (wheel, sdist, editable) gives a working ``chaoskit demo``."""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import tarfile
import tomllib
import types
import venv
import zipfile
from pathlib import Path

import pytest

import chaoskit

ROOT = Path(__file__).resolve().parents[1]


def _run(*command: str | Path, cwd: Path = ROOT) -> str:
    return subprocess.run(
        [str(c) for c in command], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def _pristine(out: Path) -> Path:
    """A copy of the checkout without build leftovers: a stale ``build/lib`` would put modules
    that no longer exist into the wheel and hide a missing package."""
    ignore = shutil.ignore_patterns(".*", "build", "dist", "*.egg-info", "__pycache__", "reports")
    return Path(shutil.copytree(ROOT, out / "checkout", ignore=ignore))


def _wheel(source: Path, out: Path) -> Path:
    _run(sys.executable, "-m", "pip", "wheel", source, "--no-deps", "--no-build-isolation",
         "-q", "-w", out)  # fmt: skip
    (wheel,) = out.glob("chaoskit-*.whl")
    return wheel


def _sdist(out: Path) -> Path:
    """The source distribution, built by the project's own build backend (PEP 517 hook)."""
    hook = f"from setuptools import build_meta; build_meta.build_sdist({str(out)!r})"
    _run(sys.executable, "-c", hook, cwd=_pristine(out))
    (sdist,) = out.glob("chaoskit-*.tar.gz")
    return sdist


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    out = tmp_path_factory.mktemp("wheel")
    wheel = _wheel(_pristine(out), out)
    return set(zipfile.ZipFile(wheel).namelist())


def test_the_wheel_ships_fakes_and_scenarios_inside_chaoskit(wheel_names: set[str]) -> None:
    assert "chaoskit/fakes/payments/backend.py" in wheel_names
    assert "chaoskit/scenarios/builtin/refund_timeout_after_commit.toml" in wheel_names
    assert "chaoskit/report/assets/report.js" in wheel_names
    assert "chaoskit/py.typed" in wheel_names


def test_the_wheel_claims_no_generic_top_level_package(wheel_names: set[str]) -> None:
    tops = {name.split("/")[0] for name in wheel_names if not name.startswith("chaoskit-")}
    assert tops == {"chaoskit"}


def test_every_sub_package_in_the_tree_is_listed_for_packaging() -> None:
    """A sub-package missing from pyproject's list works in the checkout and is absent from
    the wheel; one listed but gone breaks the build."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    in_tree = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "chaoskit").rglob("__init__.py")
    }
    assert set(config["packages"]) == in_tree | set(config["package-dir"])


def test_the_sdist_carries_the_scenario_files_and_report_assets(tmp_path: Path) -> None:
    with tarfile.open(_sdist(tmp_path)) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    assert "scenarios/refund_timeout_after_commit.toml" in names
    assert "chaoskit/report/assets/report.js" in names
    assert "chaoskit/fakes/payments/backend.py" in names


def _fresh_env(where: Path) -> Path:
    """A new virtualenv outside the repository, without chaoskit.

    Its dependencies (pip and setuptools included) come from this test run's environment
    through a .pth file, so the test needs no package index.
    """
    env_dir = where / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    purelib = _run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    Path(purelib.strip(), "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return python


def _install(how: str, python: Path, where: Path) -> None:
    pip = (python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--no-build-isolation")
    if how == "editable":
        _run(*pip, "-e", ROOT)
        return
    source = _pristine(where) if how == "wheel" else _sdist(where / "sdist")
    _run(*pip, _wheel(source, where / "wheel"))


@pytest.mark.parametrize("how", ["wheel", "sdist", "editable"])
def test_demo_runs_from_a_fresh_virtualenv_outside_the_repository(how: str, tmp_path: Path) -> None:
    python = _fresh_env(tmp_path)
    _install(how, python, tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    work = tmp_path / "project"
    work.mkdir()
    done = subprocess.run(
        [str(python.parent / "chaoskit"), "demo", "--examples", "8", "--seed", "0"],
        cwd=work, capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    located = subprocess.run(
        [str(python), "-c", "import chaoskit; print(chaoskit.__file__)"],
        cwd=work, capture_output=True, text=True, env=env, check=True,
    ).stdout  # fmt: skip
    # The editable install runs the checkout; the others must not see it at all.
    assert (str(ROOT) in located) == (how == "editable")
    results = json.loads((work / "reports" / "chaoskit.json").read_text())
    assert {s["status"] for s in results["scenarios"]} >= {"violated", "held"}
    assert (work / "reports" / "chaoskit.html").stat().st_size > 10_000


EXPORTED = [
    "Agent", "AgentCrash", "AgentCrashed", "Budget", "Call", "ChaoskitError", "Claim",
    "ConnectionReset", "Decider", "EngineSettings", "Event", "Example", "Fault", "FaultRule",
    "InvalidFault", "InvalidScenario", "Invariant", "InvariantViolation", "Latency",
    "MalformedResponse", "PoisonedDocument", "Principal", "RateLimit", "Reply", "RunResult",
    "RunView", "Scenario", "ScenarioResult", "Served", "ServerError", "StaleRead", "Target",
    "Task", "TaskStore", "TimeoutAfterCommit", "TimeoutBeforeCommit", "Trace", "Turn",
    "UsageError", "Verdict", "VirtualClock", "World", "WorldError", "__version__",
    "command_agent", "default_backends", "explore", "invariant", "load_results",
    "load_scenario", "load_scenarios", "render_html", "replay", "run_scenarios", "scenario",
    "service_agent", "write_report",
]  # fmt: skip


def test_the_public_names_are_exactly_the_curated_facade() -> None:
    """Adding or removing a public name must be a deliberate edit of this list."""
    assert chaoskit.__all__ == EXPORTED
    # The facade imports each name on first use (the pytest plugin stays light): every one
    # resolves, and dir() shows exactly these.
    public = {
        name
        for name in dir(chaoskit)
        if not name.startswith("_")
        and not isinstance(getattr(chaoskit, name), types.ModuleType)
        and name not in ("annotations", "importlib", "TYPE_CHECKING")
    }
    assert public == set(EXPORTED) - {"__version__"}
    with pytest.raises(AttributeError, match="module 'chaoskit' has no attribute 'Secret'"):
        chaoskit.Secret  # noqa: B018
