"""Opening a ticket on a backend with no idempotency: retry blind, or look first.

``naive`` retries a ticket whose response timed out. It even sends a stable
``Idempotency-Key``, but the ticketing system ignores it (as many do), so every retry after a
commit is one more ticket for the support team. ``hardened`` tags the ticket with an
``external_id`` derived from the request and, before every attempt, asks whether a ticket with
that id already exists.
"""

from __future__ import annotations

import time

from chaoskit import Reply, Task
from chaoskit.examples.agents.toolkit import JSON, Http, Outcome, backoff_delay, reply, the_order

__all__ = ["hardened", "naive"]


def _ticket(task: Task, order: JSON) -> JSON:
    return {
        "subject": f"Wrong invoice amount for order {order['id']}",
        "body": task.message,
        "requester": task.principal.user_id,
        "priority": "normal",
    }


def _opened(ticket: JSON) -> Reply:
    return reply(f"I opened ticket {ticket['id']} for you.", "ticket", "done", ticket["id"])


def _not_opened(outcome: Outcome) -> Reply:
    return reply(f"Sorry, I could not open the ticket: {outcome.describe()}.", "ticket", "failed")


def naive(task: Task) -> Reply:
    """Retries a timed-out create; the backend ignores its idempotency key."""
    http = Http(task)
    order = the_order(http, task.message)
    if order is None:
        return reply("I could not find that order.", "ticket", "failed")
    outcome = Outcome()
    for attempt in range(3):
        outcome = http.send(
            "ticketing", "POST", "/v1/tickets", json=_ticket(task, order), key=f"t-{order['id']}"
        )
        if outcome.ok:
            return _opened(outcome.json())
        time.sleep(2**attempt)
    return _not_opened(outcome)


def hardened(task: Task) -> Reply:
    """Dedupes by ``external_id``: looks for its ticket before every attempt."""
    http = Http(task)
    order = the_order(http, task.message)
    if order is None:
        return reply("I could not find that order.", "ticket", "failed")
    ticket = _ticket(task, order) | {"external_id": f"invoice-{order['id']}"}
    outcome = Outcome()
    for attempt in range(3):
        existing = _existing(http, ticket["external_id"])
        if existing is not None:
            return _opened(existing)
        outcome = http.send("ticketing", "POST", "/v1/tickets", json=ticket)
        if outcome.ok:
            return _opened(outcome.json())
        if not outcome.transient:
            break
        time.sleep(backoff_delay(attempt, outcome.retry_after))
    return _not_opened(outcome)


def _existing(http: Http, external_id: str) -> JSON | None:
    found = http.send("ticketing", "GET", "/v1/tickets", params={"external_id": external_id})
    data: list[JSON] = found.json()["data"] if found.ok else []
    return data[0] if data else None
