"""The agent protocol: what an agent receives (a Task) and what it returns (a reply).

An agent is any callable, sync or async, taking a :class:`Task` and returning the final reply:
a string, or a :class:`Reply` with explicit claims per intent.

>>> def agent(task: Task) -> str:
...     order = task.clients.httpx.get(f"{task.urls['crm']}/v1/orders",
...                                    headers=task.auth("crm")).json()
...     return "Done."
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from types import MappingProxyType
from typing import Any, Literal, TypeAlias

from httpx import AsyncClient, Client
from pydantic import Field

from chaoskit.core.models import FrozenModel
from chaoskit.core.store import TaskStore

__all__ = [
    "Agent",
    "AgentCrashed",
    "Budget",
    "Claim",
    "Clients",
    "Credential",
    "Principal",
    "Reply",
    "Task",
    "Turn",
]

ClaimStatus = Literal["done", "failed", "pending_approval", "escalated"]

#: What an agent presents to one backend: a secret (an API key, a bearer token), or named
#: parts for an SDK that takes several (zendesk: ``subdomain``, ``email``, ``token``, zenpy's
#: three arguments, so ``Zenpy(**task.credentials["zendesk"])`` works).
Credential: TypeAlias = str | Mapping[str, str]


class Principal(FrozenModel):
    """The user on whose behalf the agent acts: id, bearer token and the accounts in scope."""

    user_id: str
    token: str
    scope: tuple[str, ...] = ()


class Budget(FrozenModel):
    """What a run may spend. ``None`` means unlimited; ``seconds`` is virtual wall time.

    ``wall_seconds`` is real time, the last resort against an agent that busy-loops or waits
    where chaoskit cannot make time virtual (default: the run's limit, 30 s).
    """

    tool_calls: int | None = Field(default=None, ge=0)
    model_calls: int | None = Field(default=None, ge=0)
    tokens: int | None = Field(default=None, ge=0)
    usd: float | None = Field(default=None, ge=0)
    seconds: float = Field(default=600.0, gt=0)
    wall_seconds: float | None = Field(default=None, gt=0)


class Claim(FrozenModel):
    """What the agent says happened to one intent (``"refund:ch_123"``, ``"ticket"``…)."""

    intent: str
    status: ClaimStatus
    ref: str | None = None


class Reply(FrozenModel):
    """A structured final reply: the text for the user plus explicit claims."""

    text: str
    claims: tuple[Claim, ...] = ()


class Turn(FrozenModel):
    """One earlier exchange of the conversation: the customer's message and the reply to it."""

    message: str
    reply: str


class AgentCrashed(BaseException):
    """The agent's process was killed at this call (the ``agent_crash`` fault).

    A ``BaseException``, like ``KeyboardInterrupt``: ``except Exception`` does not catch it, so
    the agent stops where a real crash would stop it. Whatever it does after catching it is
    lost with the process: its later calls are refused and its reply is discarded. The task is
    then delivered again (``[delivery] attempts``), with the same ``task.id`` and ``task.store``.
    """


class Clients:
    """Ready HTTP clients, made on first use; each example gets a set of its own, so headers
    and cookies one run sets never reach the next.

    They share one TLS context (building one is what makes a fresh httpx client cost ~28 ms);
    no request leaves the process anyway.
    """

    @cached_property
    def httpx(self) -> Client:
        return Client(timeout=10.0, verify=_tls_context())

    @cached_property
    def async_httpx(self) -> AsyncClient:
        return AsyncClient(timeout=10.0, verify=_tls_context())

    @cached_property
    def requests(self) -> object:
        """A ``requests.Session`` (typed loosely: requests is an optional dependency)."""
        import requests

        return requests.Session()


@lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    return ssl.create_default_context()


@dataclass(frozen=True)
class Task:
    """Everything the agent gets: the user's message, who it acts for, where and with what.

    ``credentials`` maps backend names to what the agent should present: a secret string (the
    payments secret key, the user's CRM token…) or, for a backend whose SDK takes several
    values, a read-only mapping of them (``task.credentials["zendesk"]``: ``subdomain``,
    ``email``, ``token``). :meth:`auth` turns either into the backend's header; a backend
    whose header is not a bearer token says which in ``authorization``.

    A task may be delivered more than once (after a crash, as a duplicate, or with a follow-up
    message): ``id`` is the same on every delivery, ``delivery`` counts them from 1,
    ``history`` holds the conversation's earlier turns, and ``store`` is a durable
    :class:`~chaoskit.core.store.TaskStore` shared by all deliveries of the task.
    """

    message: str
    principal: Principal
    urls: Mapping[str, str]
    # Typed `Any`, as typeshed types values whose type depends on the key: a secret reads as a
    # `str` (`stripe.StripeClient(task.credentials["payments"])`) and parts as a mapping
    # (`Zenpy(**task.credentials["zendesk"])`) without a cast; each is a `Credential`, checked
    # when the task is made.
    credentials: Mapping[str, Any]
    budget: Budget = field(default_factory=Budget)
    clients: Clients = field(default_factory=Clients, repr=False)
    id: str = "task"
    delivery: int = 1
    history: tuple[Turn, ...] = ()
    store: TaskStore = field(default_factory=TaskStore, repr=False)
    #: The ``Authorization`` header value per backend whose scheme is not ``Bearer <secret>``
    #: (zendesk: HTTP basic of ``{email}/token:{token}``), filled in by the backend.
    authorization: Mapping[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        # Read-only views: an agent that writes to them would change what the next one sees.
        object.__setattr__(self, "urls", MappingProxyType(dict(self.urls)))
        credentials = {name: _frozen(name, value) for name, value in self.credentials.items()}
        object.__setattr__(self, "credentials", MappingProxyType(credentials))
        object.__setattr__(self, "authorization", MappingProxyType(dict(self.authorization)))

    def auth(self, backend: str) -> dict[str, str]:
        """The ``Authorization`` header for a backend: ``Bearer <secret>``, or the backend's
        own scheme (zendesk: HTTP basic of ``{email}/token:{token}``)."""
        header = self.authorization.get(backend)
        if header is not None:
            return {"Authorization": header}
        credential = self.credentials[backend]
        if not isinstance(credential, str):
            raise TypeError(
                f"chaoskit: the credential for {backend!r} has parts "
                f"({', '.join(credential)}), not one secret, and the task names no header for "
                f"it: read them from task.credentials[{backend!r}] and build the header its API "
                "expects."
            )
        return {"Authorization": f"Bearer {credential}"}


def _frozen(backend: str, value: object) -> Credential:
    """A credential as the task keeps it: a string, or a read-only copy of its parts."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        return MappingProxyType(dict(value))
    raise TypeError(
        f"chaoskit: the credential for {backend!r} is {type(value).__name__} {value!r}; a "
        "credential is a string or a mapping of strings to strings (a backend's "
        "credential() gives one)."
    )


AgentResult: TypeAlias = str | Reply
Agent: TypeAlias = Callable[[Task], AgentResult | Awaitable[AgentResult]]
