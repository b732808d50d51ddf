"""The agent protocol: what an agent receives (a Task) and what it returns (a reply).

An agent is any callable, sync or async, taking a :class:`Task` and returning the final reply:
a string, or a :class:`Reply` with explicit claims per intent.

>>> def agent(task: Task) -> str:
...     order = task.clients.httpx.get(f"{task.urls['crm']}/v1/orders",
...                                    headers=task.auth("crm")).json()
...     return "Done."
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal, TypeAlias

from httpx import AsyncClient, Client
from pydantic import Field

from chaoskit.core.models import FrozenModel

__all__ = ["Agent", "Budget", "Claim", "Clients", "Principal", "Reply", "Task"]

ClaimStatus = Literal["done", "failed", "pending_approval", "escalated"]


class Principal(FrozenModel):
    """The user on whose behalf the agent acts: id, bearer token and the accounts in scope."""

    user_id: str
    token: str
    scope: tuple[str, ...] = ()


class Budget(FrozenModel):
    """What a run may spend. ``None`` means unlimited; ``seconds`` is virtual wall time."""

    tool_calls: int | None = Field(default=None, ge=0)
    model_calls: int | None = Field(default=None, ge=0)
    tokens: int | None = Field(default=None, ge=0)
    usd: float | None = Field(default=None, ge=0)
    seconds: float = Field(default=600.0, gt=0)


class Claim(FrozenModel):
    """What the agent says happened to one intent (``"refund:ch_123"``, ``"ticket"``…)."""

    intent: str
    status: ClaimStatus
    ref: str | None = None


class Reply(FrozenModel):
    """A structured final reply: the text for the user plus explicit claims."""

    text: str
    claims: tuple[Claim, ...] = ()


class Clients:
    """Ready HTTP clients, shared across runs (a fresh default httpx client costs ~28 ms)."""

    @cached_property
    def httpx(self) -> Client:
        return Client(timeout=10.0)

    @cached_property
    def async_httpx(self) -> AsyncClient:
        return AsyncClient(timeout=10.0)

    @cached_property
    def requests(self) -> object:
        """A ``requests.Session`` (typed loosely: requests is an optional dependency)."""
        import requests

        return requests.Session()


SHARED_CLIENTS = Clients()


@dataclass(frozen=True)
class Task:
    """Everything the agent gets: the user's message, who it acts for, where and with what.

    ``credentials`` maps backend names to the secret the agent should present (the payments
    secret key, the user's CRM token…); :meth:`auth` turns one into a header.
    """

    message: str
    principal: Principal
    urls: Mapping[str, str]
    credentials: Mapping[str, str]
    budget: Budget = field(default_factory=Budget)
    clients: Clients = field(default=SHARED_CLIENTS, repr=False)

    def auth(self, backend: str) -> dict[str, str]:
        """``{"Authorization": "Bearer …"}`` for a backend."""
        return {"Authorization": f"Bearer {self.credentials[backend]}"}


AgentResult: TypeAlias = str | Reply
Agent: TypeAlias = Callable[[Task], AgentResult | Awaitable[AgentResult]]
