"""Two workers on one ticket: check, then act, and the race between them.

The queue hands one refund request to two workers at once (a visibility timeout ran out, a
consumer group rebalanced). Both look before they act: is there a refund on the charge
already? ``naive`` then refunds with a key of its own: run one after the other, the second
worker sees the first one's refund and stops, but when both look before either acts, both
refund. ``hardened`` keys the refund on ``task.id``, the same on every delivery of the task,
so the second worker's refund is the first one's, answered again by the payments API.
"""

from __future__ import annotations

import uuid

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
    """Checks for an earlier refund, then refunds with a fresh key: a check-then-act race."""
    return _refund_once(task, key=str(uuid.uuid4()))


def hardened(task: Task) -> Reply:
    """The same check, but the refund's key is derived from ``task.id``: the check is only a
    shortcut, the key is what makes two workers one refund."""
    return _refund_once(task, key=f"refund-{task.id}")


def _refund_once(task: Task, *, key: str) -> Reply:
    http = Http(task)
    order = the_order(http, task.message)
    if order is None:
        return reply(NO_ORDER, "refund", "failed")
    earlier = http.send("payments", "GET", "/v1/refunds", params={"charge": order["charge_id"]})
    if earlier.ok and earlier.json()["data"]:
        made = earlier.json()["data"][0]["id"]
        return reply(f"Refund {made} was already submitted.", "refund", "done", made)
    amount = refund_amount(task.message, order)
    return refund_reply(refund(http, order["charge_id"], amount, key=key))
