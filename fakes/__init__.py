"""Fake backends: stateful, in-memory, with append-only ledgers that are the ground truth.

Installed as ``chaoskit.fakes``. Subclass :class:`FakeBackend` for a backend of your own.
"""

from __future__ import annotations

from ._base import FakeBackend, FakeRequest, Ledger, LedgerEntry, Route, route

__all__ = [
    "FakeBackend",
    "FakeRequest",
    "Ledger",
    "LedgerEntry",
    "Route",
    "route",
]
