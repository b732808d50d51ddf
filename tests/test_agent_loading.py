"""``module:callable`` agents load the way users run them: from the project root, with errors
that say what to fix."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaoskit import UsageError
from chaoskit.cli.main import main
from chaoskit.cli.project import agent_search
from chaoskit.core.loading import load_agent
from tests.test_cli import SCENARIO


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


def test_an_agent_is_found_in_the_first_search_place_that_holds_it(
    project: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    search = [(elsewhere, "pytest's rootdir"), (project, "the current directory")]
    agent = load_agent("shop.agent:handle", search=search)
    assert agent.__module__ == "shop.agent"
    assert sys.path[0] == str(project)
    assert str(elsewhere) not in sys.path


def test_the_error_names_every_place_searched_and_the_fix(project: Path) -> None:
    search = [(project / "tests", "the current directory"), (project, "pytest's rootdir")]
    with pytest.raises(UsageError) as caught:
        load_agent("nowhere.agent:handle", search=search)
    message = str(caught.value)
    assert "no module named 'nowhere': searched sys.path" in message
    assert f"then {project / 'tests'} (the current directory)" in message
    assert f"then {project} (pytest's rootdir)" in message
    assert "`pythonpath` ini option" in message and "pip install -e ." in message


def test_a_package_in_a_src_folder_gets_the_pythonpath_line_that_finds_it(project: Path) -> None:
    (project / "src").mkdir()
    (project / "shop").rename(project / "src" / "shop")
    with pytest.raises(UsageError) as caught:
        load_agent("shop.agent:handle", search=[(project, "pytest's rootdir")])
    assert f"It is in {project / 'src'}" in str(caught.value)
    assert "`pythonpath = src` under [pytest]" in str(caught.value)


def test_a_misspelt_module_of_the_agents_package_gets_a_suggestion(project: Path) -> None:
    with pytest.raises(UsageError, match=r"package 'shop' has no module 'agnet'\. Did you mean"):
        load_agent("shop.agnet:handle")


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("pytest.ini", "[pytest]\npythonpath = src lib\n"),
        ("pyproject.toml", '[tool.pytest.ini_options]\npythonpath = ["src", "lib"]\n'),
        ("pyproject.toml", '[tool.pytest]\npythonpath = ["src", "lib"]\n'),
        ("pytest.toml", '[pytest]\npythonpath = ["src", "lib"]\n'),
        ("tox.ini", "[pytest]\npythonpath = src lib\n"),
        ("setup.cfg", "[tool:pytest]\npythonpath = src lib\n"),
    ],
)
def test_the_command_searches_pytests_pythonpath_then_rootdir_then_here(
    tmp_path: Path, name: str, text: str
) -> None:
    (tmp_path / name).write_text(text)
    (tmp_path / "tests").mkdir()
    places = agent_search(tmp_path / "tests")
    assert places == [
        (tmp_path / "src", f"pythonpath in {name}"),
        (tmp_path / "lib", f"pythonpath in {name}"),
        (tmp_path, "pytest's rootdir"),
        (tmp_path / "tests", "the current directory"),
    ]


def test_the_nearest_pytest_configuration_wins_as_pytest_decides(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\npythonpath = outer\n")
    inner = tmp_path / "inner"
    inner.mkdir()
    (inner / "pyproject.toml").write_text("[project]\nname = 'x'\n")  # no pytest table
    (inner / "setup.cfg").write_text("[tool:pytest]\npythonpath = src\n")
    assert agent_search(inner)[0] == (inner / "src", "pythonpath in setup.cfg")
    (inner / "setup.cfg").unlink()  # a pyproject.toml with no pytest table does not stop the walk
    assert agent_search(inner)[:2] == [
        (tmp_path / "outer", "pythonpath in pytest.ini"),
        (tmp_path, "pytest's rootdir"),
    ]
    (tmp_path / "pytest.ini").unlink()  # but is the rootdir when nothing else is found
    assert agent_search(inner) == [(inner, "pytest's rootdir, the current directory")]


def test_the_command_imports_an_agent_from_a_src_layout_via_pythonpath(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "src").mkdir()
    (project / "shop").rename(project / "src" / "shop")
    (project / "pytest.ini").write_text("[pytest]\npythonpath = src\n")
    scenario = project / "refund.toml"
    scenario.write_text(SCENARIO)
    report = project / "out" / "report.html"
    args = ["--examples", "3", "--seed", "1", "--report", str(report), str(scenario)]
    assert main(["run", "--agent", "shop.agent:handle", *args]) in (0, 1)
    assert report.exists()
    (project / "pytest.ini").write_text("[pytest]\n")
    for name in [m for m in sys.modules if m == "shop" or m.startswith("shop.")]:
        del sys.modules[name]
    sys.path.remove(str(project / "src"))
    assert main(["run", "--agent", "shop.agent:handle", *args]) == 4
    assert "`pythonpath = src` under [pytest]" in capsys.readouterr().err
