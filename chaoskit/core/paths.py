"""How chaoskit writes a file's path for people: one rule for every message, report and JSON.

A path under the current directory is written relative to it (what a user types, and what a
``reproduce:`` line run from the same place needs); any other path is written absolute, so it
still works from anywhere. Never a mix: the same file is written the same way everywhere.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["shown_path"]


def shown_path(path: str | Path, *, cwd: str | Path | None = None) -> str:
    """``path`` relative to ``cwd`` (default: the current directory) when under it, else absolute.

    >>> shown_path("/home/me/shop/scenarios/refund.toml", cwd="/home/me/shop")
    'scenarios/refund.toml'
    >>> shown_path("../other/refund.toml", cwd="/home/me/shop")
    '/home/me/other/refund.toml'
    """
    base = os.path.abspath(cwd if cwd is not None else os.getcwd())
    full = os.path.abspath(os.path.join(base, path))
    for candidate, root in ((full, base), (os.path.realpath(full), os.path.realpath(base))):
        inside = _relative(candidate, root)
        if inside is not None:
            return inside
    return full


def _relative(path: str, root: str) -> str | None:
    """``path`` relative to ``root`` if it lies under it (symlinks not followed), else None."""
    try:
        if os.path.commonpath([path, root]) != root:
            return None
    except ValueError:  # another drive on Windows
        return None
    return os.path.relpath(path, root) if path != root else "."
