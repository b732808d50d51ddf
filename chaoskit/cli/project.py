"""Where the ``chaoskit`` command looks for the user's agent: as ``pytest`` would find it.

pytest finds its configuration file by walking up from the current directory (``pytest.toml``,
``pytest.ini``, ``pyproject.toml``, ``tox.ini``, ``setup.cfg``), takes that file's folder as
the rootdir and puts the ``pythonpath`` entries it lists on ``sys.path``. The command reads the
same files with the standard library, so ``chaoskit run`` imports what ``pytest`` imports.
"""

from __future__ import annotations

import configparser
import tomllib
from pathlib import Path
from typing import Any

from chaoskit.core.loading import SearchPlace, merged

__all__ = ["agent_search"]


def agent_search(here: Path | None = None) -> list[SearchPlace]:
    """The folders to import the agent from when it is not installed: the ``pythonpath``
    entries of the pytest configuration, its rootdir, then the current directory."""
    here = (here or Path.cwd()).resolve()
    found = _pytest_config(here)
    places: list[SearchPlace] = []
    if found is not None:
        file, options = found
        for entry in _paths(options.get("pythonpath")):
            places.append(((file.parent / entry).resolve(), f"pythonpath in {file.name}"))
        places.append((file.parent, "pytest's rootdir"))
    places.append((here, "the current directory"))
    return merged(places)


def _pytest_config(here: Path) -> tuple[Path, dict[str, Any]] | None:
    """The first pytest configuration file up from ``here``, and its options (pytest's order)."""
    fallback: Path | None = None
    for folder in (here, *here.parents):
        for name in _READERS:
            file = folder / name
            if not file.is_file():
                continue
            try:
                options = _READERS[name](file)
            except (OSError, ValueError, configparser.Error):
                options = None  # pytest itself reports a broken file; here it only adds nothing
            if options is not None:
                return file, options
            if name == "pyproject.toml" and fallback is None:
                fallback = file
    return (fallback, {}) if fallback is not None else None


def _paths(value: Any) -> list[str]:
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list):
        return [str(v) for v in value]
    return []


def _toml(file: Path) -> dict[str, Any]:
    with open(file, "rb") as handle:
        return tomllib.load(handle)


def _pytest_toml(file: Path) -> dict[str, Any] | None:
    table = _toml(file).get("pytest")
    return dict(table) if isinstance(table, dict) else {}


def _pyproject(file: Path) -> dict[str, Any] | None:
    tool = _toml(file).get("tool", {}).get("pytest")
    if not isinstance(tool, dict):
        return None
    ini = tool.get("ini_options")
    return dict(ini) if isinstance(ini, dict) else {k: v for k, v in tool.items()}


def _ini(section: str, *, always: bool = False) -> Any:
    def read(file: Path) -> dict[str, Any] | None:
        parser = configparser.ConfigParser(interpolation=None)
        parser.read(file, encoding="utf-8")
        if parser.has_section(section):
            return dict(parser.items(section))
        return {} if always else None

    return read


_READERS: dict[str, Any] = {
    "pytest.toml": _pytest_toml,
    ".pytest.toml": _pytest_toml,
    "pytest.ini": _ini("pytest", always=True),
    ".pytest.ini": _ini("pytest", always=True),
    "pyproject.toml": _pyproject,
    "tox.ini": _ini("pytest"),
    "setup.cfg": _ini("tool:pytest"),
}
