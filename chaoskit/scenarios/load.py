"""Scenarios from TOML files, from Python, and from the built-in library by name."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from chaoskit.core.errors import InvalidScenario
from chaoskit.core.names import did_you_mean
from chaoskit.core.paths import shown_path
from chaoskit.scenarios.model import Scenario
from chaoskit.scenarios.validate import validate

__all__ = [
    "builtin_name",
    "builtin_scenarios",
    "load_scenario",
    "load_scenarios",
    "resolve_scenario",
    "scenario",
    "scenario_refs",
]


def scenario(**fields: Any) -> Scenario:
    """Build a scenario in Python with the same checks as a TOML file.

    >>> s = scenario(
    ...     name="refund-timeout",
    ...     task="Refund order {order.id}",
    ...     faults=[{"kind": "timeout_after_commit", "target": "payments: POST /v1/refunds",
    ...              "explore": True}],
    ...     invariants=[{"name": "at_most_one_effect_per_intent"}],
    ... )
    """
    return validate(fields, where=f"scenario {fields.get('name', '<unnamed>')!r}")


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate one TOML scenario file.

    Its ``source`` (and every message about it) names the file by :func:`shown_path`'s rule:
    relative to the current directory when under it, else absolute.
    """
    where = shown_path(path)
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise InvalidScenario(f"{where}: no such scenario file.{_sibling(Path(path))}") from None
    except tomllib.TOMLDecodeError as error:
        raise InvalidScenario(f"{where}: not valid TOML: {error}. Fix the syntax.") from None
    return validate({**data, "source": where}, where=where)


def _sibling(path: Path) -> str:
    """A did-you-mean among the scenario files beside a missing one."""
    names = [f.name for f in path.parent.glob("*.toml")] if path.parent.is_dir() else []
    return did_you_mean(path.name, names, show=lambda name: repr(shown_path(path.parent / name)))


def builtin_scenarios() -> list[Path]:
    """The scenario files shipped with chaoskit (``chaoskit.scenarios``)."""
    from importlib import resources

    folder = resources.files("chaoskit.scenarios.builtin")
    return sorted(Path(str(entry)) for entry in folder.iterdir() if entry.name.endswith(".toml"))


def builtin_name(source: str | Path) -> str | None:
    """The name a scenario file shipped with chaoskit is run by, else ``None``.

    >>> builtin_name(builtin_scenarios()[0]) is not None
    True
    """
    from importlib import resources

    path = Path(source).resolve()
    folder = Path(str(resources.files("chaoskit.scenarios.builtin"))).resolve()
    if path.parent != folder or path.suffix != ".toml":
        return None
    return path.stem.replace("_", "-")


def resolve_scenario(ref: str | Path) -> Scenario:
    """A scenario from a file path, or a built-in one by name or file stem.

    >>> resolve_scenario("refund-timeout-after-commit").name
    'refund-timeout-after-commit'
    """
    path = Path(ref)
    if path.suffix == ".toml" or path.exists():
        return load_scenario(path)
    wanted = str(ref).replace("_", "-")
    files = builtin_scenarios()
    for file in files:
        if file.stem.replace("_", "-") == wanted:
            return load_scenario(file)
    names = [f.stem.replace("_", "-") for f in files]
    hint = did_you_mean(wanted, names)
    raise InvalidScenario(
        f"chaoskit: no scenario file {str(ref)!r} and no built-in scenario of that name.{hint} "
        f"Built-in: {', '.join(names)}."
    )


def load_scenarios(paths: Iterable[str | Path]) -> tuple[list[Scenario], list[InvalidScenario]]:
    """Load every ``*.toml`` under the given folders, files and built-in names (see
    :func:`resolve_scenario`); one bad file stops no other."""
    loaded: list[Scenario] = []
    errors: list[InvalidScenario] = []
    for ref in scenario_refs(paths):
        try:
            loaded.append(resolve_scenario(ref))
        except InvalidScenario as error:
            errors.append(error)
    return loaded, errors


def scenario_refs(paths: Iterable[str | Path]) -> list[str | Path]:
    """Each folder's ``*.toml`` files, sorted; files and built-in names as they are."""
    refs: list[str | Path] = []
    for raw in paths:
        path = Path(raw)
        refs.extend(sorted(path.rglob("*.toml")) if path.is_dir() else [raw])
    return refs
