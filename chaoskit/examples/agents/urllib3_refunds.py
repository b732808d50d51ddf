"""The duplicate-refund bug and its fix, in an agent on urllib3 (as many SDKs are built).

``naive`` treats a timed-out refund as one that did not happen and tries again with a fresh
idempotency key: when the first attempt had committed, the customer is refunded twice.
``hardened`` keys the refund by its intent (charge and amount) and hands the retries to
urllib3's own ``Retry``, which may then retry the POST too: every attempt carries the same key,
so a retry is the same refund to the payments API. urllib3 backs off and honours
``Retry-After``; when the outcome stays unknown, the agent says so.
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

from chaoskit import Reply, Task
from chaoskit.examples.agents.toolkit import (
    JSON,
    NO_ORDER,
    find_order,
    refund_amount,
    refund_gave_up,
    reply,
)

if TYPE_CHECKING:
    import urllib3

__all__ = ["hardened", "naive"]


def _urllib3() -> Any:
    try:
        import urllib3
    except ImportError as missing:
        raise ImportError(
            "chaoskit: the urllib3 example agents need urllib3, which is not installed. "
            "Install the extra: pip install 'chaoskit[examples]'."
        ) from missing
    return urllib3


def _order(http: urllib3.PoolManager, task: Task) -> JSON | None:
    order_id = find_order(task.message)
    if order_id is None:
        return None
    response = http.request(
        "GET", f"{task.urls['crm']}/v1/orders/{order_id}", headers=task.auth("crm")
    )
    found: JSON = response.json()
    return found if response.status < 400 else None


def _refund(
    http: urllib3.PoolManager, task: Task, order: JSON, key: str, **options: Any
) -> urllib3.BaseHTTPResponse:
    return http.request(
        "POST",
        f"{task.urls['payments']}/v1/refunds",
        fields={"charge": order["charge_id"], "amount": str(refund_amount(task.message, order))},
        encode_multipart=False,  # form-encoded, as the payments API takes it
        headers={**task.auth("payments"), "Idempotency-Key": key},
        **options,
    )


def naive(task: Task) -> Reply:
    """Retries a timed-out refund with a new idempotency key each time."""
    urllib3 = _urllib3()
    http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=5, read=10))
    order = _order(http, task)
    if order is None:
        return reply(NO_ORDER, "refund", "failed")
    for attempt in range(3):
        try:
            response = _refund(http, task, order, str(uuid.uuid4()))
        except urllib3.exceptions.HTTPError:
            time.sleep(2**attempt)  # "it timed out, so it did not happen": try again
            continue
        body = response.json()
        if response.status >= 400:
            message = body["error"]["message"]
            return reply(f"Sorry, the refund failed: {message}", "refund", "failed")
        return reply(f"Refund {body['id']} submitted.", "refund", "done", body["id"])
    return reply("Sorry, the payment service is not answering.", "refund", "failed")


def hardened(task: Task) -> Reply:
    """One idempotency key per intent; urllib3's Retry does bounded, polite retries."""
    urllib3 = _urllib3()
    # Three attempts in all, POST included (safe only with a stable idempotency key), backing
    # off 1 s, 2 s and honouring Retry-After; the last answer is returned rather than raised.
    retry = urllib3.Retry(
        total=2,
        allowed_methods=None,
        status_forcelist=(409, 429, 500, 502, 503, 504),
        backoff_factor=1,
        raise_on_status=False,
    )
    http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=5, read=10), retries=retry)
    order = _order(http, task)
    if order is None:
        return reply(NO_ORDER, "refund", "failed")
    key = f"refund-{order['charge_id']}-{refund_amount(task.message, order)}"
    try:
        response = _refund(http, task, order, key)
    except urllib3.exceptions.MaxRetryError:  # every attempt timed out or was cut off
        return refund_gave_up(uncertain=True)
    body = response.json()
    if response.status >= 400:
        message = body["error"]["message"]
        return reply(f"Sorry, no refund was made: {message}", "refund", "failed")
    return reply(f"Refund {body['id']} submitted.", "refund", "done", body["id"])
