"""A tool-calling loop: what it does with errors and with the model's arguments.

``naive`` passes whatever the model read as "the order" straight to the tools (a pasted
tracking number becomes an order id) and retries every error five times after a fixed second:
a 404 is asked again and again, and a 429's ``Retry-After`` is ignored. ``hardened`` validates
the arguments first (an order id must look like one; a tracking number is looked up instead),
retries only transient errors, at most three attempts, backing off exponentially and never
sooner than ``Retry-After``.
"""

from __future__ import annotations

from chaoskit import Reply, Task
from chaoskit.examples.agents.toolkit import (
    JSON,
    NO_ORDER,
    ORDER_REFERENCE,
    TRACKING_NUMBER,
    Backoff,
    Http,
    RetryEverything,
    careful,
    find_order,
    lookup_order,
    refund,
    refund_amount,
    refund_reply,
    reply,
    retrying,
)

__all__ = ["hardened", "naive"]


def naive(task: Task) -> Reply:
    """Retries every error after a fixed pause and trusts the model's arguments."""
    http, policy = Http(task), RetryEverything(5, pause=1.0)
    read = ORDER_REFERENCE.search(task.message)  # the model's idea of the order id
    if read is None:
        return reply(NO_ORDER, "refund", "failed")
    found = retrying(lambda: lookup_order(http, read.group(1)), policy)
    if not found.ok:
        return reply(f"Sorry, I could not find order {read.group(1)}.", "refund", "failed")
    order = found.json()
    amount = refund_amount(task.message, order)
    return refund_reply(retrying(lambda: refund(http, order["charge_id"], amount), policy))


def hardened(task: Task) -> Reply:
    """Validated arguments, transient/terminal split, bounded backoff honouring Retry-After."""
    http, policy = careful(task)
    order = _validated_order(http, task.message, policy)
    if order is None:
        return reply(NO_ORDER, "refund", "failed")
    charge, amount = order["charge_id"], refund_amount(task.message, order)
    key = f"refund-{charge}-{amount}"
    return refund_reply(retrying(lambda: refund(http, charge, amount, key=key), policy))


def _validated_order(http: Http, message: str, policy: Backoff) -> JSON | None:
    """The order the user means: by its id, or found by its tracking number; never a guess."""
    order_id = find_order(message)
    if order_id is not None:
        found = retrying(lambda: lookup_order(http, order_id), policy)
        return found.json() if found.ok else None
    tracking = TRACKING_NUMBER.search(message)
    if tracking is None:
        return None
    params = {"q": tracking.group(0)}
    hits = retrying(lambda: http.send("crm", "GET", "/v1/search", params=params), policy)
    orders = [r for r in hits.json()["data"] if r["object"] == "order"] if hits.ok else []
    return orders[0] if len(orders) == 1 else None
