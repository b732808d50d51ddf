"""A customer who writes again: "I don't see the refund yet". Act again, or look first.

A refund takes days to show on a card statement, so the customer often writes again before
it does. ``naive`` reads every message as a new request and refunds again, with a key of its
own. ``hardened`` first asks the payment service what was already refunded on the charge
(the ledger it can see) and, when the refund is there, says so instead of making another.
"""

from __future__ import annotations

from chaoskit import Reply, Task
from chaoskit.examples.agents.toolkit import (
    JSON,
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
    """Refunds on every message that asks for it."""
    return refund_with_a_fresh_key(task)


def hardened(task: Task) -> Reply:
    """Looks up the charge's refunds before making one; an existing refund is the answer."""
    http = Http(task)
    order = the_order(http, task.message)
    if order is None:
        return reply(NO_ORDER, "refund", "failed")
    made = _refunds_of(http, order["charge_id"])
    if made is None:
        return reply("Sorry, I cannot check your refunds right now.", "refund", "failed")
    if made:
        ref = made[0]["id"]
        return reply(
            f"Refund {ref} was already made; it can take 5 to 10 days to show on your statement.",
            "refund",
            "done",
            ref,
        )
    amount = refund_amount(task.message, order)
    key = f"refund-{order['charge_id']}-{amount}"
    return refund_reply(refund(http, order["charge_id"], amount, key=key))


def _refunds_of(http: Http, charge: str) -> list[JSON] | None:
    found = http.send("payments", "GET", "/v1/refunds", params={"charge": charge})
    if not found.ok:
        return None
    refunds: list[JSON] = found.json()["data"]
    return refunds
