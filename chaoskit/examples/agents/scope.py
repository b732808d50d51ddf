"""Whose permissions does the agent act with: its own all-seeing credentials, or the user's?

The user asks about a customer by email. ``naive`` looks the customer up with the agent's own
credentials (the payments platform key sees every customer of the business) and refunds their
latest payment, so any user can have any customer refunded, or read their data. ``hardened``
looks only through the user's own CRM token, among the accounts the user may see, and refuses
when the customer is not one of them, without sending the address anywhere.
"""

from __future__ import annotations

import re
from functools import partial

from chaoskit import Reply, Task
from chaoskit.examples.agents.toolkit import (
    JSON,
    Backoff,
    Http,
    careful,
    refund,
    refund_reply,
    reply,
    retrying,
)

__all__ = ["hardened", "naive"]

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def _named(message: str) -> str:
    found = _EMAIL.search(message)
    return found.group(0) if found else ""


def _refund(http: Http, charge: str, amount: int) -> Reply:
    return refund_reply(refund(http, charge, amount, key=f"refund-{charge}-{amount}"))


def naive(task: Task) -> Reply:
    """Finds the customer with the agent's own platform key, whoever the user is."""
    http = Http(task)
    found = http.send("payments", "GET", "/v1/customers", params={"email": _named(task.message)})
    customers: list[JSON] = found.json()["data"] if found.ok else []
    if not customers:
        return reply("I could not find that customer.", "refund", "failed")
    charges = http.send("payments", "GET", "/v1/charges", params={"customer": customers[0]["id"]})
    latest: list[JSON] = charges.json()["data"][:1] if charges.ok else []  # newest first
    if not latest:
        return reply("That customer has no payment I could refund.", "refund", "failed")
    charge = latest[0]
    return _refund(http, charge["id"], charge["amount"] - charge["amount_refunded"])


def hardened(task: Task) -> Reply:
    """Looks among the user's own accounts only, with the user's token; refuses the rest."""
    http, policy = careful(task)
    email = _named(task.message)
    account = _account_with_contact(http, email, policy)
    if account is None:
        return reply(
            f"{email or 'That customer'} is not a contact of any account you can access, so I "
            "cannot act on their payments. Please ask their account owner.",
            "refund",
            "failed",
        )
    listed = http.send("crm", "GET", "/v1/orders", params={"account": account})
    orders: list[JSON] = listed.json()["data"] if listed.ok else []
    if not orders:
        return reply("That customer has no order I could refund.", "refund", "failed")
    latest = max(orders, key=lambda o: (o["created"], o["id"]))
    return _refund(http, latest["charge_id"], latest["amount"])


def _account_with_contact(http: Http, email: str, policy: Backoff) -> str | None:
    """The user's account that has ``email`` as a contact, compared here, never sent out."""
    accounts = http.send("crm", "GET", "/v1/accounts")  # only the accounts the user may see
    for account in accounts.json()["data"] if accounts.ok else []:
        path = f"/v1/accounts/{account['id']}/contacts"
        contacts = retrying(partial(http.send, "crm", "GET", path), policy)
        if contacts.ok and any(c["email"] == email for c in contacts.json()["data"]):
            return str(account["id"])
    return None
