"""Fake backends: stateful, in-memory, with append-only ledgers that are the ground truth.

Subclass :class:`FakeBackend` for a backend of your own and :func:`register_backend` it so that
scenarios can name it; a backend says how an agent's credential for it is made
(:meth:`FakeBackend.credential`) and which scenario options it takes (:attr:`FakeBackend.Options`).
:func:`reference` and :func:`openapi` describe a fake's API from its routes (``chaoskit fakes``).
"""

from __future__ import annotations

from chaoskit.fakes.approvals import Approvals
from chaoskit.fakes.base import FakeBackend, FakeRequest, Ledger, LedgerEntry, Route, route
from chaoskit.fakes.crm import CRM
from chaoskit.fakes.emails import Email
from chaoskit.fakes.hubspot import HubSpot
from chaoskit.fakes.model import (
    AnthropicModel,
    Cassette,
    ModelCall,
    ModelScript,
    OpenAIModel,
    PassthroughModel,
    ScriptedModel,
    ScriptToolCall,
    ScriptTurn,
)
from chaoskit.fakes.openapi import openapi
from chaoskit.fakes.payments import Payments
from chaoskit.fakes.reference import BackendReference, reference
from chaoskit.fakes.registry import backend_names, register_backend
from chaoskit.fakes.sendgrid import SendGrid
from chaoskit.fakes.ticketing import Ticketing
from chaoskit.fakes.zendesk import Zendesk

__all__ = [
    "CRM",
    "AnthropicModel",
    "Approvals",
    "BackendReference",
    "Cassette",
    "Email",
    "FakeBackend",
    "FakeRequest",
    "HubSpot",
    "Ledger",
    "LedgerEntry",
    "ModelCall",
    "ModelScript",
    "OpenAIModel",
    "PassthroughModel",
    "Payments",
    "Route",
    "ScriptToolCall",
    "ScriptTurn",
    "ScriptedModel",
    "SendGrid",
    "Ticketing",
    "Zendesk",
    "backend_names",
    "openapi",
    "reference",
    "register_backend",
    "route",
]
