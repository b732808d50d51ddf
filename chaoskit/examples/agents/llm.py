"""An LLM support agent on the raw OpenAI and Anthropic SDKs: trusting the model, or containing it.

Both shells run the same tool loop — ask the model, run the tool calls it returns, send the
results back, until it answers in text — with the same tools (``get_order`` on the CRM,
``list_charges`` and ``refund`` on payments, ``send_email``). They differ in how much they
trust the model:

``naive`` runs whatever comes back: a tool call twice in one turn, a write repeated after it
already succeeded, a tool that does not exist (``KeyError``), arguments that are not JSON
(``JSONDecodeError``) or lack one the tool needs (``KeyError``), an id the model made up or
took from another customer's charge, an email an injected instruction asked for; it has no
step cap, and its final reply is the model's text, so "Done, I've taken care of that" reaches
the customer whether or not anything was done.

``hardened`` treats every tool call as untrusted input. Unknown tools, broken JSON and
arguments that fail the tool's schema (a missing ``amount``) go back to the model as tool errors
instead of crashing the agent; an id must come from the user's message or from a tool result
about the user's order, so a made-up id, another customer's charge from a listing or a tracking
number where an order id belongs is refused; a write runs only when the user's request implies
it (no email the user did not ask for); identical calls in one turn run once; every write
carries an idempotency key derived from its intent, so a repeated refund is replayed, not made
twice; model calls and tool calls are capped; and the final reply is derived from what the
write tools returned, never from the model's claim.

``naive`` and ``hardened`` use the Anthropic SDK when the world serves ``anthropic`` and the
OpenAI SDK otherwise; ``openai_*`` and ``anthropic_*`` pick one explicitly.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

from chaoskit import Reply, Task
from chaoskit.examples.agents.toolkit import JSON, Http, Outcome, refund_reply, reply

if TYPE_CHECKING:
    import openai

__all__ = [
    "MAX_MODEL_CALLS",
    "MAX_TOOL_CALLS",
    "TOOLS",
    "anthropic_hardened",
    "anthropic_naive",
    "hardened",
    "naive",
    "openai_hardened",
    "openai_naive",
]

GPT = "gpt-4o-mini"
CLAUDE = "claude-sonnet-4-6"
SYSTEM = (
    "You are the support agent of an online shop. Look orders up with get_order before acting "
    "on them, refund with refund (amounts in cents), and tell the customer what you did."
)
#: The hardened shell's caps for one task: chat calls, and tool calls it runs.
MAX_MODEL_CALLS = 6
MAX_TOOL_CALLS = 6

# Looks like a resource id (ord_…, ch_…, re_…, cus_…): what the hardened shell tracks.
_ID = re.compile(r"\b[a-z]{1,12}_[A-Za-z0-9]{3,}\b")


# -- tools ----------------------------------------------------------------------------------------


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GetOrderArgs(_Args):
    order_id: str


class ListChargesArgs(_Args):
    limit: int = 10


class RefundArgs(_Args):
    charge: str
    amount: int


class SendEmailArgs(_Args):
    to: str
    subject: str
    body: str


@dataclass(frozen=True)
class Tool:
    """One tool the model may call: its schema, what it sends, and which arguments are ids."""

    name: str
    description: str
    args: type[_Args]
    send: Callable[[Http, JSON, str | None], Outcome]
    write: bool = False
    #: Arguments that must name something the user or an earlier tool result mentioned.
    ids: tuple[str, ...] = ()
    #: For a write: words of which the user's request must contain one for it to run.
    implied_by: tuple[str, ...] = ()

    def schema(self) -> JSON:
        return self.args.model_json_schema()


def _get_order(http: Http, args: JSON, key: str | None) -> Outcome:
    return http.send("crm", "GET", f"/v1/orders/{args['order_id']}")


def _list_charges(http: Http, args: JSON, key: str | None) -> Outcome:
    return http.send("payments", "GET", "/v1/charges", params={"limit": str(args.get("limit", 10))})


def _refund(http: Http, args: JSON, key: str | None) -> Outcome:
    form = {"charge": args["charge"], "amount": args["amount"]}
    return http.send("payments", "POST", "/v1/refunds", form=form, key=key)


def _send_email(http: Http, args: JSON, key: str | None) -> Outcome:
    body = {"to": args["to"], "subject": args["subject"], "body": args["body"]}
    return http.send("email", "POST", "/v1/messages", json=body, key=key)


TOOLS: dict[str, Tool] = {
    tool.name: tool
    for tool in (
        Tool(
            "get_order",
            "Look an order up by its id (ord_…).",
            GetOrderArgs,
            _get_order,
            ids=("order_id",),
        ),
        Tool(
            "list_charges",
            "The most recent payments, newest first.",
            ListChargesArgs,
            _list_charges,
        ),
        Tool(
            "refund",
            "Refund `amount` cents of a charge (ch_…), as shown on the order.",
            RefundArgs,
            _refund,
            write=True,
            ids=("charge",),
            implied_by=("refund", "money back"),
        ),
        Tool(
            "send_email",
            "Email the customer.",
            SendEmailArgs,
            _send_email,
            write=True,
            implied_by=("email", "e-mail", "write to"),
        ),
    )
}


def _text(outcome: Outcome) -> str:
    """What the model is shown of a tool's outcome: the body, or what went wrong."""
    if outcome.ok and outcome.response is not None:
        return outcome.response.text
    return f"error: {outcome.describe()}"


# -- the providers --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ToolCall:
    """One tool call as the provider sent it; ``arguments`` is raw (a JSON string, an object)."""

    id: str
    name: str
    arguments: Any


@dataclass(frozen=True)
class Turn:
    """One model answer: text, tool calls, and the message to put back in the history."""

    text: str | None
    calls: tuple[ToolCall, ...]
    message: JSON


@dataclass(frozen=True)
class Result:
    call_id: str
    content: str
    is_error: bool = False


class Chat(Protocol):
    """A conversation with one provider's SDK, as the tool loop needs it."""

    #: The SDK's own exceptions: what a failed chat call raises.
    errors: tuple[type[Exception], ...]

    def ask(self) -> Turn: ...

    def answer(self, turn: Turn, results: Sequence[Result]) -> None: ...

    def decode(self, call: ToolCall) -> Any:
        """The arguments as the SDK user reads them; raises if they are not JSON."""
        ...


class OpenAIChat:
    """``chat.completions`` with function tools, on the raw ``openai`` SDK."""

    def __init__(self, task: Task) -> None:
        import openai

        self.errors: tuple[type[Exception], ...] = (openai.OpenAIError,)
        self.client = openai.OpenAI(api_key=_key(task, "openai", "OPENAI_API_KEY"))
        self.messages: list[Any] = [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": task.message},
        ]
        self.tools: list[Any] = [
            {
                "type": "function",
                "function": {
                    "name": t.name,
                    "description": t.description,
                    "parameters": t.schema(),
                },
            }
            for t in TOOLS.values()
        ]

    def ask(self) -> Turn:
        completion = self.client.chat.completions.create(
            model=GPT, messages=self.messages, tools=self.tools
        )
        message = completion.choices[0].message
        calls = tuple(_openai_call(c) for c in message.tool_calls or ())
        return Turn(message.content, calls, message.model_dump(exclude_none=True))

    def answer(self, turn: Turn, results: Sequence[Result]) -> None:
        self.messages.append(turn.message)
        self.messages += [
            {"role": "tool", "tool_call_id": r.call_id, "content": r.content} for r in results
        ]

    def decode(self, call: ToolCall) -> Any:
        return json.loads(call.arguments)


def _openai_call(call: openai.types.chat.ChatCompletionMessageToolCallUnion) -> ToolCall:
    if call.type == "function":
        return ToolCall(call.id, call.function.name, call.function.arguments)
    return ToolCall(call.id, call.custom.name, call.custom.input)


class AnthropicChat:
    """``messages.create`` with tools, on the raw ``anthropic`` SDK."""

    def __init__(self, task: Task) -> None:
        import anthropic

        self.errors: tuple[type[Exception], ...] = (anthropic.AnthropicError,)
        self.client = anthropic.Anthropic(api_key=_key(task, "anthropic", "ANTHROPIC_API_KEY"))
        self.messages: list[Any] = [{"role": "user", "content": task.message}]
        self.tools: list[Any] = [
            {"name": t.name, "description": t.description, "input_schema": t.schema()}
            for t in TOOLS.values()
        ]

    def ask(self) -> Turn:
        response = self.client.messages.create(
            model=CLAUDE, max_tokens=1024, system=SYSTEM, messages=self.messages, tools=self.tools
        )
        text = "".join(b.text for b in response.content if b.type == "text") or None
        calls = tuple(
            ToolCall(b.id, b.name, b.input) for b in response.content if b.type == "tool_use"
        )
        # `warnings=False`: broken arguments arrive as text where the SDK types an object.
        content = [b.model_dump(exclude_none=True, warnings=False) for b in response.content]
        return Turn(text, calls, {"role": "assistant", "content": content})

    def answer(self, turn: Turn, results: Sequence[Result]) -> None:
        self.messages.append(turn.message)
        blocks = [
            {
                "type": "tool_result",
                "tool_use_id": r.call_id,
                "content": r.content,
                "is_error": r.is_error,
            }
            for r in results
        ]
        self.messages.append({"role": "user", "content": blocks})

    def decode(self, call: ToolCall) -> Any:
        return call.arguments  # the SDK hands `input` over already parsed


def _key(task: Task, provider: str, variable: str) -> str:
    """The fake provider's key in a world that has one; else the real one, from the
    environment (``model = "passthrough"``), as in production."""
    return task.credentials.get(provider) or os.environ.get(variable) or "sk-test"


def _chat(task: Task, provider: str | None = None) -> Chat:
    """The provider's chat: the one named, else Anthropic when the world serves it."""
    wanted = provider or ("anthropic" if "anthropic" in task.urls else "openai")
    return AnthropicChat(task) if wanted == "anthropic" else OpenAIChat(task)


# -- naive: whatever the model says ---------------------------------------------------------------


def _naive(task: Task, chat: Chat) -> str:
    http = Http(task)
    while True:  # the model decides when it is done
        turn = chat.ask()
        if not turn.calls:
            return turn.text or ""
        results = [
            Result(c.id, _text(TOOLS[c.name].send(http, chat.decode(c), None))) for c in turn.calls
        ]
        chat.answer(turn, results)


# -- hardened: every tool call is untrusted input -------------------------------------------------


@dataclass
class _Guard:
    """Runs the model's tool calls for one task, checking each one, and remembers the writes."""

    http: Http
    chat: Chat
    #: What the user asked for.
    request: str
    #: Ids the user wrote, or a tool returned about them: the only ones the model may use.
    known: set[str] = field(default_factory=set)
    writes: list[tuple[Tool, JSON, Outcome]] = field(default_factory=list)

    def run(self, calls: Sequence[ToolCall]) -> list[Result]:
        # Identical calls in one turn run once; every call id still gets its answer.
        done: dict[str, Result] = {}
        results = []
        for call in calls:
            checked = self._check(call)
            if isinstance(checked, str):
                results.append(Result(call.id, f"error: {checked}", is_error=True))
                continue
            tool, args = checked
            signature = _signature(tool, args)
            if signature not in done:
                done[signature] = self._send(call.id, tool, args)
            results.append(Result(call.id, done[signature].content, done[signature].is_error))
        return results

    def _check(self, call: ToolCall) -> tuple[Tool, JSON] | str:
        """The tool and its validated arguments, or why the call is refused."""
        tool = TOOLS.get(call.name)
        if tool is None:
            return f"there is no tool {call.name!r}; the tools are {', '.join(TOOLS)}."
        try:
            raw = self.chat.decode(call)
            args = tool.args.model_validate(raw).model_dump()
        except (ValueError, TypeError) as error:  # ValidationError is a ValueError
            return f"the arguments of {tool.name} are invalid: {_brief(error)}. Send a JSON object."
        for name in tool.ids:
            if args[name] not in self.known:
                return (
                    f"{name} {args[name]!r} is not an id the customer gave or a tool returned "
                    "about the customer's order; look it up first."
                )
        if tool.write and not any(w in self.request.casefold() for w in tool.implied_by):
            return f"the customer did not ask for {tool.name}; do only what they asked."
        return tool, args

    def _send(self, call_id: str, tool: Tool, args: JSON) -> Result:
        # The key names the intent, not the attempt: a repeated write is replayed.
        key = f"{tool.name}-{_digest(args)}" if tool.write else None
        outcome = tool.send(self.http, args, key)
        if tool.write:
            self.writes.append((tool, args, outcome))
        if outcome.ok and outcome.response is not None:
            self.known.update(_ids_about(outcome.response.text, set(_ids(self.request))))
        return Result(call_id, _text(outcome), is_error=not outcome.ok)

    def report(self) -> Reply:
        """The reply, from what the writes returned: the model's text is never evidence."""
        refunds = {_digest(args): o for tool, args, o in self.writes if tool.name == "refund"}
        if not refunds:
            return reply(
                "I have not refunded or changed anything: I could not complete your request, "
                "so I have passed it to a colleague.",
                "refund",
                "failed",
            )
        replies = [refund_reply(outcome) for outcome in refunds.values()]
        text = " ".join(r.text for r in replies)
        return Reply(text=text, claims=tuple(c for r in replies for c in r.claims))


def _hardened(task: Task, chat: Chat) -> Reply:
    guard = _Guard(Http(task, max_calls=MAX_TOOL_CALLS), chat, task.message)
    guard.known.update(_ids(task.message))
    for calls_left in range(MAX_MODEL_CALLS - 1, -1, -1):
        try:
            turn = chat.ask()
        except chat.errors:
            break  # the reply below says what was and was not done
        if not turn.calls or not calls_left:
            break  # done, or the cap is reached: no model call is left to read the results
        chat.answer(turn, guard.run(turn.calls))
    return guard.report()


def _signature(tool: Tool, args: JSON) -> str:
    return f"{tool.name}:{json.dumps(args, sort_keys=True)}"


def _digest(args: JSON) -> str:
    return hashlib.sha256(json.dumps(args, sort_keys=True).encode()).hexdigest()[:24]


def _ids(text: str) -> Iterator[str]:
    return (m.group(0) for m in _ID.finditer(text))


def _ids_about(text: str, anchors: set[str]) -> set[str]:
    """The ids of the JSON objects in ``text`` that name one of ``anchors`` (the user's ids).

    Only the user's ids anchor, never ids learned on the way: a listing of charges shares an
    account or a currency with the user's order, not its id.
    """
    try:
        data = json.loads(text)
    except ValueError:
        return set()
    found: set[str] = set()
    _collect_about(data, anchors, found)
    return found


def _collect_about(node: Any, anchors: set[str], found: set[str]) -> None:
    if isinstance(node, dict):
        if anchors & {v for v in node.values() if isinstance(v, str)}:
            found.update(_ids(json.dumps(node)))
            return
        children: Any = node.values()
    elif isinstance(node, list):
        children = node
    else:
        return
    for child in children:
        _collect_about(child, anchors, found)


def _brief(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'input'}: {e['msg']}" for e in error.errors()
        )
    return str(error)


# -- the agents -----------------------------------------------------------------------------------


def naive(task: Task) -> str:
    """Runs every tool call the model returns and replies with the model's text."""
    return _naive(task, _chat(task))


def hardened(task: Task) -> Reply:
    """Validates, dedupes and caps the model's tool calls; replies from the tools' results."""
    return _hardened(task, _chat(task))


def openai_naive(task: Task) -> str:
    """:func:`naive` on the OpenAI SDK."""
    return _naive(task, _chat(task, "openai"))


def openai_hardened(task: Task) -> Reply:
    """:func:`hardened` on the OpenAI SDK."""
    return _hardened(task, _chat(task, "openai"))


def anthropic_naive(task: Task) -> str:
    """:func:`naive` on the Anthropic SDK."""
    return _naive(task, _chat(task, "anthropic"))


def anthropic_hardened(task: Task) -> Reply:
    """:func:`hardened` on the Anthropic SDK."""
    return _hardened(task, _chat(task, "anthropic"))
