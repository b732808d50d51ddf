"""The real model behind the fakes: ``model = "passthrough"`` with ``allow_hosts``.

:class:`PassthroughModel` stands in the world as the backend ``model``. Requests to the
allowed hosts reach it like any fake's, so the trace records them and faults fire around them
(``model: POST /v1/chat/completions``); what it does with a request depends on how the run
treats model traffic:

* **live**: sent for real with ``send`` (the world's egress, the one way out of a world);
* **recording**: sent for real, and kept in a :class:`~chaoskit.fakes.model.cassette.Cassette`;
* **replaying**: answered from the cassette, nothing sent; a request it never saw is answered
  with an error and recorded as ``model.cassette_miss``, for the engine to report.

Every answered completion lands in the ledger as ``model.completion`` with the tokens the
provider's response reports (OpenAI's ``prompt_tokens``/``completion_tokens``, Anthropic's
``input_tokens``/``output_tokens``, streamed or not) and the USD they cost at
:data:`~chaoskit.fakes.model.DEFAULT_PRICES`, so ``budget_respected`` judges the real spend.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import httpx

from chaoskit.fakes.base import FakeRequest, route
from chaoskit.fakes.jsonapi import JsonBackend
from chaoskit.fakes.model.cassette import Cassette, canonical_request, request_key
from chaoskit.fakes.model.scripted import DEFAULT_PRICES, price_of

__all__ = ["PassthroughModel", "Sender", "parse_address"]

#: Sends a request for real and returns the full response; ``timeout`` is the client's read
#: timeout, if it set one.
Sender = Callable[[httpx.Request, float | None], httpx.Response]

_MISS = (
    "chaoskit: the agent asked the model something new: this request is not in the model "
    "cassette {path!r}. Re-record with --chaos-record-model={path} (chaoskit run "
    "--record-model {path})."
)


def parse_address(entry: str) -> tuple[str, int | None]:
    """``"host"`` or ``"host:port"`` (``"[::1]:8080"``) as ``(host, port or None)``.

    >>> parse_address("127.0.0.1:8080"), parse_address("api.openai.com")
    (('127.0.0.1', 8080), ('api.openai.com', None))
    """
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else None
    host, colon, port = entry.rpartition(":")
    return (host, int(port)) if colon and port.isdigit() else (entry, None)


class PassthroughModel(JsonBackend):
    """The agent's real model, reached on ``allow_hosts`` (see the module's docstring)."""

    name = "model"
    default_host = "model.passthrough.invalid"

    def __init__(
        self,
        allow_hosts: Sequence[str],
        *,
        send: Sender | None = None,
        cassette: Cassette | None = None,
        prices: Mapping[str, tuple[float, float]] | None = None,
    ) -> None:
        super().__init__(host=allow_hosts[0] if allow_hosts else None)
        #: The addresses served: ``(host, port)``, a ``None`` port meaning any port.
        self.addresses = tuple(parse_address(entry) for entry in allow_hosts)
        self.send = send
        self.cassette = cassette
        self.prices = dict(DEFAULT_PRICES if prices is None else prices)

    def credential(self, principal_token: str) -> str:
        """Nothing: the agent brings its own provider key, and chaoskit never holds it."""
        return ""

    # -- routes: where faults and the trace see model calls -------------------------------------

    @route("POST", "/v1/chat/completions")
    def completions(self, req: FakeRequest) -> httpx.Response:
        """An OpenAI chat completion, from the real model (or its cassette)."""
        return self.forward(req)

    @route("POST", "/v1/messages")
    def messages(self, req: FakeRequest) -> httpx.Response:
        """An Anthropic message, from the real model (or its cassette)."""
        return self.forward(req)

    def not_found(self, raw: httpx.Request) -> httpx.Response:
        """Any other request to an allowed host (``/v1/models``, ``/v1/responses``…) goes too."""
        return self.forward(FakeRequest(raw, {}, request_id=self.new_request_id()))

    # -- one call ------------------------------------------------------------------------------

    def forward(self, req: FakeRequest) -> httpx.Response:
        raw = req.raw
        if self.cassette is not None and self.cassette.mode == "replay":
            response = self.cassette.answer(raw)
            if response is None:
                return self._missed(req)
            source = "cassette"
        else:
            if self.send is None:
                raise RuntimeError("chaoskit: a live PassthroughModel needs a sender")
            response = self.send(raw, None)
            if self.cassette is not None:
                self.cassette.add(raw, response)
            source = "live"
        self._account(req, response, source)
        return response

    def usage(self) -> dict[str, float]:
        """Calls, tokens and USD of the completions so far: ``{"model_calls", "tokens", "usd"}``."""
        done = self.ledger.entries("model.completion")
        return {
            "model_calls": float(len(done)),
            "tokens": float(sum(_number(e.fields.get("tokens")) for e in done)),
            "usd": sum(_number(e.fields.get("usd")) for e in done),
        }

    def misses(self) -> int:
        """How many requests a replayed cassette could not answer."""
        return len(self.ledger.entries("model.cassette_miss"))

    def _missed(self, req: FakeRequest) -> httpx.Response:
        path = str(self.cassette.path) if self.cassette is not None else "?"
        canonical = canonical_request(req.method, req.path, req.raw.content)
        self.record(req, "model.cassette_miss", request_key(canonical), path=req.path)
        return self.error(400, _MISS.format(path=path), type="chaoskit_cassette_miss")

    def _account(self, req: FakeRequest, response: httpx.Response, source: str) -> None:
        usage = _usage(response)
        if usage is None:
            return  # not a completion (a model listing, an error): nothing was spent
        model, input_tokens, output_tokens = usage
        model = model or _requested_model(req)
        per_in, per_out = price_of(self.prices, model)
        calls = len(self.ledger.entries("model.completion")) + 1
        self.record(
            req,
            "model.completion",
            f"call-{calls}",
            call=calls,
            model=model,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            tokens=input_tokens + output_tokens,
            usd=(input_tokens * per_in + output_tokens * per_out) / 1_000_000,
            source=source,
        )


def _usage(response: httpx.Response) -> tuple[str, int, int] | None:
    """``(model, input tokens, output tokens)`` of a successful completion, else ``None``."""
    if response.status_code >= 400:
        return None
    events = list(_events(response))
    found = False
    model, tokens_in, tokens_out = "", 0, 0
    for event in events:
        message = event.get("message")
        for usage in (event.get("usage"), message.get("usage") if isinstance(message, dict) else 0):
            if not isinstance(usage, dict):
                continue
            found = True
            tokens_in = max(tokens_in, _input_tokens(usage))
            tokens_out = max(tokens_out, _output_tokens(usage))
        model = model or str(event.get("model") or (message or {}).get("model") or "")
    return (model, tokens_in, tokens_out) if found else None


def _input_tokens(usage: Mapping[str, Any]) -> int:
    if "prompt_tokens" in usage:  # OpenAI chat completions
        return int(_number(usage["prompt_tokens"]))
    cached = ("cache_creation_input_tokens", "cache_read_input_tokens")  # Anthropic's extras
    return int(_number(usage.get("input_tokens")) + sum(_number(usage.get(k)) for k in cached))


def _output_tokens(usage: Mapping[str, Any]) -> int:
    return int(_number(usage.get("completion_tokens", usage.get("output_tokens"))))


def _events(response: httpx.Response) -> Iterator[dict[str, Any]]:
    """The JSON body, or each JSON ``data:`` event of a server-sent stream."""
    if "text/event-stream" not in response.headers.get("content-type", ""):
        try:
            body = json.loads(response.content)
        except ValueError:
            return
        if isinstance(body, dict):
            yield body
        return
    for line in response.text.splitlines():
        if line.startswith("data:"):
            try:
                event = json.loads(line[5:].strip())
            except ValueError:
                continue  # [DONE]
            if isinstance(event, dict):
                yield event


def _requested_model(req: FakeRequest) -> str:
    try:
        body = json.loads(req.raw.content)
    except ValueError:
        return ""
    return str(body.get("model") or "") if isinstance(body, dict) else ""


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0
