"""The invariant catalogue: what must hold in every run, judged from the trace, the ledgers and
the reply, never from the agent's account of them (DESIGN.md §7).

Write your own with :func:`invariant`; importing this package registers the built-in families:

- :mod:`~chaoskit.invariants.duplicates`: at most one effect per intent;
- :mod:`~chaoskit.invariants.traffic`: budgets, retries, Retry-After, circuits, keys, endpoints;
- :mod:`~chaoskit.invariants.effects`: scope, approvals, injected actions, workflows;
- :mod:`~chaoskit.invariants.replies`: what the reply says against what the ledgers show,
  read by the claims classifier of :mod:`~chaoskit.invariants.claims`.
"""

from __future__ import annotations

from chaoskit.invariants import duplicates, effects, replies, traffic
from chaoskit.invariants.base import (
    REGISTRY,
    Invariant,
    InvariantParams,
    RunView,
    build_invariant,
    invariant,
)
from chaoskit.invariants.evidence import (
    call_evidence,
    ledger_evidence,
    reply_evidence,
    story,
    trace_evidence,
)

__all__ = [
    "REGISTRY",
    "Invariant",
    "InvariantParams",
    "RunView",
    "build_invariant",
    "call_evidence",
    "duplicates",
    "effects",
    "invariant",
    "ledger_evidence",
    "replies",
    "reply_evidence",
    "story",
    "trace_evidence",
    "traffic",
]
