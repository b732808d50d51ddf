"""Fake backends: stateful, in-memory, with append-only ledgers that are the ground truth.

Installed as ``chaoskit.fakes``. Subclass :class:`FakeBackend` for a backend of your own.
"""

from __future__ import annotations

from chaoskit.fakes.approvals import Approvals
from chaoskit.fakes.base import FakeBackend, FakeRequest, Ledger, LedgerEntry, Route, route
from chaoskit.fakes.crm import CRM
from chaoskit.fakes.emails import Email
from chaoskit.fakes.model import (
    AnthropicModel,
    ModelCall,
    ModelScript,
    OpenAIModel,
    ScriptToolCall,
    ScriptTurn,
)
from chaoskit.fakes.payments import Payments
from chaoskit.fakes.ticketing import Ticketing

__all__ = [
    "CRM",
    "AnthropicModel",
    "Approvals",
    "Email",
    "FakeBackend",
    "FakeRequest",
    "Ledger",
    "LedgerEntry",
    "ModelCall",
    "ModelScript",
    "OpenAIModel",
    "Payments",
    "Route",
    "ScriptToolCall",
    "ScriptTurn",
    "Ticketing",
    "route",
]
