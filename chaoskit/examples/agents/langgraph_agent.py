"""A refund bot as a LangGraph graph: LangGraph's node retry meets a non-idempotent write.

The graph is ``lookup → refund → END``: ``lookup`` reads the order from the CRM, ``refund``
posts the refund to the payments API with plain httpx. Both agents put LangGraph's default
:class:`~langgraph.types.RetryPolicy` on the refund node, as its docs suggest for flaky tools:
three attempts, and its default ``retry_on`` retries every exception that is not a programming
error, which includes ``httpx.ReadTimeout``.

``naive`` mints its idempotency key inside the node (``uuid4()``), which looks careful, but a
LangGraph retry runs the whole node again: every attempt gets a fresh key, so a refund that
committed before its response timed out is made a second time. ``hardened`` derives the key
from the node's input (charge and amount), which is the same on every attempt, so Stripe
answers the retry with the refund already made; when every attempt fails it says the outcome
is unknown instead of "failed".

Needs the ``langgraph`` extra: ``pip install 'chaoskit[langgraph]'``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypedDict, cast

import httpx

from chaoskit import Reply, Task
from chaoskit.examples.agents.toolkit import JSON, NO_ORDER, find_order, refund_amount, reply

if TYPE_CHECKING:
    from langgraph.graph.state import CompiledStateGraph

__all__ = ["hardened", "naive"]

KeyFor = Callable[[JSON, int], str]


class RefundState(TypedDict, total=False):
    """What flows through the graph."""

    message: str
    order: JSON | None
    refund: JSON


def _langgraph() -> Any:
    try:
        import langgraph.graph
    except ImportError as missing:
        raise ImportError(
            "chaoskit: the LangGraph example agents need LangGraph, which is not installed. "
            "Install the extra: pip install 'chaoskit[langgraph]'."
        ) from missing
    return langgraph.graph


def build_graph(task: Task, key_for: KeyFor) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The refund graph for ``task``; ``key_for(order, amount)`` names each refund attempt."""
    from langgraph.types import RetryPolicy

    graph_module = _langgraph()
    http = task.clients.httpx

    def lookup(state: RefundState) -> RefundState:
        order_id = find_order(state["message"])
        if order_id is None:
            return {"order": None}
        found = http.get(f"{task.urls['crm']}/v1/orders/{order_id}", headers=task.auth("crm"))
        return {"order": found.json() if found.status_code == 200 else None}

    def refund(state: RefundState) -> RefundState:
        order = state["order"]
        assert order is not None
        amount = refund_amount(state["message"], order)
        response = http.post(
            f"{task.urls['payments']}/v1/refunds",
            data={"charge": order["charge_id"], "amount": amount},
            headers={**task.auth("payments"), "Idempotency-Key": key_for(order, amount)},
        )
        response.raise_for_status()  # a 5xx is retried by the policy, a 4xx is not
        made: JSON = response.json()
        return {"refund": made}

    def found(state: RefundState) -> str:
        return "refund" if state.get("order") else graph_module.END

    graph = graph_module.StateGraph(RefundState)
    graph.add_node("lookup", lookup)
    # LangGraph's defaults: 3 attempts, backoff from 0.5 s with jitter, retry_on that
    # retries httpx timeouts (and 5xx HTTPStatusErrors).
    graph.add_node("refund", refund, retry_policy=RetryPolicy())
    graph.add_edge(graph_module.START, "lookup")
    graph.add_conditional_edges("lookup", found, ["refund", graph_module.END])
    graph.add_edge("refund", graph_module.END)
    compiled: CompiledStateGraph[Any, Any, Any, Any] = graph.compile()
    return compiled


def _run(task: Task, key_for: KeyFor) -> RefundState:
    final = build_graph(task, key_for).invoke(RefundState(message=task.message))
    return cast(RefundState, final)  # invoke() is typed as a plain dict


def naive(task: Task) -> Reply:
    """A fresh idempotency key per node run: LangGraph's retry makes each attempt a new refund."""
    try:
        state = _run(task, lambda order, amount: str(uuid.uuid4()))
    except httpx.HTTPError as error:
        return reply(f"Sorry, the refund failed: {error}.", "refund", "failed")
    return _done(state)


def hardened(task: Task) -> Reply:
    """The key names the intent (charge, amount), so every retry is the same refund."""
    try:
        state = _run(task, lambda order, amount: f"refund-{order['charge_id']}-{amount}")
    except httpx.TransportError:
        return reply(
            "I could not confirm the refund (the payment service did not answer); it may have "
            "gone through, so I have passed it to a colleague to check.",
            "refund",
            "escalated",
        )
    except httpx.HTTPStatusError as error:
        return reply(
            f"Sorry, no refund was made: HTTP {error.response.status_code}.", "refund", "failed"
        )
    return _done(state)


def _done(state: RefundState) -> Reply:
    if not state.get("order"):
        return reply(NO_ORDER, "refund", "failed")
    made = state["refund"]["id"]
    return reply(f"Refund {made} submitted.", "refund", "done", made)
