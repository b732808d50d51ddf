"""The one base of chaoskit's data models: frozen, and strict about unknown fields."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["FrozenModel"]


class FrozenModel(BaseModel):
    """Faults, scenarios, traces, results: values that never change once built, and that reject
    a field they do not know (a typo in a scenario is an error, not a silent default)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
