"""The duplicate-refund bug and its fix, in an async agent on aiohttp.

``naive`` treats a timed-out refund as one that did not happen and tries again with a fresh
idempotency key: when the first attempt had committed, the customer is refunded twice.
``hardened`` keys the refund by its intent (charge and amount), so a retry is the same refund
to the payments API; it backs off honouring ``Retry-After``, stops at a circuit breaker, and
says so when the outcome is unknown. Both talk to the backends with ``aiohttp.ClientSession``
and nothing else.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    import aiohttp

__all__ = ["hardened", "naive"]


def _aiohttp() -> Any:
    try:
        import aiohttp
    except ImportError as missing:
        raise ImportError(
            "chaoskit: the aiohttp example agents need aiohttp, which is not installed. "
            "Install the extra: pip install 'chaoskit[examples]'."
        ) from missing
    return aiohttp


async def _order(session: aiohttp.ClientSession, task: Task) -> JSON | None:
    order_id = find_order(task.message)
    if order_id is None:
        return None
    url = f"{task.urls['crm']}/v1/orders/{order_id}"
    async with session.get(url, headers=task.auth("crm")) as response:
        found: JSON = await response.json()
        return found if response.ok else None


def _refund_form(task: Task, order: JSON) -> dict[str, str]:
    return {"charge": order["charge_id"], "amount": str(refund_amount(task.message, order))}


async def _post_refund(
    session: aiohttp.ClientSession, task: Task, form: dict[str, str], key: str
) -> tuple[int, JSON, float | None]:
    headers = {**task.auth("payments"), "Idempotency-Key": key}
    url = f"{task.urls['payments']}/v1/refunds"
    async with session.post(url, data=form, headers=headers) as response:
        retry_after = response.headers.get("Retry-After")
        body: JSON = await response.json()
        return response.status, body, float(retry_after) if retry_after else None


async def naive(task: Task) -> Reply:
    """Retries a timed-out refund with a new idempotency key each time."""
    aiohttp = _aiohttp()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        order = await _order(session, task)
        if order is None:
            return reply(NO_ORDER, "refund", "failed")
        form = _refund_form(task, order)
        for attempt in range(3):
            try:
                status, body, _ = await _post_refund(session, task, form, str(uuid.uuid4()))
            except TimeoutError:
                await asyncio.sleep(2**attempt)  # "it timed out, so it did not happen"
                continue
            if status >= 400:
                message = body["error"]["message"]
                return reply(f"Sorry, the refund failed: {message}", "refund", "failed")
            return reply(f"Refund {body['id']} submitted.", "refund", "done", body["id"])
    return reply("Sorry, the payment service is not answering.", "refund", "failed")


async def hardened(task: Task) -> Reply:
    """One idempotency key per intent, bounded backoff, a circuit breaker, honest uncertainty."""
    aiohttp = _aiohttp()
    timeout = aiohttp.ClientTimeout(total=30, sock_read=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        order = await _order(session, task)
        if order is None:
            return reply(NO_ORDER, "refund", "failed")
        form = _refund_form(task, order)
        key = f"refund-{form['charge']}-{form['amount']}"  # the intent, not the attempt
        breaker, uncertain = CircuitBreaker(failures=3), False
        for attempt in range(3):
            if breaker.open:
                break
            retry_after = None
            try:
                status, body, retry_after = await _post_refund(session, task, form, key)
            except (aiohttp.ClientConnectionError, TimeoutError):
                breaker.record(failed=True)
                uncertain = True  # it may have gone through: only the same key may retry it
            else:
                if status < 400:
                    return reply(f"Refund {body['id']} submitted.", "refund", "done", body["id"])
                if status not in (409, 429) and status < 500:
                    message = body["error"]["message"]
                    return reply(f"Sorry, the refund was refused: {message}", "refund", "failed")
                breaker.record(failed=True)
            if attempt < 2:
                await asyncio.sleep(backoff_delay(attempt, retry_after))
    return refund_gave_up(uncertain=uncertain)
