"""Finding the agent a user named: ``module:callable``."""

from __future__ import annotations

import importlib
import importlib.machinery
import os
import pkgutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from chaoskit.core.errors import UsageError
from chaoskit.core.names import did_you_mean

if TYPE_CHECKING:  # the plugin imports this module in every pytest run: keep it light
    from chaoskit.core.agent import Agent

__all__ = ["SearchPlace", "load_agent", "merged"]

#: A folder to look for the agent's package in, and why it is searched ("pytest's rootdir").
SearchPlace = tuple[Path, str]


def load_agent(spec: str, *, search: Sequence[SearchPlace] | None = None) -> Agent:
    """Import ``module:callable``, with errors that say what to fix.

    The module is imported from ``sys.path`` first; when its package is not there, from the
    first of ``search`` that holds it (default: the current directory, as ``python -m`` does),
    which is then put on ``sys.path``.
    """
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise UsageError(
            f"chaoskit: agent {spec!r} is not of the form 'module:callable', "
            "e.g. 'myproject.agent:handle'."
        )
    places = list(search) if search is not None else [(Path.cwd(), "the current directory")]
    try:
        module = _import(module_name, places)
    except ImportError as error:
        text = str(error)
        end = "" if text.endswith((".", "?")) else "."
        raise UsageError(
            f"chaoskit: cannot import the agent's module {module_name!r}: {text}{end}"
        ) from None
    target: object = module
    for part in attr.split("."):
        if not hasattr(target, part):
            names = [n for n in dir(target) if not n.startswith("_")]
            hint = did_you_mean(part, names)
            raise UsageError(f"chaoskit: {module_name!r} has no attribute {attr!r}.{hint}")
        target = getattr(target, part)
    if not callable(target):
        raise UsageError(f"chaoskit: agent {spec!r} is a {type(target).__name__}, not a callable.")
    return target


def merged(places: Sequence[SearchPlace]) -> list[SearchPlace]:
    """Each folder once, in first-seen order, with every reason it is searched."""
    reasons: dict[Path, list[str]] = {}
    for folder, why in places:
        reasons.setdefault(folder.resolve(), []).append(why)
    return [(folder, ", ".join(whys)) for folder, whys in reasons.items()]


def _import(module_name: str, places: Sequence[SearchPlace]) -> object:
    """Import a module; if its top package is on no ``sys.path`` entry, look in ``places``.

    The ``chaoskit`` command is an installed script and pytest does not put its rootdir on
    ``sys.path``, so the project the user runs from is not importable unless put there: it is,
    only when the import fails without it (a missing dependency of the agent is never hidden).
    """
    top = module_name.partition(".")[0]
    try:
        return _import_from_path(module_name)
    except ModuleNotFoundError as error:
        if error.name != top:
            raise
    folder = _holder(top, places)
    if folder is None:
        raise ModuleNotFoundError(_not_found(top, places), name=top)
    sys.path.insert(0, str(folder))
    importlib.invalidate_caches()
    return _import_from_path(module_name)


def _import_from_path(module_name: str) -> object:
    """``import_module``; a misspelt module inside the agent's package gets a suggestion."""
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        missing = error.name or ""
        top = module_name.partition(".")[0]
        ours = module_name == missing or module_name.startswith(missing + ".")
        if not ours or missing == top:
            raise
        raise ModuleNotFoundError(_no_submodule(missing), name=missing) from None


def _holder(top: str, places: Sequence[SearchPlace]) -> Path | None:
    on_path = {os.path.abspath(p or os.curdir) for p in sys.path}
    for folder, _ in places:
        if str(folder.resolve()) in on_path:
            continue
        if importlib.machinery.PathFinder.find_spec(top, [str(folder)]) is not None:
            return folder.resolve()
    return None


def _no_submodule(missing: str) -> str:
    parent, _, last = missing.rpartition(".")
    package = sys.modules.get(parent)
    names = [m.name for m in pkgutil.iter_modules(getattr(package, "__path__", None) or [])]
    hint = did_you_mean(last, names)
    return f"package {parent!r} has no module {last!r}.{hint}"


def _not_found(top: str, places: Sequence[SearchPlace]) -> str:
    searched = "".join(f", then {folder} ({why})" for folder, why in places)
    fix = _src_hint(top, places) or (
        f"Run from the folder that holds {top}/ (or {top}.py), list that folder in pytest's "
        "`pythonpath` ini option, or install your project (pip install -e .)"
    )
    return f"no module named {top!r}: searched sys.path{searched}. {fix}"


def _src_hint(top: str, places: Sequence[SearchPlace]) -> str:
    """A package one folder down (``src/`` layouts): name the ``pythonpath`` line that fixes it."""
    for folder, _ in places:
        for child in sorted(folder.iterdir()) if folder.is_dir() else []:
            if child.name.startswith("."):
                continue
            if child.is_dir() and importlib.machinery.PathFinder.find_spec(top, [str(child)]):
                return (
                    f"It is in {child}: put that folder on pytest's `pythonpath` (pytest.ini: "
                    f"`pythonpath = {child.name}` under [pytest]; pyproject.toml: "
                    f'`pythonpath = ["{child.name}"]` under [tool.pytest.ini_options]), '
                    "or install your project (pip install -e .)"
                )
    return ""
