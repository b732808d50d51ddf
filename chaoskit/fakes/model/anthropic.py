"""The fake Anthropic model: the messages API in Anthropic's wire format, without streaming."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import httpx
from pydantic import Field, JsonValue

from chaoskit.fakes.base import FakeRequest, route
from chaoskit.fakes.jsonapi import ApiError, Fields
from chaoskit.fakes.model.script import _Call, _Incoming, _Plan
from chaoskit.fakes.model.scripted import (
    ScriptedModel,
    _prompt_tokens,
    _require,
    _seconds,
    _text_of,
    _Usage,
)

__all__ = ["AnthropicModel"]


class _MessagesRequest(Fields):
    """Anthropic's messages body; other fields (temperature…) are accepted and ignored."""

    model: str = Field(description="Any model name; its price sets the run's USD.")
    max_tokens: int = Field(description="Required; the fake does not cut replies to it.")
    messages: list[dict[str, Any]] = Field(
        min_length=1, description="The conversation: user and assistant messages."
    )
    system: str | list[dict[str, Any]] | None = Field(None, description="The system prompt.")
    tools: list[dict[str, Any]] | None = Field(
        None, description='Tools: {"name", "description", "input_schema"}.'
    )
    stream: bool | None = Field(None, description="Refused: the fake does not stream.")


_EXAMPLE: dict[str, JsonValue] = {
    "model": "claude-sonnet-4-6",
    "max_tokens": 1024,
    "system": "You are a support agent.",
    "messages": [{"role": "user", "content": "Please refund order 1042."}],
    "tools": [
        {
            "name": "refund",
            "input_schema": {"type": "object", "properties": {"charge": {"type": "string"}}},
        }
    ],
}


class AnthropicModel(ScriptedModel):
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
    #: Read by the official SDKs (Python and Node) without any code.
    sdk_environment: ClassVar[Mapping[str, str]] = {
        "ANTHROPIC_BASE_URL": "{url}",
        "ANTHROPIC_API_KEY": "{credential}",
    }
    auth_schemes = ("x-api-key",)
    api_key = "sk-ant-chaoskit-test"
    provider = "anthropic"

    @route("POST", "/v1/messages", body=_MessagesRequest, example=_EXAMPLE)
    def messages(self, req: FakeRequest) -> httpx.Response:
        """Play the script's next turn as a message (``tool_use`` blocks or text)."""
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
