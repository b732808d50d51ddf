"""A support agent on zenpy, Zendesk's Python client: open one ticket, whatever the API does.

zenpy waits out a 429 by itself (it sleeps ``Retry-After`` and sends the same request again),
and that is safe: a rate-limited request created nothing. A timeout is another matter: the
ticket may exist. ``naive`` wraps the create in the retry loop people write first (catch
everything, create again), with no idempotency key and no look before retrying, so a timeout
after commit is a second ticket for the support team. ``hardened`` sends an
``Idempotency-Key`` derived from the order (Zendesk replays the first ticket for two hours),
tags the ticket with an ``external_id`` it looks up before every retry, retries only what may
pass, and says so when it cannot tell whether the ticket exists.
"""

from __future__ import annotations

import time
from typing import Any

import requests
from zenpy import Zenpy
from zenpy.lib.api_objects import Comment, Ticket, User
from zenpy.lib.exception import APIException, ZenpyException

from chaoskit import Reply, Task
from chaoskit.examples.agents.toolkit import JSON, Http, backoff_delay, reply, the_order

__all__ = ["hardened", "naive"]

_TRANSIENT = frozenset({409, 429, 500, 502, 503, 504})


def _client(task: Task, **options: Any) -> Zenpy:
    return Zenpy(**task.credentials["zendesk"], timeout=10, **options)


def _requester(http: Http, order: JSON) -> User | None:
    """The customer's billing contact, who is also a user of the Zendesk account."""
    found = http.send(
        "crm", "GET", f"/v1/accounts/{order['account']}/contacts", params={"role": "billing"}
    )
    contacts: list[JSON] = found.json()["data"] if found.ok else []
    if not contacts:
        return None
    return User(name=contacts[0]["name"], email=contacts[0]["email"])


def _ticket(task: Task, order: JSON, requester: User | None, **extra: Any) -> Ticket:
    return Ticket(
        subject=f"Wrong invoice amount for order {order['id']}",
        comment=Comment(body=task.message, public=True),
        requester=requester,
        priority="normal",
        **extra,
    )


def _opened(ticket_id: int) -> Reply:
    return reply(f"I opened ticket #{ticket_id} for you.", "ticket", "done", str(ticket_id))


def naive(task: Task) -> Reply:
    """Creates again after any error: a timeout after commit is a second ticket."""
    http = Http(task)
    order = the_order(http, task.message)
    if order is None:
        return reply("I could not find that order.", "ticket", "failed")
    zenpy = _client(task)  # zenpy's default: wait out every 429, however long
    ticket = _ticket(task, order, _requester(http, order))
    for attempt in range(3):
        try:
            return _opened(zenpy.tickets.create(ticket).ticket.id)
        except Exception:  # the catch-all retry this agent stands for
            time.sleep(2**attempt)
    return reply("Sorry, I could not open the ticket.", "ticket", "failed")


def hardened(task: Task) -> Reply:
    """One key and one external_id per intent; looks before every retry."""
    http = Http(task)
    order = the_order(http, task.message)
    if order is None:
        return reply("I could not find that order.", "ticket", "failed")
    # zenpy sleeps each 429's Retry-After and sends the request again; its budget (seconds of
    # waiting, over the client's life) bounds that: one wait of 10 s, then it gives up.
    zenpy = _client(task, ratelimit_budget=15)
    intent = f"invoice-{order['id']}"
    # zenpy has no per-call headers: the key rides on its session, one client per intent.
    zenpy.tickets.session.headers["Idempotency-Key"] = intent
    ticket = _ticket(task, order, _requester(http, order), external_id=intent)
    uncertain = False
    for attempt in range(3):
        existing = _existing(zenpy, intent) if uncertain else None
        if existing is not None:
            return _opened(existing)
        try:
            return _opened(zenpy.tickets.create(ticket).ticket.id)
        except (requests.exceptions.Timeout, requests.exceptions.ConnectionError):
            uncertain = True  # it may exist: look before the next try
        except APIException as error:
            status = getattr(error.response, "status_code", None)
            if status not in _TRANSIENT:
                return reply(f"Sorry, Zendesk refused the ticket: {error}.", "ticket", "failed")
        except ZenpyException:  # zenpy's rate-limit budget ran out
            break
        time.sleep(backoff_delay(attempt, None))
    return _gave_up(zenpy, intent, uncertain=uncertain)


def _existing(zenpy: Zenpy, external_id: str) -> int | None:
    """The ticket already opened for this intent, if the lookup can say."""
    try:
        found = list(zenpy.tickets(external_id=external_id))
    except (APIException, ZenpyException, requests.exceptions.RequestException):
        return None
    return found[0].id if found else None


def _gave_up(zenpy: Zenpy, intent: str, *, uncertain: bool) -> Reply:
    existing = _existing(zenpy, intent) if uncertain else None
    if existing is not None:
        return _opened(existing)
    if uncertain:
        return reply(
            "I could not confirm the ticket: Zendesk stopped answering, and it may have been "
            "opened. I have passed it to a colleague to check.",
            "ticket",
            "escalated",
        )
    return reply("Sorry, Zendesk is failing; no ticket was opened.", "ticket", "failed")
