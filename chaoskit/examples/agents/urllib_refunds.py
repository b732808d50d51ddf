"""The duplicate-refund bug and its fix, in an agent on the standard library's urllib.request.

``naive`` treats a timed-out refund as one that did not happen and tries again with a fresh
idempotency key: when the first attempt had committed, the customer is refunded twice.
``hardened`` keys the refund by its intent (charge and amount), so a retry is the same refund
to the payments API; it backs off honouring ``Retry-After``, stops at a circuit breaker, and
says so when the outcome is unknown.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

from chaoskit import Reply, Task
from chaoskit.examples.agents.toolkit import (
    JSON,
    NO_ORDER,
    CircuitBreaker,
    backoff_delay,
    find_order,
    refund_amount,
    refund_gave_up,
    reply,
)

__all__ = ["hardened", "naive"]

_TRANSIENT = frozenset({409, 429, 500, 502, 503, 504})


def _order(task: Task) -> JSON | None:
    order_id = find_order(task.message)
    if order_id is None:
        return None
    request = urllib.request.Request(
        f"{task.urls['crm']}/v1/orders/{order_id}", headers=task.auth("crm")
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            found: JSON = json.load(response)
            return found
    except urllib.error.HTTPError:
        return None


def _refund(task: Task, order: JSON, key: str) -> JSON:
    """POST the refund; returns the refund, raises HTTPError, URLError or TimeoutError."""
    form = {"charge": order["charge_id"], "amount": refund_amount(task.message, order)}
    request = urllib.request.Request(
        f"{task.urls['payments']}/v1/refunds",
        data=urllib.parse.urlencode(form).encode(),
        headers={**task.auth("payments"), "Idempotency-Key": key},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        made: JSON = json.load(response)
        return made


def _message(error: urllib.error.HTTPError) -> str:
    try:
        return str(json.load(error)["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return error.reason


def naive(task: Task) -> Reply:
    """Retries a timed-out refund with a new idempotency key each time."""
    order = _order(task)
    if order is None:
        return reply(NO_ORDER, "refund", "failed")
    for attempt in range(3):
        try:
            made = _refund(task, order, str(uuid.uuid4()))
        except urllib.error.HTTPError as error:
            return reply(f"Sorry, the refund failed: {_message(error)}", "refund", "failed")
        except (TimeoutError, urllib.error.URLError):
            time.sleep(2**attempt)  # "it timed out, so it did not happen": try again
            continue
        return reply(f"Refund {made['id']} submitted.", "refund", "done", made["id"])
    return reply("Sorry, the payment service is not answering.", "refund", "failed")


def hardened(task: Task) -> Reply:
    """One idempotency key per intent, bounded backoff, a circuit breaker, honest uncertainty."""
    order = _order(task)
    if order is None:
        return reply(NO_ORDER, "refund", "failed")
    key = f"refund-{order['charge_id']}-{refund_amount(task.message, order)}"
    breaker, uncertain = CircuitBreaker(failures=3), False
    for attempt in range(3):
        if breaker.open:
            break
        retry_after = None
        try:
            made = _refund(task, order, key)
        except urllib.error.HTTPError as error:
            if error.code not in _TRANSIENT:
                return reply(
                    f"Sorry, the refund was refused: {_message(error)}", "refund", "failed"
                )
            value = error.headers.get("Retry-After")
            retry_after = float(value) if value else None
            breaker.record(failed=True)
        except (TimeoutError, urllib.error.URLError, ConnectionError):
            breaker.record(failed=True)
            uncertain = True  # it may have gone through: only the same key may retry it
        else:
            return reply(f"Refund {made['id']} submitted.", "refund", "done", made["id"])
        if attempt < 2:
            time.sleep(backoff_delay(attempt, retry_after))
    return refund_gave_up(uncertain=uncertain)
