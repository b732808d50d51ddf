"""The script a fake model plays, and what one chat call of it is made of.

A :class:`ModelScript` is what a competent model would do, turn by turn: each
:class:`ScriptTurn` is either tool calls (:class:`ScriptToolCall`) or a final ``reply``, with
``{name}`` placeholders filled when the script is installed. Each chat call plays the next turn
as a plan of tool calls or text, which a misbehaviour may then perturb.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

Provider = Literal["openai", "anthropic"]

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


# -- the script ----------------------------------------------------------------------------------


class ScriptToolCall(BaseModel):
    """One tool call of a scripted turn; string arguments may hold ``{name}`` placeholders."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tool: str = Field(min_length=1)
    arguments: dict[str, JsonValue] = {}


class ScriptTurn(BaseModel):
    """One model turn: either tool calls or a final ``reply``.

    ``on_error`` is what the model says instead of this turn when the tool results it just
    received report an error (see the conventions of :mod:`~chaoskit.fakes.model.scripted`);
    it ends the conversation.

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


def _scripted(turn: ScriptTurn, tool_error: bool) -> _Plan:
    if tool_error and turn.on_error is not None:
        return _Plan(text=turn.on_error, ends=True)
    if turn.reply is not None:
        return _Plan(text=turn.reply)
    return _Plan(calls=tuple(_Call(c.tool, dict(c.arguments)) for c in turn.tool_calls))
