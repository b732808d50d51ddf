"""A refund step that the worker dies in: redo it blind, or pick up where it stopped.

The refund commits, then the agent's process is killed before it records anything, and the
queue delivers the task again. ``naive`` runs the whole step again with a fresh idempotency
key, as a new process with no memory would: the customer is refunded twice. ``hardened`` keys
the refund on ``task.id`` (the same on every delivery, so Stripe answers a second attempt
with the first refund) and records the refund in ``task.store``, which survives the crash.
"""

from __future__ import annotations

from chaoskit import Reply, Task
from chaoskit.examples.agents.toolkit import (
    NO_ORDER,
    Http,
    refund,
    refund_amount,
    refund_reply,
    refund_with_a_fresh_key,
    reply,
    the_order,
)

__all__ = ["hardened", "naive"]


def naive(task: Task) -> Reply:
    """Every delivery refunds again, with a key of its own."""
    return refund_with_a_fresh_key(task)


def hardened(task: Task) -> Reply:
    """Asks ``task.store`` what an earlier delivery did; keys the refund on ``task.id``."""
    made = task.store.get("refund")
    if made is not None:
        return reply(f"Refund {made} submitted.", "refund", "done", made)
    http = Http(task)
    order = the_order(http, task.message)
    if order is None:
        return reply(NO_ORDER, "refund", "failed")
    amount = refund_amount(task.message, order)
    outcome = refund(http, order["charge_id"], amount, key=f"refund-{task.id}")
    if outcome.ok:
        task.store.put("refund", outcome.json()["id"])
    return refund_reply(outcome)
