"""chaoskit: chaos and fault-injection testing for AI agents that act on real systems."""

from __future__ import annotations

from ._agent import Agent, Budget, Claim, Principal, Reply, Task
from ._clock import VirtualClock
from ._engine import EngineSettings, explore, replay, run_scenarios
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
from ._invariants import Invariant, RunView, invariant
from ._report import load_results, render_html, write_report
from ._results import Example, RunResult, ScenarioResult, Verdict
from ._scenario import Scenario, load_scenario, load_scenarios, scenario
from ._trace import Event, Trace
from ._version import __version__
from ._world import World, default_backends

__all__ = [
    "Agent",
    "Budget",
    "Call",
    "ChaoskitError",
    "Claim",
    "ConnectionReset",
    "Decider",
    "EngineSettings",
    "Event",
    "Example",
    "Fault",
    "FaultRule",
    "InvalidFault",
    "InvalidScenario",
    "Invariant",
    "InvariantViolation",
    "Latency",
    "MalformedResponse",
    "PoisonedDocument",
    "Principal",
    "RateLimit",
    "Reply",
    "RunResult",
    "RunView",
    "Scenario",
    "ScenarioResult",
    "ServerError",
    "StaleRead",
    "Target",
    "Task",
    "TimeoutAfterCommit",
    "TimeoutBeforeCommit",
    "Trace",
    "UsageError",
    "Verdict",
    "VirtualClock",
    "World",
    "WorldError",
    "__version__",
    "default_backends",
    "explore",
    "invariant",
    "load_results",
    "load_scenario",
    "load_scenarios",
    "render_html",
    "replay",
    "run_scenarios",
    "scenario",
    "write_report",
]
