"""The ``chaoskit`` command."""

from __future__ import annotations

from chaoskit.cli.main import main

__all__ = ["main"]
