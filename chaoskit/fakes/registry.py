"""Which fake serves which backend name: the built-ins, and the backends users register.

A scenario names backends (``backends = ["payments", "crm"]``, ``target = "crm: GET …"``,
``[approvals]``); this is where those names are looked up. Register a backend of your own and
scenarios can name it like a built-in one:

>>> from chaoskit.fakes import register_backend
>>> register_backend(Notes)  # doctest: +SKIP
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

from chaoskit.core.errors import WorldError
from chaoskit.core.names import did_you_mean
from chaoskit.fakes.approvals import Approvals
from chaoskit.fakes.base import FakeBackend
from chaoskit.fakes.crm import CRM
from chaoskit.fakes.emails import Email
from chaoskit.fakes.hubspot import HubSpot
from chaoskit.fakes.model import AnthropicModel, OpenAIModel
from chaoskit.fakes.payments import Payments
from chaoskit.fakes.sendgrid import SendGrid
from chaoskit.fakes.ticketing import Ticketing
from chaoskit.fakes.zendesk import Zendesk

__all__ = [
    "BUILTIN_BACKENDS",
    "DIALECT_BACKENDS",
    "backend_class",
    "backend_names",
    "default_backends",
    "register_backend",
]

#: The built-in fakes by name: one of each is in a world unless a scenario lists its own.
BUILTIN_BACKENDS: Mapping[str, type[FakeBackend]] = {
    "payments": Payments,
    "crm": CRM,
    "ticketing": Ticketing,
    "email": Email,
    "approvals": Approvals,
    "openai": OpenAIModel,
    "anthropic": AnthropicModel,
}

#: Built-in fakes that speak a vendor's own wire format over the same generated world. A
#: scenario names them (``backends = ["hubspot"]``); a default world leaves them out, since
#: each one doubles a built-in (hubspot the crm, sendgrid the email fake, zendesk the
#: ticketing) and claims the vendor's real host.
DIALECT_BACKENDS: Mapping[str, type[FakeBackend]] = {
    "hubspot": HubSpot,
    "sendgrid": SendGrid,
    "zendesk": Zendesk,
}

_REGISTERED: dict[str, type[FakeBackend]] = {}
_LOCK = threading.Lock()


def register_backend(cls: type[FakeBackend]) -> type[FakeBackend]:
    """Let scenarios name ``cls`` by its ``name`` (usable as a class decorator).

    A registered backend is not in the default world: a scenario asks for it with
    ``backends = [...]``. Registering another class under a built-in's name is an error.
    """
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        raise WorldError(f"chaoskit: {cls.__qualname__} needs a class attribute `name`.")
    builtin = BUILTIN_BACKENDS.get(name) or DIALECT_BACKENDS.get(name)
    if builtin is not None and builtin is not cls:
        raise WorldError(
            f"chaoskit: {name!r} is a built-in backend; give {cls.__qualname__} another name."
        )
    with _LOCK:
        _REGISTERED[name] = cls
    return cls


def backend_names() -> tuple[str, ...]:
    """Every backend a scenario may name: the built-ins first, the vendor dialects, then the
    registered ones."""
    builtin = (*BUILTIN_BACKENDS, *DIALECT_BACKENDS)
    return (*builtin, *(n for n in _REGISTERED if n not in builtin))


def backend_class(name: str) -> type[FakeBackend]:
    """The fake registered under ``name``, or an error listing the known names."""
    cls = _REGISTERED.get(name) or BUILTIN_BACKENDS.get(name) or DIALECT_BACKENDS.get(name)
    if cls is None:
        known = backend_names()
        raise WorldError(
            f"chaoskit: unknown backend {name!r}.{did_you_mean(name, known)} "
            f"Known: {', '.join(known)}; register your own with "
            "chaoskit.fakes.register_backend()."
        )
    return cls


def default_backends() -> list[FakeBackend]:
    """One of each built-in fake: payments, crm, ticketing, email, approvals, openai, anthropic."""
    return [cls() for cls in BUILTIN_BACKENDS.values()]
