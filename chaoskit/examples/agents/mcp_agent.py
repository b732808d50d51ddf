"""A refund agent that reaches its tools only through MCP: a tool error is not a "no".

Both agents connect the MCP SDK's client to :func:`chaoskit.extra.mcp.mcp_server` in process and
call two tools: ``get_order``, then ``refund`` for half the order. When the payments API times
out after committing, the ``refund`` tool comes back with ``is_error`` set, exactly as a
refused refund would.

``naive`` reads every tool error as "it did not happen" and calls ``refund`` again with a fresh
idempotency key (``uuid4()`` per attempt, which looks careful): the refund that committed is
made a second time. ``hardened`` passes a key
derived from the intent (charge and amount) on every attempt, so a retry is answered with the
refund already made; it stops after three attempts and, when the last one timed out, says the
outcome is unknown instead of "failed".

Needs the ``mcp`` extra: ``pip install 'chaoskit[mcp]'``.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from typing import TYPE_CHECKING, Any

from chaoskit import Reply, Task
from chaoskit.examples.agents.toolkit import (
    JSON,
    NO_ORDER,
    backoff_delay,
    find_order,
    refund_amount,
    reply,
)
from chaoskit.extra.mcp import mcp_server

if TYPE_CHECKING:
    from mcp import Client

__all__ = ["hardened", "naive"]

ATTEMPTS = 3


class ToolFailed(Exception):
    """An MCP tool answered with ``is_error``; the message is the text it gave."""


async def _call(client: Client, tool: str, arguments: JSON) -> JSON:
    """Call one tool; its JSON result, or :class:`ToolFailed` with the error's text."""
    result = await client.call_tool(tool, arguments)
    text = "".join(getattr(part, "text", "") for part in result.content)
    if result.is_error:
        raise ToolFailed(text)
    found: JSON = json.loads(text)
    return found


async def _order(client: Client, task: Task) -> JSON | None:
    order_id = find_order(task.message)
    if order_id is None:
        return None
    try:
        return await _call(client, "get_order", {"order_id": order_id})
    except ToolFailed:
        return None


def _connect(task: Task) -> Client:
    from mcp import Client

    # mode="legacy": the JSON-RPC stream loop over in-memory streams, initialize included.
    return Client(mcp_server(task), mode="legacy")


def _done(made: JSON) -> Reply:
    return reply(f"Refund {made['id']} submitted.", "refund", "done", made["id"])


async def naive(task: Task) -> Reply:
    """Retries a failed ``refund`` call with a fresh idempotency key: a timeout refunds twice."""
    async with _connect(task) as client:
        order = await _order(client, task)
        if order is None:
            return reply(NO_ORDER, "refund", "failed")
        args = {"charge_id": order["charge_id"], "amount": refund_amount(task.message, order)}
        for attempt in range(ATTEMPTS):
            # A fresh key per attempt looks careful, but makes every retry a new refund.
            key = {"idempotency_key": str(uuid.uuid4())}
            try:
                return _done(await _call(client, "refund", {**args, **key}))
            except ToolFailed:
                await asyncio.sleep(2**attempt)  # "the tool failed, so nothing happened"
    return reply("Sorry, the payment service is not answering.", "refund", "failed")


async def hardened(task: Task) -> Reply:
    """One idempotency key per intent on every attempt, bounded backoff, honest uncertainty."""
    async with _connect(task) as client:
        order = await _order(client, task)
        if order is None:
            return reply(NO_ORDER, "refund", "failed")
        amount = refund_amount(task.message, order)
        # The key names the intent, not the attempt: a retry of a refund that did commit is
        # answered with that refund instead of making another one.
        args: dict[str, Any] = {
            "charge_id": order["charge_id"],
            "amount": amount,
            "idempotency_key": f"refund-{order['charge_id']}-{amount}",
        }
        error = ""
        for attempt in range(ATTEMPTS):
            try:
                return _done(await _call(client, "refund", args))
            except ToolFailed as failed:
                error = str(failed)
            if not _transient(error):
                break
            if attempt < ATTEMPTS - 1:
                await asyncio.sleep(backoff_delay(attempt, None))
    return _gave_up(error)


def _uncertain(error: str) -> bool:
    """The call never came back (a timeout, a reset): it may have taken effect."""
    return " timed out (" in error or " failed (" in error


def _transient(error: str) -> bool:
    """Worth another try with the same key: no answer, key in use, rate limited, or a 5xx."""
    status = re.search(r"answered HTTP (\d{3})", error)
    code = 0 if status is None else int(status[1])
    return _uncertain(error) or code in (409, 429) or code >= 500


def _gave_up(error: str) -> Reply:
    if _uncertain(error):
        return reply(
            "I could not confirm the refund: the payment service did not answer, and it may "
            "have gone through. I have passed it to a colleague to check.",
            "refund",
            "escalated",
        )
    return reply(f"Sorry, no refund was made: {error}", "refund", "failed")
