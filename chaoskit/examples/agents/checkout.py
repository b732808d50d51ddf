"""A two-step workflow, order then charge: what happens to the order when the charge fails.

``naive`` creates the order in the CRM, tries the charge once and, when it fails, tells the
user so (honestly) but leaves the order behind: a pending order nobody paid for, which
fulfilment will happily ship. ``hardened`` retries the charge (same idempotency key, bounded
backoff) and, when it still fails, compensates: it cancels the order and says so.
"""

from __future__ import annotations

import re

from chaoskit import Reply, Task
from chaoskit.examples.agents.toolkit import JSON, Http, Outcome, careful, reply, retrying

__all__ = ["hardened", "naive"]

_DOLLARS = re.compile(r"\$(\d+(?:\.\d\d)?)")


def _plan(http: Http, message: str) -> tuple[JSON, str, int] | None:
    """The account the user names, its payments customer and the amount in cents."""
    accounts = http.send("crm", "GET", "/v1/accounts")
    price = _DOLLARS.search(message)
    if not accounts.ok or price is None:
        return None
    account = next((a for a in accounts.json()["data"] if a["name"] in message), None)
    if account is None:
        return None
    customer = _payments_customer(http, account["id"])
    return None if customer is None else (account, customer, round(float(price.group(1)) * 100))


def _payments_customer(http: Http, account_id: str) -> str | None:
    """The payments customer billed for a CRM account: found by its billing contact's email."""
    path = f"/v1/accounts/{account_id}/contacts"
    contacts = http.send("crm", "GET", path, params={"role": "billing"})
    if not contacts.ok or not contacts.json()["data"]:
        return None
    email = contacts.json()["data"][0]["email"]
    found = http.send("payments", "GET", "/v1/customers", params={"email": email})
    data = found.json()["data"] if found.ok else []
    return str(data[0]["id"]) if data else None


def _create_order(http: Http, account: JSON, amount: int) -> Outcome:
    body = {"account": account["id"], "amount": amount, "currency": "usd"}
    return http.send("crm", "POST", "/v1/orders", json=body)


def _charge(http: Http, order: JSON, customer: str) -> Outcome:
    form = {"customer": customer, "amount": order["amount"], "currency": order["currency"]}
    return http.send("payments", "POST", "/v1/charges", form=form, key=f"charge-{order['id']}")


def _paid(http: Http, order: JSON, charge: JSON) -> Reply:
    body = {"status": "paid", "charge_id": charge["id"]}
    http.send("crm", "PATCH", f"/v1/orders/{order['id']}", json=body)
    text = f"Order {order['id']} is placed and paid (charge {charge['id']})."
    return reply(text, "charge", "done", charge["id"])


def _open_order(http: Http, message: str) -> tuple[JSON, str] | Reply:
    """Step one: the new order in the CRM and the customer to charge, or why not."""
    plan = _plan(http, message)
    if plan is None:
        return reply("I could not find that customer's account.", "charge", "failed")
    account, customer, amount = plan
    created = _create_order(http, account, amount)
    if not created.ok:
        return reply(
            f"Sorry, I could not create the order: {created.describe()}", "charge", "failed"
        )
    return created.json(), customer


def naive(task: Task) -> Reply:
    """Order, then charge; a failed charge leaves the order in place."""
    http = Http(task)
    opened = _open_order(http, task.message)
    if isinstance(opened, Reply):
        return opened
    order, customer = opened
    charged = _charge(http, order, customer)
    if not charged.ok:
        return reply(f"Sorry, the payment failed: {charged.describe()}", "charge", "failed")
    return _paid(http, order, charged.json())


def hardened(task: Task) -> Reply:
    """Order, then charge with bounded retries; if the charge fails, cancel the order."""
    http, policy = careful(task)
    opened = _open_order(http, task.message)
    if isinstance(opened, Reply):
        return opened
    order, customer = opened
    charged = retrying(lambda: _charge(http, order, customer), policy)
    if charged.ok:
        return _paid(http, order, charged.json())
    # Compensate: an order that will never be paid must not stay open.
    path, why = f"/v1/orders/{order['id']}/cancel", {"reason": "payment failed"}
    cancelled = retrying(lambda: http.send("crm", "POST", path, json=why), policy)
    undone = "I cancelled the order" if cancelled.ok else "I could not cancel the order either"
    return reply(f"The payment failed ({charged.describe()}); {undone}.", "charge", "failed")
