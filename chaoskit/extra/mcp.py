"""An MCP server whose tools act on the world's fakes over HTTP, so every fault applies.

For agents that reach their tools through the Model Context Protocol: build the server from the
task, connect the agent's MCP client to it (in process, or over any MCP transport), and the
tools' HTTP calls go to the fakes through chaoskit's interception like any other call. A fault
the world injects surfaces as what an MCP client sees of a failing tool: a result with
``is_error`` set and the reason in its text.

Tools: ``get_order`` (crm), ``refund`` (payments), ``create_ticket`` (ticketing) and
``send_email`` (email); a tool whose backend the task has no URL for is not offered.

Needs the ``mcp`` extra (``pip install 'chaoskit[mcp]'``, mcp 2.x).

>>> from mcp import Client  # doctest: +SKIP
>>> async with Client(mcp_server(task)) as client:  # doctest: +SKIP
...     result = await client.call_tool("refund", {"charge_id": "ch_1", "amount": 500})
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx

from chaoskit.core.agent import Task

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

__all__ = ["TOOLS", "mcp_server"]

JSON = dict[str, Any]

#: Each tool and the backend it needs.
TOOLS: dict[str, str] = {
    "get_order": "crm",
    "refund": "payments",
    "create_ticket": "ticketing",
    "send_email": "email",
}

_MISSING = (
    "chaoskit: the MCP server needs the 'mcp' package (version 2), which is not installed. "
    "Install the extra: pip install 'chaoskit[mcp]'."
)


def mcp_server(task: Task, *, name: str = "chaoskit") -> MCPServer:
    """An MCP server offering the tools whose backends ``task`` has URLs for.

    Each tool sends one HTTP request with the task's credentials for its backend; an HTTP
    error or a transport error (a timeout, a reset) is raised as the MCP SDK's ``ToolError``,
    which the client receives as ``is_error=True`` with the reason.
    """
    try:
        from mcp.server.mcpserver import MCPServer
    except ImportError as missing:
        raise ImportError(_MISSING, name="mcp") from missing
    server = MCPServer(name, instructions="Tools over the chaoskit world's fake backends.")
    tools = _Tools(task)
    for tool, backend in TOOLS.items():
        if backend in task.urls:
            server.tool(name=tool)(_TOOL_FUNCTIONS[tool](tools))
    return server


class _Tools:
    """The HTTP side of the tools: one request each, errors raised as ``ToolError``."""

    def __init__(self, task: Task) -> None:
        self.task = task

    async def send(
        self,
        backend: str,
        method: str,
        path: str,
        *,
        json: JSON | None = None,
        form: dict[str, str | int] | None = None,
        key: str | None = None,
    ) -> JSON:
        from mcp.server.mcpserver.exceptions import ToolError

        headers = self.task.auth(backend)
        if key is not None:
            headers["Idempotency-Key"] = key
        where = f"{backend}: {method} {path}"
        try:
            response = await self.task.clients.async_httpx.request(
                method, f"{self.task.urls[backend]}{path}", json=json, data=form, headers=headers
            )
        except httpx.TimeoutException as error:
            raise ToolError(
                f"{where} timed out ({type(error).__name__}): it may have taken effect; check "
                "before retrying, or retry with the same idempotency key."
            ) from error
        except httpx.TransportError as error:
            raise ToolError(f"{where} failed ({type(error).__name__}).") from error
        if response.status_code >= 400:
            raise ToolError(f"{where} answered HTTP {response.status_code}: {_reason(response)}")
        body: JSON = response.json()
        return body


def _reason(response: httpx.Response) -> str:
    try:
        error = response.json()["error"]
        return str(error["message"] if isinstance(error, dict) else error)
    except (ValueError, KeyError, TypeError):
        return response.reason_phrase or "no reason given"


def _get_order(tools: _Tools) -> Callable[..., Any]:
    async def get_order(order_id: str) -> JSON:
        """Look up an order (ord_…): its amount, currency, status and charge_id."""
        return await tools.send("crm", "GET", f"/v1/orders/{order_id}")

    return get_order


def _refund(tools: _Tools) -> Callable[..., Any]:
    async def refund(charge_id: str, amount: int, idempotency_key: str | None = None) -> JSON:
        """Refund ``amount`` (smallest currency unit) of charge ``charge_id`` (ch_…).

        Pass the same ``idempotency_key`` on every retry of one refund.
        """
        form: dict[str, str | int] = {"charge": charge_id, "amount": amount}
        return await tools.send("payments", "POST", "/v1/refunds", form=form, key=idempotency_key)

    return refund


def _create_ticket(tools: _Tools) -> Callable[..., Any]:
    async def create_ticket(
        subject: str,
        body: str,
        requester: str,
        priority: str = "normal",
        external_id: str | None = None,
    ) -> JSON:
        """Open a support ticket; ``external_id`` lets a retry find the ticket it made."""
        ticket: JSON = {"subject": subject, "body": body, "requester": requester}
        ticket["priority"] = priority
        if external_id is not None:
            ticket["external_id"] = external_id
        return await tools.send("ticketing", "POST", "/v1/tickets", json=ticket)

    return create_ticket


def _send_email(tools: _Tools) -> Callable[..., Any]:
    async def send_email(to: str, subject: str, body: str) -> JSON:
        """Send an email to an address."""
        message = {"to": to, "subject": subject, "body": body}
        return await tools.send("email", "POST", "/v1/messages", json=message)

    return send_email


_TOOL_FUNCTIONS: dict[str, Callable[[_Tools], Callable[..., Any]]] = {
    "get_order": _get_order,
    "refund": _refund,
    "create_ticket": _create_ticket,
    "send_email": _send_email,
}
