"""The engine: Hypothesis explores fault schedules, runs the agent, tallies and records the run.

- :mod:`~chaoskit.engine.settings`: how hard to look, progress;
- :mod:`~chaoskit.engine.runner`: the agent run with a virtual deadline and a wall-clock guard;
- :mod:`~chaoskit.engine.model`: the fake model's script and misbehaviours inside a run;
- :mod:`~chaoskit.engine.example`: one example, built, run and judged;
- :mod:`~chaoskit.engine.hypothesis`: the only module that configures Hypothesis;
- :mod:`~chaoskit.engine.tally`: examples counted and summed up into a scenario's result;
- :mod:`~chaoskit.engine.trials`: each schedule run K times, pass rates and pass^k;
- :mod:`~chaoskit.engine.passk`: the pass^k estimator (light: the xdist controller uses it);
- :mod:`~chaoskit.engine.recorder`: one run recorded and reported (API, CLI and plugin alike);
- :mod:`~chaoskit.engine.external`: agents in another process (a command) or a service;
- :mod:`~chaoskit.engine.run`: :func:`explore`, :func:`run_scenarios`, :func:`replay`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chaoskit.core.lazy import lazy_names as _lazy_names

if TYPE_CHECKING:
    from chaoskit.engine.external import command_agent, service_agent
    from chaoskit.engine.recorder import RunRecorder
    from chaoskit.engine.run import explore, replay, run_scenarios
    from chaoskit.engine.settings import EngineSettings, Progress, ProgressCallback

__all__ = [
    "EngineSettings",
    "Progress",
    "ProgressCallback",
    "RunRecorder",
    "command_agent",
    "explore",
    "replay",
    "run_scenarios",
    "service_agent",
]

#: Each name's module, imported on first use: the run recorder (an xdist controller only
#: records what workers explored) must not import Hypothesis and the world with it.
_HOMES = {
    "EngineSettings": "chaoskit.engine.settings",
    "Progress": "chaoskit.engine.settings",
    "ProgressCallback": "chaoskit.engine.settings",
    "RunRecorder": "chaoskit.engine.recorder",
    "command_agent": "chaoskit.engine.external",
    "service_agent": "chaoskit.engine.external",
    "explore": "chaoskit.engine.run",
    "replay": "chaoskit.engine.run",
    "run_scenarios": "chaoskit.engine.run",
}


__getattr__, __dir__ = _lazy_names("chaoskit.engine", globals(), _HOMES)
