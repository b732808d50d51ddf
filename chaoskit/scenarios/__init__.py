"""Scenarios: a task, a world, the faults to explore, a budget and the invariants that must hold.

Written as TOML files or in Python with :func:`scenario`; both go through the same validation,
and every mistake is an :class:`~chaoskit.InvalidScenario` naming the file, the field, what is
wrong and how to fix it. The built-in library ships as ``chaoskit.scenarios.builtin`` (the
checkout's top-level ``scenarios/`` folder).

- :mod:`~chaoskit.scenarios.model`: the validated :class:`Scenario` and its parts;
- :mod:`~chaoskit.scenarios.fields`: the world's fields templates may use (one table);
- :mod:`~chaoskit.scenarios.validate`: validation that names the field and the fix;
- :mod:`~chaoskit.scenarios.load`: files, folders, built-ins by name, :func:`scenario`.
"""

from __future__ import annotations

from chaoskit.scenarios.fields import TEMPLATE_FIELDS, script_context, task_context
from chaoskit.scenarios.load import (
    builtin_scenarios,
    load_scenario,
    load_scenarios,
    resolve_scenario,
    scenario,
)
from chaoskit.scenarios.model import (
    DeliverySpec,
    Expectation,
    InvariantSpec,
    ModelSpec,
    Passthrough,
    PinnedMisbehaviour,
    Scenario,
    Sometimes,
)

__all__ = [
    "TEMPLATE_FIELDS",
    "DeliverySpec",
    "Expectation",
    "InvariantSpec",
    "ModelSpec",
    "Passthrough",
    "PinnedMisbehaviour",
    "Scenario",
    "Sometimes",
    "builtin_scenarios",
    "load_scenario",
    "load_scenarios",
    "resolve_scenario",
    "scenario",
    "script_context",
    "task_context",
]
