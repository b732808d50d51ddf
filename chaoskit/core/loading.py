"""Finding the agent a user named: ``module:callable``."""

from __future__ import annotations

import importlib
import os
import sys

from chaoskit.core.agent import Agent
from chaoskit.core.errors import UsageError
from chaoskit.core.names import did_you_mean

__all__ = ["load_agent"]


def load_agent(spec: str) -> Agent:
    """Import ``module:callable``, with errors that say what to fix."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise UsageError(
            f"chaoskit: agent {spec!r} is not of the form 'module:callable', "
            "e.g. 'myproject.agent:handle'."
        )
    try:
        module = _import(module_name)
    except ImportError as error:
        raise UsageError(
            f"chaoskit: cannot import the agent's module {module_name!r}: {error}. "
            "Is it installed, or on sys.path (run from the project root)?"
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


def _import(module_name: str) -> object:
    """Import a module, searching the current directory too, as ``python -m`` does.

    The ``chaoskit`` command is an installed script, so the project the user runs it from is
    not on ``sys.path`` unless put there: it is, only when the import fails without it.
    """
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        here = os.getcwd()
        missing = error.name or ""
        ours = module_name == missing or module_name.startswith(missing + ".")
        if not ours or here in sys.path or "" in sys.path:
            raise
        sys.path.insert(0, here)
        return importlib.import_module(module_name)
