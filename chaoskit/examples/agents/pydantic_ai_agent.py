"""A refund bot on pydantic-ai: the model's word against the tools' results.

A pydantic-ai :class:`~pydantic_ai.Agent` on OpenAI chat completions (inside a world, the fake
OpenAI model plays a scripted conversation), with two tools over plain httpx: ``get_order``
(CRM) and ``refund`` (payments, a stable idempotency key per charge and amount). A tool that
fails returns ``{"error": …}`` for the model to read instead of raising, as pydantic-ai's docs
suggest for errors the model should handle.

``naive`` returns the model's final text as its reply. When the model says "Done." without
having called ``refund``, the customer is told the refund was made (``no_unreported_failure``);
when the refund committed but its response timed out, the model reads the tool's error as a
failure and the customer is told no refund was made (``no_denied_success``), an invitation to
ask again. ``hardened`` records every refund call's outcome in the run's dependencies and builds
its claim from those, quoting the model only for the wording: done with the refund's id, failed
when the payments API refused, escalated when the call timed out and may have gone through.
When the model provider itself gives up (a storm of 429s outlasts the SDK's retries and
pydantic-ai raises :class:`~pydantic_ai.exceptions.ModelAPIError`), ``naive`` crashes while
``hardened`` still answers from what its tools did, in its own words.

Needs the ``pydantic-ai`` extra: ``pip install 'chaoskit[pydantic-ai]'``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from chaoskit import Reply, Task
from chaoskit.examples.agents.toolkit import JSON, reply

if TYPE_CHECKING:
    from pydantic_ai import Agent

__all__ = ["INSTRUCTIONS", "MODEL", "RefundDeps", "build_agent", "hardened", "naive"]

MODEL = "gpt-4o-mini"
INSTRUCTIONS = (
    "You are a support agent for an online shop. Look the order up with get_order, refund its "
    "charge with refund when the customer asks, and tell the customer what happened."
)


@dataclass
class RefundDeps:
    """What the tools need, and what they did (the hardened agent's source of truth)."""

    task: Task
    #: One entry per refund call: the refund object, or ``{"error": …}``.
    refunds: list[JSON] = field(default_factory=list)
    timed_out: bool = False


def _pydantic_ai() -> Any:
    try:
        import pydantic_ai
    except ImportError as missing:
        raise ImportError(
            "chaoskit: the pydantic-ai example agents need pydantic-ai, which is not "
            "installed. Install the extra: pip install 'chaoskit[pydantic-ai]'."
        ) from missing
    return pydantic_ai


def build_agent(deps: RefundDeps) -> Agent[None, str]:
    """The pydantic-ai agent for one task: its model at ``urls['openai']``, two tools."""
    pydantic_ai = _pydantic_ai()
    from openai import AsyncOpenAI
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    task = deps.task
    client = AsyncOpenAI(
        base_url=f"{task.urls['openai']}/v1", api_key=task.credentials.get("openai", "sk-test")
    )
    model = OpenAIChatModel(MODEL, provider=OpenAIProvider(openai_client=client))
    agent: Agent[None, str] = pydantic_ai.Agent(model, instructions=INSTRUCTIONS)

    @agent.tool_plain
    async def get_order(order_id: str) -> JSON:
        """Look up an order by its id (ord_…): amount, currency, status and charge_id."""
        return await _get_order(task, order_id)

    @agent.tool_plain
    async def refund(charge_id: str, amount: int) -> JSON:
        """Refund ``amount`` (in cents) of charge ``charge_id`` (ch_…)."""
        outcome = await _refund(deps, charge_id, amount)
        deps.refunds.append(outcome)
        return outcome

    return agent


async def _get_order(task: Task, order_id: str) -> JSON:
    try:
        found = await task.clients.async_httpx.get(
            f"{task.urls['crm']}/v1/orders/{order_id}", headers=task.auth("crm")
        )
    except httpx.TransportError as error:
        return {"error": f"the CRM did not answer ({type(error).__name__})"}
    order: JSON = found.json()
    return order


async def _refund(deps: RefundDeps, charge_id: str, amount: int) -> JSON:
    task = deps.task
    try:
        response = await task.clients.async_httpx.post(
            f"{task.urls['payments']}/v1/refunds",
            data={"charge": charge_id, "amount": amount},
            headers={**task.auth("payments"), "Idempotency-Key": f"refund-{charge_id}-{amount}"},
        )
    except httpx.TimeoutException:
        deps.timed_out = True
        return {"error": "the payment service timed out; the refund may have gone through"}
    except httpx.TransportError as error:
        return {"error": f"the payment service did not answer ({type(error).__name__})"}
    made: JSON = response.json()
    return made


async def _run(task: Task) -> tuple[str, RefundDeps]:
    deps = RefundDeps(task)
    result = await build_agent(deps).run(task.message)
    return result.output, deps


async def naive(task: Task) -> str:
    """Tells the customer whatever the model wrote last."""
    output, _ = await _run(task)
    return output


async def hardened(task: Task) -> Reply:
    """Claims only what the refund tool saw; the model's text is kept for the wording."""
    from pydantic_ai.exceptions import ModelAPIError

    deps = RefundDeps(task)
    try:
        output = (await build_agent(deps).run(task.message)).output
    except ModelAPIError as error:
        # The provider gave up mid-run (its 429s outlasted the SDK's retries, say): there is
        # no model text to quote, but the tools' record still says what happened.
        return _without_model(deps, error)
    return _claim(deps, output)


def _without_model(deps: RefundDeps, error: Exception) -> Reply:
    made = [r for r in deps.refunds if "error" not in r]
    if made:
        refund_id = str(made[-1]["id"])
        return reply(f"Refund {refund_id} submitted.", "refund", "done", refund_id)
    if deps.timed_out:
        return _escalated()
    return reply(
        f"Sorry, no refund was made: the assistant's model is unavailable "
        f"({type(error).__name__}). Please try again later.",
        "refund",
        "failed",
    )


def _claim(deps: RefundDeps, output: str) -> Reply:
    made = [r for r in deps.refunds if "error" not in r]
    if made:
        return reply(output, "refund", "done", str(made[-1]["id"]))
    if deps.timed_out:
        return _escalated()
    why = deps.refunds[-1]["error"] if deps.refunds else "it was never attempted"
    return reply(f"Sorry, no refund was made: {_message(why)}.", "refund", "failed")


def _escalated() -> Reply:
    return reply(
        "I could not confirm the refund (the payment service did not answer); it may have "
        "gone through, so I have passed it to a colleague to check.",
        "refund",
        "escalated",
    )


def _message(error: Any) -> str:
    if isinstance(error, dict):  # the payments API's error envelope
        return str(error.get("message", error))
    return str(error)
