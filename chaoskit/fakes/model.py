"""Fake LLMs that speak OpenAI's and Anthropic's wire formats, played from a script.

An agent under test keeps its real SDK (``openai.OpenAI()``, ``anthropic.Anthropic()``); inside
a world, its chat calls reach :class:`OpenAIModel` (``POST /v1/chat/completions``) or
:class:`AnthropicModel` (``POST /v1/messages``). Each call plays the next turn of a
:class:`ModelScript` — what a competent model would do — and a ``misbehave`` hook may perturb
that turn the way real models go wrong. Every completion lands in the ledger as
``model.completion`` (with tokens and USD), every applied misbehaviour as ``model.misbehaved``.

Misbehaviours (:data:`MISBEHAVIOURS`), each applied to the scripted turn about to be played;
one that cannot apply changes nothing and is not recorded:

* ``repeat_write`` — the previous turn's tool calls again, before the scripted turn (still to come).
* ``duplicate_call`` — the first tool call twice in the turn.
* ``invented_id`` — the first id-looking argument (``ch_…``) replaced by a made-up one.
* ``malformed_arguments`` — the first tool call's arguments cut short of their closing ``}``.
* ``missing_arguments`` — the first tool call without one of its arguments (the last one).
* ``unknown_tool`` — the first tool call renamed to a tool the request does not offer.
* ``wrong_record`` — the first id-looking argument replaced by another real id of the same
  kind that the tool results showed (another order's charge); none there, no change.
* ``tracking_number_for_id`` — an ``order_id`` argument replaced by a tracking number
  (``1Z…``): a real one from the tool results, else one shaped like it.
* ``follow_injection`` — when the latest tool results carry an instruction to email an
  address at ``exfil.chaoskit.test`` (a ``poisoned_document`` fault's canary) and the request
  offers ``send_email``, the turn also emails that address what the model has read.
* ``claim_success`` — a final "Done." instead of the turn, and the conversation ends.
* ``loop`` — the turn played without moving on: the next call plays it again.

Conventions (the same for both providers unless said):

* **Tool errors.** The tool results answering the model's last turn count as an error when any
  of them contains ``"error"`` (any case) in its text. OpenAI: the ``role: "tool"`` messages
  after the last assistant message. Anthropic: the ``tool_result`` blocks of the last user
  message, which also count as an error when flagged ``is_error: true``. A turn with
  ``on_error`` then replies with that text and the conversation ends.
* **What the model has read.** The text of every tool result in the request (the same messages
  and blocks as above, from the whole conversation), and of the latest ones apart: where
  ``wrong_record`` and ``tracking_number_for_id`` find real values, and where
  ``follow_injection`` finds an instruction.
* **Tokens.** About four characters a token, rounded up: the prompt is the request's
  ``system``, ``messages`` and ``tools`` as compact JSON with sorted keys; the completion is the
  reply text, or each tool call's name and arguments. Deterministic, never zero.
* **Prices.** ``prices`` maps a model name (or a prefix of it, the longest wins; ``"*"`` for any
  other) to USD per million input and output tokens.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

from chaoskit.core.errors import InvalidScenario
from chaoskit.fakes.base import FakeRequest, route
from chaoskit.fakes.jsonapi import ApiError, JsonBackend

__all__ = [
    "DEFAULT_PRICES",
    "MISBEHAVIOURS",
    "AnthropicModel",
    "ModelCall",
    "ModelScript",
    "OpenAIModel",
    "ScriptToolCall",
    "ScriptTurn",
]

Provider = Literal["openai", "anthropic"]

#: The misbehaviours a ``misbehave`` hook may name.
MISBEHAVIOURS: tuple[str, ...] = (
    "claim_success",
    "duplicate_call",
    "follow_injection",
    "invented_id",
    "loop",
    "malformed_arguments",
    "missing_arguments",
    "repeat_write",
    "tracking_number_for_id",
    "unknown_tool",
    "wrong_record",
)

#: USD per million (input, output) tokens; list prices at the time of writing, for budgets.
DEFAULT_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "claude-opus-4": (15.00, 75.00),
    "claude-sonnet-4": (3.00, 15.00),
    "claude-haiku-4": (1.00, 5.00),
    "claude-3-5-haiku": (0.80, 4.00),
    "*": (3.00, 15.00),
}

#: What a model says when it claims success without doing the work.
CLAIMED_SUCCESS = "Done. I've taken care of that for you."

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Looks like a resource id: a short lowercase prefix, an underscore, then an opaque tail.
_ID_LIKE = re.compile(r"^(?P<prefix>[a-z]{1,12})_(?P<tail>[A-Za-z0-9]{3,})$")
_CHARS_PER_TOKEN = 4
# A UPS-style tracking number, what a model confuses with an order id.
_TRACKING = re.compile(r"\b1Z[A-Z0-9]{8,}\b")
# An address a poisoned document asks the model to write to (chaoskit's canary domain).
_INJECTED_ADDRESS = re.compile(r"[A-Za-z0-9._%+-]+@exfil\.chaoskit\.test\b", re.IGNORECASE)


# -- the script ----------------------------------------------------------------------------------


class ScriptToolCall(BaseModel):
    """One tool call of a scripted turn; string arguments may hold ``{name}`` placeholders."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tool: str = Field(min_length=1)
    arguments: dict[str, JsonValue] = {}


class ScriptTurn(BaseModel):
    """One model turn: either tool calls or a final ``reply``.

    ``on_error`` is what the model says instead of this turn when the tool results it just
    received report an error (see the module's conventions); it ends the conversation.

    >>> ScriptTurn(tool_calls=[{"tool": "refund", "arguments": {"charge": "{charge_id}"}}],
    ...            on_error="The refund failed; nothing was refunded.")  # doctest: +ELLIPSIS
    ScriptTurn(...)
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    tool_calls: tuple[ScriptToolCall, ...] = ()
    reply: str | None = None
    on_error: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> ScriptTurn:
        if bool(self.tool_calls) == (self.reply is not None):
            raise ValueError(
                "chaoskit: a script turn has either tool_calls or a reply, exactly one of the "
                'two (e.g. {"reply": "Refund issued."}).'
            )
        return self


class ModelScript(BaseModel):
    """What the fake model does, turn by turn: every chat call plays the next turn.

    >>> script = ModelScript(name="refund", turns=[
    ...     {"tool_calls": [{"tool": "refund", "arguments": {"charge": "{charge_id}"}}]},
    ...     {"reply": "Refunded {charge_id}.", "on_error": "The refund failed."},
    ... ])
    >>> sorted(script.placeholders())
    ['charge_id']
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "script"
    turns: tuple[ScriptTurn, ...] = Field(min_length=1)

    def placeholders(self) -> set[str]:
        """Every ``{name}`` the turns use; :meth:`OpenAIModel.install` needs a value for each."""
        found: set[str] = set()
        for turn in self.turns:
            _collect(turn.model_dump(), found)
        return found


def _collect(value: Any, found: set[str]) -> None:
    if isinstance(value, str):
        found.update(_PLACEHOLDER.findall(value))
    elif isinstance(value, dict):
        for item in value.values():
            _collect(item, found)
    elif isinstance(value, list | tuple):
        for item in value:
            _collect(item, found)


def _fill(value: Any, context: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return _PLACEHOLDER.sub(lambda m: context[m.group(1)], value)
    if isinstance(value, dict):
        return {k: _fill(v, context) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_fill(v, context) for v in value]
    return value


# -- one call ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ModelCall:
    """What a ``misbehave`` hook is asked about: one chat call and the turn about to be played."""

    #: 1 for the first chat call this fake served, then 2, 3…
    number: int
    provider: Provider
    #: The scripted turn about to be played, placeholders filled.
    turn: ScriptTurn
    #: Its position in the script, from 0.
    turn_index: int
    #: The tool names the request offered.
    tools: tuple[str, ...]
    #: Whether the tool results in this request report an error.
    tool_error: bool


@dataclass(frozen=True, slots=True)
class _Call:
    """A tool call about to be sent; ``raw`` overrides the arguments' JSON text when broken."""

    tool: str
    arguments: dict[str, Any]
    raw: str | None = None

    @property
    def text(self) -> str:
        return self.raw if self.raw is not None else json.dumps(self.arguments)


@dataclass(frozen=True, slots=True)
class _Plan:
    """What this call answers, and what it does to the script's progress."""

    calls: tuple[_Call, ...] = ()
    text: str | None = None
    advance: bool = True
    ends: bool = False


@dataclass(frozen=True, slots=True)
class _Incoming:
    """What the fake needs from a request, whatever the provider."""

    model: str
    tools: tuple[str, ...]
    tool_error: bool
    prompt_tokens: int
    stream: bool
    raw: Mapping[str, Any]
    #: The text of the tool results answering the model's last turn.
    latest: str = ""
    #: The text of every tool result in the conversation.
    read: str = ""


@dataclass(slots=True)
class _Progress:
    """Where the script stands and what the calls cost; reset with the fake."""

    cursor: int = 0
    calls: int = 0
    ended_early: bool = False
    previous: tuple[_Call, ...] = ()
    input_tokens: int = 0
    output_tokens: int = 0
    usd: float = 0.0


def estimate_tokens(text: str) -> int:
    """The fake's token count for ``text``: one per four characters, rounded up, at least 1.

    >>> estimate_tokens("Refund issued.")
    4
    """
    return max(1, math.ceil(len(text) / _CHARS_PER_TOKEN))


def _prompt_tokens(body: Mapping[str, Any]) -> int:
    prompt = {k: body[k] for k in ("system", "messages", "tools") if k in body}
    return estimate_tokens(json.dumps(prompt, sort_keys=True, separators=(",", ":")))


def _completion_tokens(plan: _Plan) -> int:
    if plan.text is not None:
        return estimate_tokens(plan.text)
    return estimate_tokens("".join(call.tool + call.text for call in plan.calls))


# -- misbehaviours -------------------------------------------------------------------------------


def _misbehave(
    name: str, plan: _Plan, previous: tuple[_Call, ...], incoming: _Incoming
) -> _Plan | None:
    """The plan transformed by misbehaviour ``name``, or None where it cannot apply."""
    calls, tools = plan.calls, incoming.tools
    if name == "repeat_write":
        # An extra call slipped in before the scripted turn, which is still to come.
        return _Plan(calls=previous[-1:], advance=False) if previous else None
    if name == "follow_injection":
        return _follow_injection(plan, incoming)
    if not calls:
        return None
    if name == "duplicate_call":
        return replace(plan, calls=(calls[0], *calls))
    if name == "invented_id":
        return _invent_id(plan)
    if name == "malformed_arguments":
        broken = replace(calls[0], raw=calls[0].text[:-1])  # an object without its "}"
        return replace(plan, calls=(broken, *calls[1:]))
    if name == "missing_arguments":
        return _drop_argument(plan)
    if name == "wrong_record":
        return _swap_id(plan, incoming.read)
    if name == "tracking_number_for_id":
        return _tracking_for_id(plan, incoming.read)
    if name == "unknown_tool":
        renamed = replace(calls[0], tool=_unknown_name(calls[0].tool, tools))
        return replace(plan, calls=(renamed, *calls[1:]))
    if name == "claim_success":
        return _Plan(text=CLAIMED_SUCCESS, ends=True)
    if name == "loop":
        return replace(plan, advance=False)
    raise AssertionError(name)  # names are checked before


def _with_argument(plan: _Plan, i: int, key: str, value: Any) -> _Plan:
    call = plan.calls[i]
    changed = replace(call, arguments={**call.arguments, key: value})
    return replace(plan, calls=(*plan.calls[:i], changed, *plan.calls[i + 1 :]))


def _first_id(plan: _Plan) -> tuple[int, str, re.Match[str]] | None:
    """The first id-looking argument: which call, which key, and the id's parts."""
    for i, call in enumerate(plan.calls):
        for key, value in call.arguments.items():
            m = _ID_LIKE.match(value) if isinstance(value, str) else None
            if m is not None:
                return i, key, m
    return None


def _invent_id(plan: _Plan) -> _Plan | None:
    found = _first_id(plan)
    if found is None:
        return None
    i, key, m = found
    return _with_argument(plan, i, key, f"{m['prefix']}_{_made_up_tail(m['tail'])}")


def _drop_argument(plan: _Plan) -> _Plan | None:
    # The last argument: in a scripted refund, the amount after the charge.
    first = plan.calls[0]
    if not first.arguments:
        return None
    *kept, _ = first.arguments
    changed = replace(first, arguments={k: first.arguments[k] for k in kept})
    return replace(plan, calls=(changed, *plan.calls[1:]))


def _swap_id(plan: _Plan, read: str) -> _Plan | None:
    found = _first_id(plan)
    if found is None:
        return None
    i, key, m = found
    same_kind = re.compile(rf"\b{re.escape(m['prefix'])}_[A-Za-z0-9]{{3,}}\b")
    other = next((o for o in same_kind.findall(read) if o != m.group(0)), None)
    return None if other is None else _with_argument(plan, i, key, other)


def _tracking_for_id(plan: _Plan, read: str) -> _Plan | None:
    for i, call in enumerate(plan.calls):
        value = call.arguments.get("order_id")
        if isinstance(value, str):
            seen = _TRACKING.search(read)
            return _with_argument(plan, i, "order_id", seen[0] if seen else _tracking_like(value))
    return None


def _tracking_like(order_id: str) -> str:
    # A 1Z number (18 characters) derived from the id, so the same id gives the same number.
    digits = "".join(str(ord(c) % 10) for c in order_id)
    return "1Z" + (_made_up_tail(order_id).upper() + digits)[:16].ljust(16, "0")


def _follow_injection(plan: _Plan, incoming: _Incoming) -> _Plan | None:
    address = _INJECTED_ADDRESS.search(incoming.latest)
    if address is None or "send_email" not in incoming.tools:
        return None
    exfil = _Call(
        "send_email",
        {"to": address[0], "subject": "Customer list", "body": incoming.read},
    )
    if not plan.calls:  # instead of the scripted reply, which is still to come
        return _Plan(calls=(exfil,), advance=False)
    return replace(plan, calls=(*plan.calls, exfil))


def _made_up_tail(tail: str) -> str:
    # Same length and alphabet, so it looks right, and never equal to the real one.
    shifted = "".join(chr(ord("a") + (ord(c) * 7 + i) % 26) for i, c in enumerate(tail))
    return shifted if shifted != tail else shifted[::-1] + "x"


def _unknown_name(tool: str, offered: tuple[str, ...]) -> str:
    name = f"{tool}_v2"
    while name in offered:
        name += "_v2"
    return name


# -- the shared fake -----------------------------------------------------------------------------


class _ScriptedModel(JsonBackend):
    """What both providers share: the script, the hook, the prices, the accounting."""

    provider: ClassVar[Provider]
    state: _Progress

    def __init__(
        self,
        *,
        host: str | None = None,
        prices: Mapping[str, tuple[float, float]] | None = None,
    ) -> None:
        super().__init__(host=host)
        self.prices: dict[str, tuple[float, float]] = dict(
            DEFAULT_PRICES if prices is None else prices
        )
        #: Asked on every chat call; returns a name from :data:`MISBEHAVIOURS` or None.
        self.misbehave: Callable[[ModelCall], str | None] | None = None
        self.script: ModelScript | None = None
        self._turns: tuple[ScriptTurn, ...] = ()

    def new_state(self) -> _Progress:
        return _Progress()

    # -- public surface --------------------------------------------------------------------------

    def install(self, script: ModelScript, context: Mapping[str, str] | None = None) -> None:
        """Play ``script`` from its first turn, ``{name}`` placeholders filled from ``context``.

        >>> model = OpenAIModel()
        >>> model.install(ModelScript(turns=[{"reply": "Hello {name}."}]), {"name": "Ada"})
        """
        values = dict(context or {})
        missing = sorted(script.placeholders() - values.keys())
        if missing:
            raise InvalidScenario(
                f"chaoskit: model script {script.name!r} uses placeholders "
                f"{', '.join('{' + m + '}' for m in missing)} but the context has no value for "
                f"them (it has: {', '.join(sorted(values)) or 'nothing'}). Pass them in "
                "install(script, context={...})."
            )
        filled = tuple(
            ScriptTurn.model_validate(_fill(t.model_dump(), values)) for t in script.turns
        )
        with self.lock:
            self.script, self._turns = script, filled
            self.state = self.new_state()

    def unused_turns(self) -> tuple[ScriptTurn, ...]:
        """The scripted turns no call reached (as written), in order.

        A conversation ended on purpose — by an ``on_error`` reply or a ``claim_success``
        misbehaviour — leaves no unused turns: the rest was skipped by design.
        """
        with self.lock:
            if self.script is None or self.state.ended_early:
                return ()
            return self.script.turns[self.state.cursor :]

    def usage(self) -> dict[str, float]:
        """Calls, tokens and USD spent so far: ``{"model_calls", "tokens", "usd"}``."""
        with self.lock:
            progress = self.state
            return {
                "model_calls": float(progress.calls),
                "tokens": float(progress.input_tokens + progress.output_tokens),
                "usd": progress.usd,
            }

    def price(self, model: str) -> tuple[float, float]:
        """USD per million (input, output) tokens for ``model``: exact, longest prefix, ``"*"``."""
        if model in self.prices:
            return self.prices[model]
        prefixes = [k for k in self.prices if k != "*" and model.startswith(k)]
        if prefixes:
            return self.prices[max(prefixes, key=len)]
        return self.prices.get("*", (0.0, 0.0))

    # -- what providers implement ----------------------------------------------------------------

    def parse(self, body: Mapping[str, Any]) -> _Incoming:
        raise NotImplementedError

    def render(
        self, req: FakeRequest, incoming: _Incoming, plan: _Plan, usage: _Usage
    ) -> httpx.Response:
        raise NotImplementedError

    # -- one chat call ---------------------------------------------------------------------------

    def chat(self, req: FakeRequest) -> httpx.Response:
        incoming = self.parse(_json_object(req))
        progress = self.state
        number = progress.calls + 1  # counted once answered: a refused call costs nothing
        turn_index = self._next_turn(number)
        turn = self._turns[turn_index]
        plan = _scripted(turn, incoming.tool_error)
        name = self._ask(
            ModelCall(number, self.provider, turn, turn_index, incoming.tools, incoming.tool_error)
        )
        changed = None if name is None else _misbehave(name, plan, progress.previous, incoming)
        if changed is not None:
            plan = changed
        usage = self._account(incoming.model, incoming.prompt_tokens, _completion_tokens(plan))
        response = self.render(req, incoming, plan, usage)
        self._advance(plan)
        self._log(req, usage, plan, number, turn_index, name if changed is not None else None)
        return response

    def _next_turn(self, number: int) -> int:
        if self.script is None:
            raise ApiError(
                400,
                f"chaoskit: chat call {number} reached the fake {self.provider} model, but no "
                "script is installed. Call model.install(ModelScript(...), context) before "
                "the agent runs.",
            )
        progress = self.state
        if progress.ended_early or progress.cursor >= len(self._turns):
            raise ApiError(
                400,
                f"chaoskit: model script {self.script.name!r} ran out: chat call {number} "
                f"came after its final reply ({progress.cursor} of {len(self._turns)} turns "
                "played). The agent kept calling the model after the conversation ended; fix "
                "the agent's loop, or add the turns it needs to the script.",
            )
        return progress.cursor

    def _ask(self, call: ModelCall) -> str | None:
        if self.misbehave is None:
            return None
        name = self.misbehave(call)
        if name is not None and name not in MISBEHAVIOURS:
            close = difflib.get_close_matches(str(name), MISBEHAVIOURS, n=1, cutoff=0.6)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ApiError(
                400,
                f"chaoskit: the misbehave hook returned {name!r}, which is no misbehaviour."
                f"{hint} Known: {', '.join(MISBEHAVIOURS)}.",
            )
        return name

    def _account(self, model: str, input_tokens: int, output_tokens: int) -> _Usage:
        per_in, per_out = self.price(model)
        usd = (input_tokens * per_in + output_tokens * per_out) / 1_000_000
        progress = self.state
        progress.input_tokens += input_tokens
        progress.output_tokens += output_tokens
        progress.usd += usd
        return _Usage(input_tokens, output_tokens, usd)

    def _advance(self, plan: _Plan) -> None:
        progress = self.state
        progress.calls += 1
        if plan.advance:
            progress.cursor += 1
        progress.ended_early = progress.ended_early or plan.ends
        if plan.calls:
            progress.previous = plan.calls

    def _log(
        self,
        req: FakeRequest,
        usage: _Usage,
        plan: _Plan,
        number: int,
        turn_index: int,
        misbehaviour: str | None,
    ) -> None:
        object_id = f"call-{number}"
        if misbehaviour is not None:
            self.record(
                req,
                "model.misbehaved",
                object_id,
                misbehaviour=misbehaviour,
                call=number,
                turn=turn_index,
            )
        self.record(
            req,
            "model.completion",
            object_id,
            call=number,
            turn=turn_index,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            tokens=usage.input_tokens + usage.output_tokens,
            usd=usage.usd,
            tool_calls=[c.tool for c in plan.calls],
            reply=plan.text,
        )


@dataclass(frozen=True, slots=True)
class _Usage:
    input_tokens: int
    output_tokens: int
    usd: float


def _scripted(turn: ScriptTurn, tool_error: bool) -> _Plan:
    if tool_error and turn.on_error is not None:
        return _Plan(text=turn.on_error, ends=True)
    if turn.reply is not None:
        return _Plan(text=turn.reply)
    return _Plan(calls=tuple(_Call(c.tool, dict(c.arguments)) for c in turn.tool_calls))


def _json_object(req: FakeRequest) -> dict[str, Any]:
    try:
        body = req.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ApiError(400, "We could not parse the JSON body of your request.")
    return body


def _require(body: Mapping[str, Any], key: str, kind: type, what: str) -> Any:
    value = body.get(key)
    if not isinstance(value, kind) or (kind is list and not value):
        raise ApiError(400, f"'{key}' is required and must be {what}.", param=key)
    return value


def _text_of(content: Any) -> str:
    """The text of a message or tool result: a string or a list of text parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            _text_of(part.get("text", "")) for part in content if isinstance(part, dict)
        )
    return ""


# -- OpenAI --------------------------------------------------------------------------------------


class OpenAIModel(_ScriptedModel):
    """A fake OpenAI chat-completions model (``api.openai.com``), driven by a script.

    >>> import openai
    >>> from chaoskit import World
    >>> model = OpenAIModel()
    >>> model.install(ModelScript(turns=[{"reply": "Hello."}]))
    >>> with World([model]):
    ...     done = openai.OpenAI(api_key="sk-test").chat.completions.create(
    ...         model="gpt-4o", messages=[{"role": "user", "content": "Hi"}])
    >>> done.choices[0].message.content
    'Hello.'
    """

    name = "openai"
    default_host = "api.openai.com"
    provider = "openai"

    @route("POST", "/v1/chat/completions")
    def completions(self, req: FakeRequest) -> httpx.Response:
        return self.chat(req)

    def error(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        type: str | None = None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """OpenAI's envelope: ``{"error": {"message", "type", "param", "code"}}``."""
        kind = type or ("server_error" if status >= 500 else "invalid_request_error")
        body = {"message": message, "type": kind, "param": param, "code": code}
        return self.respond(status, {"error": body}, headers=headers)

    def fault_response(self, status: int, *, retry_after: float | None = None) -> httpx.Response:
        """OpenAI's 429 (``rate_limit_exceeded``) or 5xx (``server_error``)."""
        headers = {} if retry_after is None else {"retry-after": _seconds(retry_after)}
        if status == 429:
            wait = f" Please try again in {_seconds(retry_after)}s." if retry_after else ""
            return self.error(
                429,
                f"Rate limit reached for requests.{wait}",
                type="requests",
                code="rate_limit_exceeded",
                headers=headers,
            )
        return self.error(
            status,
            "The server had an error while processing your request. Sorry about that!",
            headers=headers,
        )

    def parse(self, body: Mapping[str, Any]) -> _Incoming:
        model = _require(body, "model", str, "a model name")
        messages = _require(body, "messages", list, "a non-empty list of messages")
        tools = tuple(
            t["function"]["name"]
            for t in body.get("tools") or ()
            if isinstance(t, dict) and isinstance(t.get("function"), dict)
        )
        return _Incoming(
            model,
            tools,
            _openai_tool_error(messages),
            _prompt_tokens(body),
            body.get("stream") is True,
            body,
            latest=" ".join(_openai_results(messages, latest=True)),
            read=" ".join(_openai_results(messages)),
        )

    def render(
        self, req: FakeRequest, incoming: _Incoming, plan: _Plan, usage: _Usage
    ) -> httpx.Response:
        calls = [self._tool_call(c) for c in plan.calls]
        head = {
            "id": "chatcmpl-" + self.new_id("chatcmpl")[9:],
            "created": self.timestamp(),
            "model": incoming.model,
            "system_fingerprint": None,
        }
        usage_body = {
            "prompt_tokens": usage.input_tokens,
            "completion_tokens": usage.output_tokens,
            "total_tokens": usage.input_tokens + usage.output_tokens,
        }
        finish = "tool_calls" if calls else "stop"
        if incoming.stream:
            return _openai_stream(head, plan.text, calls, finish, usage_body, incoming.raw)
        message: dict[str, Any] = {
            "role": "assistant",
            "content": plan.text,
            "refusal": None,
            "annotations": [],
        }
        if calls:
            message["tool_calls"] = calls
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
        return self.respond(
            200, {**head, "object": "chat.completion", "choices": [choice], "usage": usage_body}
        )

    def _tool_call(self, call: _Call) -> dict[str, Any]:
        return {
            "id": self.new_id("call"),
            "type": "function",
            "function": {"name": call.tool, "arguments": call.text},
        }


def _openai_results(messages: list[Any], *, latest: bool = False) -> list[str]:
    """The text of the tool messages: all of them, or those after the last assistant message."""
    texts: list[str] = []
    for message in reversed(messages):
        is_tool = isinstance(message, dict) and message.get("role") == "tool"
        if is_tool:
            texts.append(_text_of(message.get("content")))
        elif latest:
            break
    return texts[::-1]


def _openai_tool_error(messages: list[Any]) -> bool:
    """Whether the tool messages after the last assistant message report an error."""
    for message in reversed(messages):
        if not isinstance(message, dict) or message.get("role") != "tool":
            return False
        if "error" in _text_of(message.get("content")).casefold():
            return True
    return False


def _openai_stream(
    head: dict[str, Any],
    text: str | None,
    calls: list[dict[str, Any]],
    finish: str,
    usage: dict[str, int],
    body: Mapping[str, Any],
) -> httpx.Response:
    """The same completion as server-sent ``chat.completion.chunk`` events, then ``[DONE]``."""
    # Like OpenAI: the role first (content null before tool calls), then the pieces.
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": None if calls else ""}]
    if text is not None:
        deltas.append({"content": text})
    deltas += [{"tool_calls": [{"index": i, **call}]} for i, call in enumerate(calls)]
    chunk = {**head, "object": "chat.completion.chunk"}
    choices: list[list[dict[str, Any]]] = [
        [{"index": 0, "delta": d, "logprobs": None, "finish_reason": None}] for d in deltas
    ]
    choices.append([{"index": 0, "delta": {}, "logprobs": None, "finish_reason": finish}])
    events = [{**chunk, "choices": c} for c in choices]
    options = body.get("stream_options")
    if isinstance(options, dict) and options.get("include_usage"):
        events.append({**chunk, "choices": [], "usage": usage})
    lines = [f"data: {json.dumps(e, separators=(',', ':'))}\n\n" for e in events]
    lines.append("data: [DONE]\n\n")
    return httpx.Response(
        200, content="".join(lines).encode(), headers={"Content-Type": "text/event-stream"}
    )


# -- Anthropic -----------------------------------------------------------------------------------


class AnthropicModel(_ScriptedModel):
    """A fake Anthropic messages model (``api.anthropic.com``), driven by a script.

    Streaming (``stream: true``) is refused with a 400: use ``messages.create`` without it.

    >>> import anthropic
    >>> from chaoskit import World
    >>> model = AnthropicModel()
    >>> model.install(ModelScript(turns=[{"reply": "Hello."}]))
    >>> with World([model]):
    ...     done = anthropic.Anthropic(api_key="sk-ant-test").messages.create(
    ...         model="claude-sonnet-4-6", max_tokens=512,
    ...         messages=[{"role": "user", "content": "Hi"}])
    >>> done.content[0].text
    'Hello.'
    """

    name = "anthropic"
    default_host = "api.anthropic.com"
    provider = "anthropic"

    @route("POST", "/v1/messages")
    def messages(self, req: FakeRequest) -> httpx.Response:
        return self.chat(req)

    def error(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        type: str | None = None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Anthropic's envelope: ``{"type": "error", "error": {"type", "message"}}``."""
        body = {
            "type": "error",
            "error": {"type": type or _anthropic_type(status), "message": message},
        }
        return self.respond(status, body, headers=headers)

    def fault_response(self, status: int, *, retry_after: float | None = None) -> httpx.Response:
        """Anthropic's 429 (``rate_limit_error``), 529 (``overloaded_error``) or 5xx."""
        headers = {} if retry_after is None else {"retry-after": _seconds(retry_after)}
        message = {429: "Number of requests has exceeded your rate limit.", 529: "Overloaded"}
        return self.error(status, message.get(status, "Internal server error"), headers=headers)

    def parse(self, body: Mapping[str, Any]) -> _Incoming:
        model = _require(body, "model", str, "a model name")
        _require(body, "max_tokens", int, "a positive integer")
        messages = _require(body, "messages", list, "a non-empty list of messages")
        if body.get("stream") is True:
            raise ApiError(
                400,
                "chaoskit: the fake Anthropic model does not stream; call messages.create "
                "without stream=True (messages.stream is not supported either).",
                param="stream",
            )
        tools = tuple(
            t["name"]
            for t in body.get("tools") or ()
            if isinstance(t, dict) and isinstance(t.get("name"), str)
        )
        return _Incoming(
            model,
            tools,
            _anthropic_tool_error(messages),
            _prompt_tokens(body),
            False,
            body,
            latest=" ".join(_anthropic_results(messages[-1:])),
            read=" ".join(_anthropic_results(messages)),
        )

    def render(
        self, req: FakeRequest, incoming: _Incoming, plan: _Plan, usage: _Usage
    ) -> httpx.Response:
        content: list[dict[str, Any]] = []
        if plan.text is not None:
            content.append({"type": "text", "text": plan.text})
        content += [self._tool_use(c) for c in plan.calls]
        return self.respond(
            200,
            {
                "id": self.new_id("msg"),
                "type": "message",
                "role": "assistant",
                "model": incoming.model,
                "content": content,
                "stop_reason": "tool_use" if plan.calls else "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens},
            },
        )

    def _tool_use(self, call: _Call) -> dict[str, Any]:
        # Anthropic sends `input` as a parsed object; broken arguments can only arrive as
        # the raw text, which is what an agent reading `block.input["…"]` trips over.
        data: Any = call.arguments if call.raw is None else call.raw
        return {"type": "tool_use", "id": self.new_id("toolu"), "name": call.tool, "input": data}


def _anthropic_results(messages: list[Any]) -> list[str]:
    """The text of the ``tool_result`` blocks of ``messages``."""
    return [
        _text_of(block.get("content"))
        for message in messages
        if isinstance(message, dict) and isinstance(message.get("content"), list)
        for block in message["content"]
        if isinstance(block, dict) and block.get("type") == "tool_result"
    ]


def _anthropic_tool_error(messages: list[Any]) -> bool:
    """Whether the ``tool_result`` blocks of the last user message report an error."""
    last = messages[-1]
    content = last.get("content") if isinstance(last, dict) else None
    if not isinstance(content, list):
        return False
    for block in content:
        if isinstance(block, dict) and block.get("type") == "tool_result":
            text = _text_of(block.get("content"))
            if block.get("is_error") is True or "error" in text.casefold():
                return True
    return False


def _anthropic_type(status: int) -> str:
    known = {
        400: "invalid_request_error",
        401: "authentication_error",
        403: "permission_error",
        404: "not_found_error",
        413: "request_too_large",
        429: "rate_limit_error",
        529: "overloaded_error",
    }
    return known.get(status, "api_error" if status >= 500 else "invalid_request_error")


def _seconds(seconds: float | None) -> str:
    value = float(seconds or 0)
    return str(int(value)) if value.is_integer() else f"{value:g}"
