"""The MCP server over the fakes, driven by the MCP SDK's own client over in-memory streams.

Skipped only outside CI when ``mcp`` is missing; in CI (``CI`` set) the import must work.
"""

from __future__ import annotations

import builtins
import json
import os
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

if not os.environ.get("CI"):
    pytest.importorskip("mcp", reason="the 'mcp' extra is not installed")

from mcp import Client

from chaoskit import FaultRule, ServerError, Target, TimeoutAfterCommit, World
from chaoskit.core.agent import Principal, Task
from chaoskit.extra.mcp import TOOLS, mcp_server
from chaoskit.fakes import CRM, Email, Payments, Ticketing
from chaoskit.world.data import WorldData, WorldRecipe, build_world
from chaoskit.world.timepatch import run_virtual

T = TypeVar("T")
REFUNDS = Target.parse("payments: POST /v1/refunds")


def in_world(
    faults: tuple[FaultRule, ...], session: Callable[[Client, WorldData], Awaitable[T]]
) -> tuple[T, World]:
    """Run ``session`` with an MCP client connected to a server over a fresh, seeded world."""
    world = World([Payments(), CRM(), Ticketing(), Email()], faults=faults, seed=5)
    data = build_world(5, WorldRecipe(), world.backends)
    credentials = {name: data.user.token for name in world.backends}
    credentials["payments"] = Payments.DEFAULT_API_KEY
    task = Task(
        message="",
        principal=Principal(user_id=data.user.user_id, token=data.user.token),
        urls=world.urls,
        credentials=credentials,
    )

    async def connected() -> T:
        # mode="legacy": the JSON-RPC stream loop over in-memory streams, initialize included.
        async with Client(mcp_server(task), mode="legacy") as client:
            return await session(client, data)

    with world:
        result = run_virtual(connected(), world.clock)
    return result, world


def structured(result: Any) -> Any:
    assert not result.is_error, result.content
    return json.loads(result.content[0].text)


def test_the_server_offers_one_tool_per_backend() -> None:
    async def names(client: Client, data: WorldData) -> list[str]:
        return sorted(t.name for t in (await client.list_tools()).tools)

    listed, _ = in_world((), names)
    assert listed == sorted(TOOLS)


def test_a_refund_through_the_mcp_tool_lands_in_the_payments_ledger() -> None:
    async def refund(client: Client, data: WorldData) -> Any:
        order = structured(
            await client.call_tool("get_order", {"order_id": data.orders[0].order_id})
        )
        made = await client.call_tool(
            "refund", {"charge_id": order["charge_id"], "amount": 500, "idempotency_key": "k-1"}
        )
        return structured(made)

    made, world = in_world((), refund)
    (entry,) = world["payments"].ledger.entries("refund.created")
    assert (entry.object_id, entry.fields["amount"]) == (made["id"], 500)


def test_an_injected_timeout_after_commit_is_a_tool_error_and_the_refund_still_committed() -> None:
    timeout = FaultRule(fault=TimeoutAfterCommit(), target=REFUNDS, calls=(1,))

    async def refund(client: Client, data: WorldData) -> Any:
        args = {"charge_id": data.orders[0].charge_id, "amount": 500}
        return await client.call_tool("refund", args)

    result, world = in_world((timeout,), refund)
    assert result.is_error
    assert "payments: POST /v1/refunds timed out (ReadTimeout)" in result.content[0].text
    assert len(world["payments"].ledger.entries("refund.created")) == 1


def test_an_injected_server_error_is_a_tool_error_with_the_backends_message() -> None:
    storm = FaultRule(fault=ServerError(status=503), target=REFUNDS, always=True)

    async def refund(client: Client, data: WorldData) -> Any:
        args = {"charge_id": data.orders[0].charge_id, "amount": 500}
        return await client.call_tool("refund", args)

    result, world = in_world((storm,), refund)
    assert result.is_error
    assert result.content[0].text == (
        "Error executing tool refund: payments: POST /v1/refunds answered HTTP 503: "
        "An unknown error occurred"
    )
    assert world["payments"].ledger.entries("refund.created") == ()


def test_tickets_and_emails_go_through_their_fakes() -> None:
    async def both(client: Client, data: WorldData) -> tuple[Any, Any]:
        ticket = await client.call_tool(
            "create_ticket", {"subject": "Refund", "body": "…", "requester": "ap@acme.test"}
        )
        email = await client.call_tool(
            "send_email", {"to": "ap@acme.test", "subject": "Refund", "body": "On its way."}
        )
        return structured(ticket), structured(email)

    (ticket, email), world = in_world((), both)
    assert [e.object_id for e in world["ticketing"].ledger.entries("ticket.created")] == [
        ticket["id"]
    ]
    assert [e.object_id for e in world["email"].ledger.entries("email.sent")] == [email["id"]]


def test_without_the_mcp_package_the_error_says_which_extra_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_import = builtins.__import__

    def no_mcp(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "mcp" or name.startswith("mcp."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_mcp)
    task = Task(message="", principal=Principal(user_id="u", token="t"), urls={}, credentials={})
    with pytest.raises(ImportError, match=r"^chaoskit: .*pip install 'chaoskit\[mcp\]'"):
        mcp_server(task)
