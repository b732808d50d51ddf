"""A batch of reminder emails under a rate limit: resend from the top, or resume.

``naive`` honours ``Retry-After`` but, after a 429, starts the whole batch again: every contact
emailed before the 429 gets the reminder twice. ``hardened`` remembers who was sent to, retries
only the message that was refused (bounded, honouring ``Retry-After``) and carries on.
"""

from __future__ import annotations

import time
from functools import partial

from chaoskit import Reply, Task
from chaoskit.examples.agents.toolkit import (
    JSON,
    Http,
    Outcome,
    careful,
    reply,
    retrying,
    the_order,
)

__all__ = ["hardened", "naive"]


def _recipients(http: Http, message: str) -> tuple[JSON, list[JSON]] | None:
    """The order the user names and every contact of its account."""
    order = the_order(http, message)
    if order is None:
        return None
    contacts = http.send("crm", "GET", f"/v1/accounts/{order['account']}/contacts")
    return (order, contacts.json()["data"]) if contacts.ok else None


def _remind(http: Http, order: JSON, contact: JSON) -> Outcome:
    amount = f"${order['amount'] / 100:,.2f}"
    body = {
        "to": contact["email"],
        "subject": f"Payment reminder for order {order['id']}",
        "body": f"Dear {contact['name']}, order {order['id']} ({amount}) is awaiting payment.",
        "template": "payment_reminder",
    }
    return http.send("email", "POST", "/v1/messages", json=body)


def _sent(count: int) -> Reply:
    return reply(f"I sent the reminder to {count} contact(s).", "email", "done")


def naive(task: Task) -> Reply:
    """After a 429 it waits as told, then starts the whole batch over."""
    http = Http(task)
    found = _recipients(http, task.message)
    if found is None:
        return reply("I could not find that order.", "email", "failed")
    order, contacts = found
    for _ in range(3):
        refused = _send_all(http, order, contacts)
        if refused is None:
            return _sent(len(contacts))
        time.sleep(refused.retry_after or 1.0)
    return reply(
        "The email service kept refusing; some reminders were not sent.", "email", "failed"
    )


def _send_all(http: Http, order: JSON, contacts: list[JSON]) -> Outcome | None:
    """Send to everyone in turn; stop at the first refusal and return it."""
    for contact in contacts:
        outcome = _remind(http, order, contact)
        if not outcome.ok:
            return outcome
    return None


def hardened(task: Task) -> Reply:
    """Sends each reminder once: retries only the refused message, then moves on."""
    http, policy = careful(task)
    found = _recipients(http, task.message)
    if found is None:
        return reply("I could not find that order.", "email", "failed")
    order, contacts = found
    missed = [
        contact["email"]
        for contact in contacts
        if not retrying(partial(_remind, http, order, contact), policy).ok
    ]
    if missed:
        text = f"I could not send the reminder to {', '.join(missed)}; the others have it."
        return reply(text, "email", "failed")
    return _sent(len(contacts))
