"""Fake backends: stateful, in-memory, with append-only ledgers that are the ground truth.

Installed as ``chaoskit.fakes``. Subclass :class:`FakeBackend` for a backend of your own.
"""

from __future__ import annotations

from ._base import FakeBackend, FakeRequest, Ledger, LedgerEntry, Route, route
from .approvals import Approvals
from .crm import CRM
from .emails import Email
from .model import AnthropicModel, ModelCall, ModelScript, OpenAIModel, ScriptToolCall, ScriptTurn
from .payments import Payments
from .ticketing import Ticketing

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
