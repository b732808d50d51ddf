"""pass^k: the chance that k runs of one fault schedule all pass, and what it decides.

Light on purpose: the xdist controller merges the parts of a split scenario with it, without
importing Hypothesis or the world (see :mod:`chaoskit.engine.parts`).
"""

from __future__ import annotations

from collections.abc import Sequence
from math import comb

from chaoskit.results import ScenarioResult, ScenarioStatus, ScheduleTrials

__all__ = ["decided_status", "pass_curve", "pass_hat_k"]


def pass_hat_k(trials: int, passed: int, k: int) -> float:
    """The unbiased estimator of pass^k from ``passed`` successes in ``trials`` runs of a task.

    pass^k is the chance that k independent runs all succeed. Drawing k of the n runs without
    replacement, all k succeed with probability C(c, k) / C(n, k), an unbiased estimate of
    p^k. This is how τ²-bench computes it (``pass_hat_k(num_trials, success_count, k)`` in
    ``src/tau2/metrics/agent_metrics.py`` of sierra-research/tau2-bench, after Yao et al.,
    "τ-bench", 2024), which then averages it over tasks: :func:`pass_curve` averages it over
    schedules.

    >>> pass_hat_k(4, 3, 1), pass_hat_k(4, 3, 2), pass_hat_k(4, 3, 4)
    (0.75, 0.5, 0.0)
    """
    if not 1 <= k <= trials:
        raise ValueError(f"chaoskit: pass^k needs 1 <= k <= trials, got k={k}, trials={trials}.")
    if not 0 <= passed <= trials:
        raise ValueError(f"chaoskit: {passed} passed trials of {trials} is not a count.")
    return comb(passed, k) / comb(trials, k)


def pass_curve(schedules: Sequence[ScheduleTrials], trials: int) -> tuple[float, ...]:
    """pass^1 … pass^K: for each k, the mean over ``schedules`` of :func:`pass_hat_k`.

    >>> two = [ScheduleTrials(world_seed=0, trials=4, passed=4, ran=4),
    ...        ScheduleTrials(world_seed=1, trials=4, passed=3, ran=4)]
    >>> pass_curve(two, 4)
    (0.875, 0.75, 0.625, 0.5)
    """
    if not schedules:
        return ()
    return tuple(
        sum(pass_hat_k(s.trials, s.passed, k) for s in schedules) / len(schedules)
        for k in range(1, trials + 1)
    )


def decided_status(
    result: ScenarioResult, pass_k: float | None, min_pass_k: float | None
) -> ScenarioStatus:
    """The scenario's status once pass^K is known: with a ``min_pass_k`` it reaches, failing
    trials are a measurement, not a violation; otherwise the status stands."""
    met = min_pass_k is not None and pass_k is not None and pass_k >= min_pass_k
    if met and result.status == "violated":
        return "not_exercised" if result.not_exercised else "held"
    return result.status
