"""``module:callable`` agents load the way users run them: from the project root, with errors
that say what to fix."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaoskit import UsageError
from chaoskit.core.loading import load_agent


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A project folder, the current directory, and not on sys.path (as for an installed script)."""
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "__init__.py").write_text("")
    (tmp_path / "shop" / "agent.py").write_text("def handle(task):\n    return 'ok'\nlimit = 3\n")
    (tmp_path / "shop" / "broken.py").write_text("import not_installed_anywhere\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    yield tmp_path
    for name in [m for m in sys.modules if m == "shop" or m.startswith("shop.")]:
        del sys.modules[name]


def test_an_agent_in_the_current_directory_is_found(project: Path) -> None:
    agent = load_agent("shop.agent:handle")
    assert agent.__module__ == "shop.agent"
    assert sys.path[0] == str(project)


def test_a_missing_dependency_of_the_agent_is_named_not_hidden(project: Path) -> None:
    with pytest.raises(UsageError, match="No module named 'not_installed_anywhere'"):
        load_agent("shop.broken:handle")
    sys.path.insert(0, str(project))  # and when the project was on sys.path all along
    with pytest.raises(UsageError, match="No module named 'not_installed_anywhere'"):
        load_agent("shop.broken:handle")


def test_a_module_that_is_nowhere_says_so(project: Path) -> None:
    with pytest.raises(UsageError, match=r"cannot import the agent's module 'shoppe\.agent'"):
        load_agent("shoppe.agent:handle")


def test_a_misspelt_callable_gets_a_suggestion(project: Path) -> None:
    with pytest.raises(UsageError, match=r"has no attribute 'handel'\. Did you mean 'handle'"):
        load_agent("shop.agent:handel")


def test_a_value_that_is_not_callable_is_refused(project: Path) -> None:
    with pytest.raises(UsageError, match="is a int, not a callable"):
        load_agent("shop.agent:limit")


def test_a_spec_without_a_colon_shows_the_form(project: Path) -> None:
    with pytest.raises(UsageError, match="'module:callable'"):
        load_agent("shop.agent.handle")
