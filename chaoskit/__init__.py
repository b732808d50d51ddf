"""chaoskit: chaos and fault-injection testing for AI agents that act on real systems."""

from __future__ import annotations

from chaoskit._version import __version__
from chaoskit.core.agent import Agent, Budget, Claim, Principal, Reply, Task
from chaoskit.core.clock import VirtualClock
from chaoskit.core.errors import (
    ChaoskitError,
    InvalidFault,
    InvalidScenario,
    InvariantViolation,
    UsageError,
    WorldError,
)
from chaoskit.engine import EngineSettings, explore, replay, run_scenarios
from chaoskit.fakes.registry import default_backends
from chaoskit.invariants import Invariant, RunView, invariant
from chaoskit.report.html import load_results, render_html, write_report
from chaoskit.results import Example, RunResult, ScenarioResult, Verdict
from chaoskit.scenarios import Scenario, load_scenario, load_scenarios, scenario
from chaoskit.world.faults import (
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
from chaoskit.world.injector import Call, Decider
from chaoskit.world.server import Served
from chaoskit.world.trace import Event, Trace
from chaoskit.world.world import World

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
    "Served",
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
