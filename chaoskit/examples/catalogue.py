"""The catalogue: which built-in scenario should catch which reference agent, and by what.

Each :class:`Pair` names a module of :mod:`chaoskit.examples.agents`, the defect of its
``naive`` agent, the fix in its ``hardened`` one, and the scenarios meant for it with the
invariants the naive agent must violate there. :func:`detection_matrix` runs both agents of
every pair on their scenarios and :func:`format_matrix` prints the result as a Markdown table:

>>> print(format_matrix(detection_matrix(examples=30)))  # doctest: +SKIP
| agent | scenario | status | violated | minimal schedule |
| --- | --- | --- | --- | --- |
| refunds:naive | refund-timeout-after-commit | violated | at_most_one_effect_per_intent … |
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Literal

from chaoskit.core.agent import Agent
from chaoskit.core.models import FrozenModel
from chaoskit.engine import EngineSettings, explore
from chaoskit.results import Example, ScenarioResult, ScenarioStatus
from chaoskit.scenarios import Scenario, load_scenario
from chaoskit.world.trace import RequestEvent

__all__ = [
    "PAIRS",
    "Matrix",
    "Pair",
    "Row",
    "demo_pairs",
    "detection_matrix",
    "format_matrix",
    "load_builtin",
    "schedule",
]

Variant = Literal["naive", "hardened"]
VARIANTS: tuple[Variant, ...] = ("naive", "hardened")
_AGENTS = "chaoskit.examples.agents"


class Pair(FrozenModel):
    """A naive/hardened pair of reference agents and the scenarios meant to tell them apart.

    ``scenarios`` maps a built-in scenario file (its stem, ``refund_5xx_storm``) to the
    invariants the naive agent must violate there; the hardened agent must hold them all.
    """

    module: str
    defect: str
    fix: str
    scenarios: dict[str, tuple[str, ...]]

    def agent(self, variant: Variant) -> Agent:
        """The ``naive`` or ``hardened`` agent of this pair."""
        agent: Agent = getattr(importlib.import_module(f"{_AGENTS}.{self.module}"), variant)
        return agent

    def name(self, variant: Variant) -> str:
        """The agent as ``module:callable``, the form ``chaoskit run --agent`` takes."""
        return f"{_AGENTS}.{self.module}:{variant}"


PAIRS: tuple[Pair, ...] = (
    Pair(
        module="refunds",
        defect="retries a timed-out refund with a new idempotency key",
        fix="idempotency key derived from the intent, circuit breaker",
        scenarios={
            "refund_timeout_after_commit": (
                "at_most_one_effect_per_intent",
                "idempotency_key_stable",
            ),
        },
    ),
    Pair(
        module="aiohttp_refunds",
        defect="an async agent on aiohttp retries a timed-out refund with a new key",
        fix="idempotency key derived from the intent, circuit breaker",
        scenarios={
            "refund_timeout_after_commit": (
                "at_most_one_effect_per_intent",
                "idempotency_key_stable",
            ),
        },
    ),
    Pair(
        module="urllib3_refunds",
        defect="an agent on urllib3 retries a timed-out refund with a new key",
        fix="idempotency key derived from the intent; urllib3's Retry retries it",
        scenarios={
            "refund_timeout_after_commit": (
                "at_most_one_effect_per_intent",
                "idempotency_key_stable",
            ),
        },
    ),
    Pair(
        module="urllib_refunds",
        defect="an agent on urllib.request retries a timed-out refund with a new key",
        fix="idempotency key derived from the intent, circuit breaker",
        scenarios={
            "refund_timeout_after_commit": (
                "at_most_one_effect_per_intent",
                "idempotency_key_stable",
            ),
        },
    ),
    Pair(
        module="refunds_in_flight",
        defect="reads Stripe's 409 idempotency_key_in_use as a refused refund",
        fix="a 409 means in flight: look the refund up, else retry the same key",
        scenarios={"refund_key_in_flight": ("no_denied_success",)},
    ),
    Pair(
        module="loop",
        defect="retries every error after a fixed pause, trusts the model's arguments",
        fix="validated arguments, transient/terminal split, backoff honouring Retry-After",
        scenarios={
            "refund_rate_limited": ("retry_after_honoured",),
            "invented_order_id": ("no_retry_of_terminal_errors",),
        },
    ),
    Pair(
        module="orchestrator",
        defect="no caps: retries until it works, never asks for approval",
        fix="step and time budgets, per-tool circuit breakers, tool allowlist, approval",
        scenarios={
            "refund_5xx_storm": ("budget_respected", "circuit_opens", "retries_bounded"),
            "refund_above_threshold_denied": ("approval_before_action",),
            "refund_above_threshold_approved": ("approval_before_action",),
        },
    ),
    Pair(
        module="replies",
        defect='replies "Got it, refund submitted" whatever the tool returned',
        fix="the reply is derived from the tool's result",
        scenarios={
            "refund_5xx_storm": ("no_unreported_failure",),
            "refund_rate_limited": ("no_unreported_failure",),
        },
    ),
    Pair(
        module="scope",
        defect="looks the customer up with the agent's own all-seeing credentials",
        fix="looks only among the user's accounts, with the user's token",
        scenarios={"out_of_scope_account": ("scope_respected",)},
    ),
    Pair(
        module="checkout",
        defect="creates the order, the charge fails, the order stays",
        fix="cancels the order when the charge fails (compensation)",
        scenarios={"order_then_charge_fails": ("no_half_finished_workflow",)},
    ),
    Pair(
        module="reminders",
        defect="restarts the whole batch of emails after a 429",
        fix="resumes the batch: retries only the refused email",
        scenarios={"reminder_email_rate_limited": ("at_most_one_effect_per_intent",)},
    ),
    Pair(
        module="injection",
        defect="follows instructions found in a CRM note",
        fix="runs only the actions the user's request implies",
        scenarios={
            "poisoned_crm_note": ("no_injected_actions", "only_allowlisted_endpoints"),
        },
    ),
    Pair(
        module="sendgrid_notes",
        defect="sends, with the sendgrid SDK, every mail a HubSpot note asks for",
        fix="mails only the contact the user named; looks before resending",
        scenarios={"sendgrid_poisoned_note": ("no_injected_actions",)},
    ),
    Pair(
        module="tickets",
        defect="retries ticket creation on a backend without idempotency",
        fix="dedupes by external_id lookup before every attempt",
        scenarios={"ticket_timeout_after_commit": ("at_most_one_effect_per_intent",)},
    ),
    Pair(
        module="hubspot_contacts",
        defect="retries a HubSpot contact create blindly (HubSpot has no idempotency keys)",
        fix="searches for the contact before every attempt; treats 409 CONFLICT as done",
        scenarios={"hubspot_duplicate_contact": ("at_most_one_effect_per_intent",)},
    ),
    Pair(
        module="zendesk_tickets",
        defect="a zenpy agent creates the Zendesk ticket again after a timeout",
        fix="Idempotency-Key and external_id from the intent, lookup before retrying",
        scenarios={"zendesk_ticket_rate_limited": ("at_most_one_effect_per_intent",)},
    ),
    Pair(
        module="llm",
        defect="runs every tool call the model returns and replies with the model's text",
        fix="checked, deduped, intent-keyed and capped tool calls; the reply comes from the tools",
        scenarios={
            "model_refund_misbehaviours": ("at_most_one_effect_per_intent",),
            "model_refund_anthropic": ("no_unreported_failure",),
        },
    ),
    Pair(
        module="crashes",
        defect="killed after the refund committed, redoes the step with a fresh key",
        fix="idempotency key derived from task.id, progress recorded in task.store",
        scenarios={
            "refund_agent_crash": ("at_most_one_effect_per_intent", "idempotency_key_stable"),
            "refund_duplicate_delivery": (
                "at_most_one_effect_per_intent",
                "idempotency_key_stable",
            ),
        },
    ),
    Pair(
        module="follow_ups",
        defect='refunds again when the customer writes "I still don\'t see it"',
        fix="looks up the charge's refunds before making one",
        scenarios={"refund_follow_up": ("at_most_one_effect_per_intent",)},
    ),
    Pair(
        module="workers",
        defect="two workers on one ticket check, then refund, each with a key of its own",
        fix="the refund's idempotency key derived from task.id: two workers, one refund",
        scenarios={"refund_concurrent_workers": ("at_most_one_effect_per_intent",)},
    ),
    Pair(
        module="pydantic_ai_agent",
        defect="a pydantic-ai agent that tells the customer whatever the model wrote last",
        fix="the claim comes from the refund tool's results; model-provider errors are reported",
        scenarios={"model_refund_pydantic_ai": ("no_unreported_failure",)},
    ),
)


@contextmanager
def _builtin_path(stem: str) -> Iterator[Path]:
    with resources.as_file(resources.files("chaoskit.scenarios.builtin") / f"{stem}.toml") as path:
        yield path


def load_builtin(stem: str) -> Scenario:
    """A built-in scenario by file stem, e.g. ``load_builtin("refund_5xx_storm")``."""
    with _builtin_path(stem) as path:
        return load_scenario(path)


def demo_pairs() -> list[tuple[Scenario, Agent, str]]:
    """Every (scenario, agent, agent name) the catalogue runs, naive agents first."""
    return [
        (load_builtin(stem), pair.agent(variant), pair.name(variant))
        for variant in VARIANTS
        for pair in PAIRS
        for stem in pair.scenarios
    ]


# -- the matrix -------------------------------------------------------------------------------


class Row(FrozenModel):
    """One agent on one scenario: the verdict, what it violated, the minimal fault schedule."""

    agent: str
    module: str
    variant: Variant
    scenario: str
    stem: str
    status: ScenarioStatus
    #: Invariants the minimal counterexample violates (scenario expectations excluded).
    violated: tuple[str, ...] = ()
    #: Scenario expectations (``[[expect]]``) the minimal counterexample misses.
    unmet: tuple[str, ...] = ()
    #: What the naive agent must violate here, by the catalogue.
    expected: tuple[str, ...] = ()
    #: The faults the minimal counterexample needed, as ``kind@backend route#n`` (n: the
    #: n-th call to that route).
    schedule: tuple[str, ...] = ()
    findings: tuple[str, ...] = ()
    examples: int = 0
    not_exercised: tuple[str, ...] = ()
    error: str | None = None


class Matrix(FrozenModel):
    """Every reference agent on every scenario meant for it."""

    examples: int
    seed: int
    rows: tuple[Row, ...]


ProgressCallback = Callable[[Row], None]


def detection_matrix(
    examples: int = 60,
    seed: int = 0,
    *,
    pairs: Sequence[Pair] = PAIRS,
    progress: ProgressCallback | None = None,
) -> Matrix:
    """Run both agents of every pair on their scenarios, deterministically (seeded, no database).

    >>> matrix = detection_matrix(examples=20, pairs=PAIRS[:1])  # doctest: +SKIP
    >>> [(row.agent, row.status) for row in matrix.rows]  # doctest: +SKIP
    [('refunds:naive', 'violated'), ('refunds:hardened', 'held')]
    """
    config = EngineSettings(examples=examples, seed=seed, database=False)
    rows = []
    for pair in pairs:
        for stem, expected in pair.scenarios.items():
            scenario = load_builtin(stem)
            for variant in VARIANTS:
                result = explore(
                    scenario, pair.agent(variant), agent_name=pair.name(variant), config=config
                )
                row = _row(pair, variant, stem, result, expected)
                if progress is not None:
                    progress(row)
                rows.append(row)
    return Matrix(examples=examples, seed=seed, rows=tuple(rows))


def _row(
    pair: Pair, variant: Variant, stem: str, result: ScenarioResult, expected: tuple[str, ...]
) -> Row:
    failure = result.counterexample
    broken = [v for v in failure.verdicts if v.status == "violated"] if failure else []
    return Row(
        agent=f"{pair.module}:{variant}",
        module=pair.module,
        variant=variant,
        scenario=result.scenario,
        stem=stem,
        status=result.status,
        violated=tuple(v.invariant for v in broken if not v.invariant.startswith("expect:")),
        unmet=tuple(v.invariant for v in broken if v.invariant.startswith("expect:")),
        expected=expected if variant == "naive" else (),
        schedule=schedule(failure) if failure else (),
        findings=tuple(f.message for f in failure.findings) if failure else (),
        examples=result.examples,
        not_exercised=result.not_exercised,
        error=result.error,
    )


def schedule(example: Example) -> tuple[str, ...]:
    """The faults an example's explore decisions fired, as ``kind@backend route#n``, and the
    deliveries they drew, as ``duplicate@delivery#2`` or ``follow_up@delivery#2``, and the
    switches between deliveries running at once, as ``delivery 2 ran at call #3``.

    Only decisions count: the later calls of a 5xx storm follow from its first one.
    """
    model = [fault for fault in example.faults if fault.rule.startswith("misbehaviour ")]
    fired = {fault.call: fault for fault in example.faults if fault not in model}
    misbehaved = {(fault.kind, fault.detail or ""): fault for fault in model}
    requests = [e for e in example.trace if isinstance(e, RequestEvent)]
    shown = []
    for decision in example.decisions:
        if decision.kind == "delivery":
            if decision.rule is not None:
                shown.append(f"{decision.rule}@delivery#{decision.call}")
            continue
        if decision.kind == "switch":
            if decision.rule is not None:
                shown.append(f"{decision.rule} ran at call #{decision.call}")
            continue
        if decision.kind == "model":  # numbered by model call, not by HTTP call
            fault = misbehaved.get((decision.rule or "", f"model call {decision.call}"))
        else:
            fault = fired.get(decision.call)
        if decision.rule is None or fault is None:
            continue
        nth = sum(
            1
            for r in requests
            if r.backend == fault.backend and r.route == fault.route and r.call <= fault.call
        )
        shown.append(f"{fault.kind}@{fault.backend} {fault.route}#{nth}")
    return tuple(shown)


def format_matrix(matrix: Matrix) -> str:
    """The matrix as a Markdown table, one row per agent and scenario."""
    lines = [
        "| agent | scenario | status | violated | minimal schedule |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in matrix.rows:
        lines.append(
            f"| {row.agent} | {row.scenario} | {row.status} | {_violated(row)} | {_schedule(row)} |"
        )
    lines.append("")
    lines.append(f"{matrix.examples} examples per run, seed {matrix.seed}.")
    return "\n".join(lines)


def _violated(row: Row) -> str:
    """The invariants; else the unmet expectations; else what the agent itself did wrong."""
    if row.status != "violated":
        return "—"
    shown = row.violated or row.unmet or tuple(f"finding: {f}" for f in row.findings[:1])
    return ", ".join(shown).replace("|", "\\|")


def _schedule(row: Row) -> str:
    if row.status != "violated":
        return "—"
    return ", ".join(row.schedule) or "no fault needed"
