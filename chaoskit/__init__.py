"""chaoskit: chaos and fault-injection testing for AI agents that act on real systems."""

from __future__ import annotations

from ._clock import VirtualClock
from ._errors import (
    ChaoskitError,
    InvalidFault,
    InvalidScenario,
    InvariantViolation,
    UsageError,
    WorldError,
)
from ._faults import (
    ConnectionReset,
    Fault,
    FaultRule,
    Latency,
    MalformedResponse,
    PoisonedDocument,
    RateLimit,
    ServerError,
    StaleRead,
    Target,
    TimeoutAfterCommit,
    TimeoutBeforeCommit,
)
from ._injector import Call, Decider
from ._trace import Event, Trace
from ._version import __version__
from ._world import World, default_backends

__all__ = [
    "Call",
    "ChaoskitError",
    "ConnectionReset",
    "Decider",
    "Event",
    "Fault",
    "FaultRule",
    "InvalidFault",
    "InvalidScenario",
    "InvariantViolation",
    "Latency",
    "MalformedResponse",
    "PoisonedDocument",
    "RateLimit",
    "ServerError",
    "StaleRead",
    "Target",
    "TimeoutAfterCommit",
    "TimeoutBeforeCommit",
    "Trace",
    "UsageError",
    "VirtualClock",
    "World",
    "WorldError",
    "__version__",
    "default_backends",
]
