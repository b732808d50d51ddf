"""Where a field of a scenario file is: the line of a table or a key, for CI annotations.

The standard library's TOML reader keeps no positions, so the file is read line by line:
table headers (``[budget]``, the n-th ``[[invariants]]``) and ``key =`` lines, outside
multi-line strings. A path not found falls back to its closest table, then to line 1.

>>> text = 'name = "x"\\n[[invariants]]\\nname = "a"\\n[[invariants]]\\nname = "b"\\n'
>>> line_of(text, ("invariants", 1, "name"))
5
>>> line_of(text, ("faults", 0))
1
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["field_path", "invariant_path", "line_in_file", "line_of", "positions", "read_toml"]

Path_ = tuple[str | int, ...]

_HEADER = re.compile(r"^\s*(\[\[|\[)\s*([^\[\]]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_\-]+(?:\s*\.\s*[A-Za-z0-9_\-]+)*)\s*=""")
_TOML_AT = re.compile(r"\(at line (\d+), column \d+\)")
_LOCATION = re.compile(r"^,\s*([^:]+?):")
_FIELD = re.compile(r"field '([^']+)'")
_STEP = re.compile(r"\[*([A-Za-z0-9_\-]+)\]*(?:\[(\d+)\])?")


def positions(text: str) -> dict[Path_, int]:
    """Every table and key of a TOML text, by path, with its line (the first one wins)."""
    found: dict[Path_, int] = {}
    table: Path_ = ()
    counts: dict[Path_, int] = {}
    quote: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if quote is not None:
            quote = None if line.count(quote) % 2 else quote
            continue
        header = _HEADER.match(line)
        if header:
            table = _table(header[1], _dotted(header[2]), counts)
            found.setdefault(table, number)
            continue
        key = _KEY.match(line)
        if key:
            found.setdefault((*table, *_dotted(key[1])), number)
            quote = _opened_quote(line)
    return found


def _table(bracket: str, name: Path_, counts: dict[Path_, int]) -> Path_:
    if bracket == "[[":
        index = counts.get(name, -1) + 1
        counts[name] = index
        found: Path_ = (*name, index)
        return found
    return name


def _dotted(key: str) -> Path_:
    return tuple(part.strip().strip("\"'") for part in key.split("."))


def _opened_quote(line: str) -> str | None:
    """The triple quote a line opens without closing, if any."""
    for quote in ('"""', "'''"):
        if line.count(quote) % 2:
            return quote
    return None


def line_of(text: str, path: Sequence[str | int]) -> int:
    """The line of ``path`` in the TOML ``text``, else of its closest table, else 1.

    A key named under a level the file does not have (``faults.0.timeout_after_commit.explor``,
    as a model's error may say) is looked for in each enclosing table too.
    """
    found = positions(text)
    steps = tuple(path)
    for size in range(len(steps), 0, -1):
        for candidate in (steps[:size], (*steps[: size - 1], steps[-1])):
            if candidate in found:
                return found[candidate]
    return 1


def read_toml(file: Path) -> tuple[str, dict[str, Any]]:
    """The text of a TOML file and its data; empty when it cannot be read or parsed."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return "", {}
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return text, {}


def line_in_file(file: Path, path: Sequence[str | int]) -> int:
    """:func:`line_of` for a file; 1 when the file cannot be read."""
    text, _ = read_toml(file)
    return line_of(text, path) if text else 1


def invariant_path(data: dict[str, Any], name: str) -> Path_:
    """The path of the ``[[invariants]]`` table that names ``name``."""
    specs = data.get("invariants")
    if isinstance(specs, list):
        for index, spec in enumerate(specs):
            named = spec.get("name") if isinstance(spec, dict) else spec
            if named == name:
                return ("invariants", index, "name") if isinstance(spec, dict) else ("invariants",)
    return ("invariants",)


def field_path(source: str, message: str) -> Path_ | int:
    """Where an invalid-scenario message points: a field path, or a line of a syntax error.

    Messages read ``<file>, faults[0].target: …`` or ``<file>: unknown field 'explor'…`` or
    ``<file>: not valid TOML: … (at line 3, column 7)``.
    """
    at = _TOML_AT.search(message)
    if at:
        return int(at[1])
    rest = message.removeprefix(source)
    steps: list[str | int] = []
    location = _LOCATION.match(rest)
    if location:
        steps += _steps(location[1])
    field = _FIELD.search(rest)
    if field:
        steps += _steps(field[1])
    return tuple(steps)


def _steps(location: str) -> list[str | int]:
    steps: list[str | int] = []
    for part in location.split("."):
        match = _STEP.fullmatch(part.strip())
        if match is None:
            break
        steps.append(int(match[1]) if match[1].isdigit() else match[1])
        if match[2] is not None:
            steps.append(int(match[2]))
    return steps
