"""chaoskit: chaos and fault-injection testing for AI agents that act on real systems."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chaoskit._version import __version__
from chaoskit.core.lazy import lazy_names as _lazy_names

if TYPE_CHECKING:
    from chaoskit.core.agent import (
        Agent,
        AgentCrashed,
        Budget,
        Claim,
        Principal,
        Reply,
        Task,
        Turn,
    )
    from chaoskit.core.clock import VirtualClock
    from chaoskit.core.errors import (
        ChaoskitError,
        InvalidFault,
        InvalidScenario,
        InvariantViolation,
        UsageError,
        WorldError,
    )
    from chaoskit.core.store import TaskStore
    from chaoskit.engine import (
        EngineSettings,
        command_agent,
        explore,
        replay,
        run_scenarios,
        service_agent,
    )
    from chaoskit.fakes.registry import default_backends
    from chaoskit.invariants import Invariant, RunView, invariant
    from chaoskit.report.html import load_results, render_html, write_report
    from chaoskit.results import Example, RunResult, ScenarioResult, Verdict
    from chaoskit.scenarios import Scenario, load_scenario, load_scenarios, scenario
    from chaoskit.world.faults import (
        AgentCrash,
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
    "AgentCrash",
    "AgentCrashed",
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
    "TaskStore",
    "TimeoutAfterCommit",
    "TimeoutBeforeCommit",
    "Trace",
    "Turn",
    "UsageError",
    "Verdict",
    "VirtualClock",
    "World",
    "WorldError",
    "__version__",
    "command_agent",
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
    "service_agent",
    "write_report",
]


#: Where each public name lives. The facade imports it on first use, so that importing a
#: part of chaoskit (the pytest plugin in every pytest run) does not import all of it.
_HOMES: dict[str, str] = {
    "Agent": "chaoskit.core.agent",
    "AgentCrash": "chaoskit.world.faults",
    "AgentCrashed": "chaoskit.core.agent",
    "Budget": "chaoskit.core.agent",
    "Call": "chaoskit.world.injector",
    "ChaoskitError": "chaoskit.core.errors",
    "Claim": "chaoskit.core.agent",
    "ConnectionReset": "chaoskit.world.faults",
    "Decider": "chaoskit.world.injector",
    "EngineSettings": "chaoskit.engine",
    "Event": "chaoskit.world.trace",
    "Example": "chaoskit.results",
    "Fault": "chaoskit.world.faults",
    "FaultRule": "chaoskit.world.faults",
    "InvalidFault": "chaoskit.core.errors",
    "InvalidScenario": "chaoskit.core.errors",
    "Invariant": "chaoskit.invariants",
    "InvariantViolation": "chaoskit.core.errors",
    "Latency": "chaoskit.world.faults",
    "MalformedResponse": "chaoskit.world.faults",
    "PoisonedDocument": "chaoskit.world.faults",
    "Principal": "chaoskit.core.agent",
    "RateLimit": "chaoskit.world.faults",
    "Reply": "chaoskit.core.agent",
    "RunResult": "chaoskit.results",
    "RunView": "chaoskit.invariants",
    "Scenario": "chaoskit.scenarios",
    "Served": "chaoskit.world.server",
    "ScenarioResult": "chaoskit.results",
    "ServerError": "chaoskit.world.faults",
    "StaleRead": "chaoskit.world.faults",
    "Target": "chaoskit.world.faults",
    "Task": "chaoskit.core.agent",
    "TaskStore": "chaoskit.core.store",
    "TimeoutAfterCommit": "chaoskit.world.faults",
    "TimeoutBeforeCommit": "chaoskit.world.faults",
    "Trace": "chaoskit.world.trace",
    "Turn": "chaoskit.core.agent",
    "UsageError": "chaoskit.core.errors",
    "Verdict": "chaoskit.results",
    "VirtualClock": "chaoskit.core.clock",
    "World": "chaoskit.world.world",
    "WorldError": "chaoskit.core.errors",
    "command_agent": "chaoskit.engine",
    "default_backends": "chaoskit.fakes.registry",
    "explore": "chaoskit.engine",
    "invariant": "chaoskit.invariants",
    "load_results": "chaoskit.report.html",
    "load_scenario": "chaoskit.scenarios",
    "load_scenarios": "chaoskit.scenarios",
    "render_html": "chaoskit.report.html",
    "replay": "chaoskit.engine",
    "run_scenarios": "chaoskit.engine",
    "scenario": "chaoskit.scenarios",
    "service_agent": "chaoskit.engine",
    "write_report": "chaoskit.report.html",
}


__getattr__, __dir__ = _lazy_names("chaoskit", globals(), _HOMES)
