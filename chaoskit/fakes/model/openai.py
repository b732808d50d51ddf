"""The fake OpenAI model: chat completions in OpenAI's wire format, streaming included."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

import httpx
from pydantic import Field, JsonValue

from chaoskit.fakes.base import FakeRequest, route
from chaoskit.fakes.jsonapi import Fields
from chaoskit.fakes.model.script import _Call, _Incoming, _Plan
from chaoskit.fakes.model.scripted import (
    ScriptedModel,
    _prompt_tokens,
    _require,
    _seconds,
    _text_of,
    _Usage,
)

__all__ = ["OpenAIModel"]


class _ChatRequest(Fields):
    """OpenAI's chat-completions body; other fields (temperature…) are accepted and ignored."""

    model: str = Field(description="Any model name; its price sets the run's USD (gpt-4o…).")
    messages: list[dict[str, Any]] = Field(
        min_length=1, description="The conversation: system, user, assistant and tool messages."
    )
    tools: list[dict[str, Any]] | None = Field(
        None, description='Function tools: {"type": "function", "function": {"name", …}}.'
    )
    stream: bool | None = Field(None, description="true: server-sent chunks, then [DONE].")
    stream_options: dict[str, Any] | None = Field(
        None, description='{"include_usage": true} adds a final chunk with usage.'
    )


_EXAMPLE: dict[str, JsonValue] = {
    "model": "gpt-4o",
    "messages": [
        {"role": "system", "content": "You are a support agent."},
        {"role": "user", "content": "Please refund order 1042."},
    ],
    "tools": [
        {
            "type": "function",
            "function": {
                "name": "refund",
                "parameters": {"type": "object", "properties": {"charge": {"type": "string"}}},
            },
        }
    ],
}


class OpenAIModel(ScriptedModel):
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
    #: Read by the official SDKs (Python and Node) without any code.
    sdk_environment: ClassVar[Mapping[str, str]] = {
        "OPENAI_BASE_URL": "{url}/v1",
        "OPENAI_API_KEY": "{credential}",
    }
    api_key = "sk-chaoskit-test"
    provider = "openai"

    @route("POST", "/v1/chat/completions", body=_ChatRequest, example=_EXAMPLE)
    def completions(self, req: FakeRequest) -> httpx.Response:
        """Play the script's next turn as a chat completion (tool calls or a reply)."""
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
