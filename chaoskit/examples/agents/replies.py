"""The acknowledgment–action gap: telling the user what the model wrote, not what happened.

``naive`` calls the refund tool and then returns the model's answer, "Got it, refund
submitted", whatever the tool returned: a 503 or a 429 becomes a promise the ledger does not
keep. ``hardened`` makes the same single call and derives the reply from its result: done with
the refund's id, failed with the reason, or escalated when the outcome is unknown.
"""

from __future__ import annotations

from chaoskit import Reply, Task
from chaoskit.examples.agents.toolkit import (
    NO_ORDER,
    Http,
    refund,
    refund_amount,
    refund_reply,
    reply,
    the_order,
)

__all__ = ["hardened", "naive"]


def naive(task: Task) -> Reply:
    """Replies with the model's text, whatever the refund call returned."""
    http = Http(task)
    order = the_order(http, task.message)
    if order is None:
        return reply(NO_ORDER, "refund", "failed")
    refund(http, order["charge_id"], refund_amount(task.message, order))
    # The model wrote its answer when it decided to call the tool.
    return reply("Got it, refund submitted.", "refund", "done")


def hardened(task: Task) -> Reply:
    """Replies with what the refund call actually returned."""
    http = Http(task)
    order = the_order(http, task.message)
    if order is None:
        return reply(NO_ORDER, "refund", "failed")
    charge, amount = order["charge_id"], refund_amount(task.message, order)
    return refund_reply(refund(http, charge, amount, key=f"refund-{charge}-{amount}"))
