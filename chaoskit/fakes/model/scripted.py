"""What both fake providers share: the script, the hook, the prices, the accounting.

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx

from chaoskit.core.errors import InvalidScenario
from chaoskit.fakes.base import FakeRequest, declared
from chaoskit.fakes.jsonapi import ApiError, JsonBackend
from chaoskit.fakes.model.misbehaviours import MISBEHAVIOURS, _misbehave
from chaoskit.fakes.model.script import (
    ModelCall,
    ModelScript,
    Provider,
    ScriptTurn,
    _fill,
    _Incoming,
    _Plan,
    _Progress,
    _scripted,
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

_CHARS_PER_TOKEN = 4


def estimate_tokens(text: str) -> int:
    """The fake's token count for ``text``: one per four characters, rounded up, at least 1.

    >>> estimate_tokens("Refund issued.")
    4
    """
    return max(1, math.ceil(len(text) / _CHARS_PER_TOKEN))


def price_of(prices: Mapping[str, tuple[float, float]], model: str) -> tuple[float, float]:
    """USD per million (input, output) tokens of ``model`` in ``prices``: its exact name, its
    longest listed prefix, else ``"*"`` (else nothing).

    >>> price_of(DEFAULT_PRICES, "gpt-4o-mini-2024-07-18")
    (0.15, 0.6)
    """
    if model in prices:
        return prices[model]
    prefixes = [k for k in prices if k != "*" and model.startswith(k)]
    if prefixes:
        return prices[max(prefixes, key=len)]
    return prices.get("*", (0.0, 0.0))


def _prompt_tokens(body: Mapping[str, Any]) -> int:
    # Over the items: a provider's body has no `system` field to ask for (OpenAI's).
    prompt = {k: v for k, v in body.items() if k in ("system", "messages", "tools")}
    return estimate_tokens(json.dumps(prompt, sort_keys=True, separators=(",", ":")))


def _completion_tokens(plan: _Plan) -> int:
    if plan.text is not None:
        return estimate_tokens(plan.text)
    return estimate_tokens("".join(call.tool + call.text for call in plan.calls))


# -- the shared fake -----------------------------------------------------------------------------


class ScriptedModel(JsonBackend):
    """What both providers share: the script, the hook, the prices, the accounting."""

    provider: ClassVar[Provider]
    #: The key an agent is handed for this provider, in the vendor's shape.
    api_key: ClassVar[str]
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

    def credential(self, principal_token: str) -> str:
        """A provider key: the user's token never goes to a model host."""
        return self.api_key

    def sample(self) -> dict[str, str]:
        """A script that first calls a ``refund`` tool, then replies."""
        self.install(
            ModelScript(
                name="sample",
                turns=[
                    {"tool_calls": [{"tool": "refund", "arguments": {"charge": "ch_1042"}}]},
                    {"reply": "Refunded $42.00 on charge ch_1042."},
                ],
            )
        )
        return {}

    # -- public surface --------------------------------------------------------------------------

    def install(self, script: ModelScript, context: Mapping[str, str] | None = None) -> None:
        """Play ``script`` from its first turn, ``{name}`` placeholders filled from ``context``.

        >>> from chaoskit.fakes import OpenAIModel
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
        return price_of(self.prices, model)

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


def _json_object(req: FakeRequest) -> dict[str, Any]:
    try:
        body = req.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ApiError(400, "We could not parse the JSON body of your request.")
    return declared(body, req.route.body if req.route else None, str(req.route))  # type: ignore[no-any-return]


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


def _seconds(seconds: float | None) -> str:
    value = float(seconds or 0)
    return str(int(value)) if value.is_integer() else f"{value:g}"
