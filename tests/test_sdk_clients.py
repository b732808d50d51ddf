"""Official SDKs with their default clients reach the fakes unchanged.

The openai and anthropic SDKs are built on httpx2, which respx does not patch; these tests
prove chaoskit's own httpx2 interception carries their traffic, faults included.
"""

from __future__ import annotations

import anthropic
import httpx
import openai
import pytest
import requests

from chaoskit import FaultRule, RateLimit, Target, TimeoutBeforeCommit, World
from chaoskit.fakes import FakeBackend, FakeRequest, route


class ModelCatalogue(FakeBackend):
    """A user's own fake on the OpenAI host: just enough to list models."""

    name = "openai"
    default_host = "api.openai.com"

    @route("GET", "/v1/models")
    def list_models(self, req: FakeRequest) -> httpx.Response:
        self.record(req, "models.listed", "list", token=req.bearer())
        return self.respond(
            200,
            {
                "object": "list",
                "data": [{"id": "fake-4", "object": "model", "created": 0, "owned_by": "chaoskit"}],
            },
        )


class AnthropicCatalogue(FakeBackend):
    name = "anthropic"
    default_host = "api.anthropic.com"

    @route("GET", "/v1/models")
    def list_models(self, req: FakeRequest) -> httpx.Response:
        self.record(req, "models.listed", "list")
        model = {
            "id": "fake-sonnet",
            "type": "model",
            "display_name": "Fake",
            "created_at": "2026-01-01T00:00:00Z",
        }
        return self.respond(
            200, {"data": [model], "has_more": False, "first_id": None, "last_id": None}
        )


def test_the_openai_sdk_with_its_default_client_reaches_a_fake() -> None:
    client = openai.OpenAI(api_key="sk-test")
    with World([ModelCatalogue()]) as world:
        models = client.models.list()
    assert [m.id for m in models.data] == ["fake-4"]
    assert world.ledger("openai")[0].fields["token"] == "sk-test"
    assert [e.client for e in world.trace.of("request")] == ["httpx2"]  # type: ignore[union-attr]


def test_the_openai_sdk_retries_an_injected_429_through_the_virtual_clock() -> None:
    limited = FaultRule(
        fault=RateLimit(retry_after=20), target=Target.parse("openai: GET /v1/models"), calls=(1,)
    )
    client = openai.OpenAI(api_key="sk-test")
    with World([ModelCatalogue()], faults=[limited]) as world:
        models = client.models.list()
        waited = world.clock.monotonic()
    assert [m.id for m in models.data] == ["fake-4"]
    assert [e.status for e in world.trace.of("response")] == [429, 200]  # type: ignore[union-attr]
    assert waited >= 20  # the SDK honoured Retry-After, in virtual time


def test_the_openai_sdk_sees_its_own_timeout_error_on_an_injected_timeout() -> None:
    timeout = FaultRule(
        fault=TimeoutBeforeCommit(), target=Target.parse("openai: GET /v1/models"), always=True
    )
    client = openai.OpenAI(api_key="sk-test", max_retries=1, timeout=10)
    with (
        World([ModelCatalogue()], faults=[timeout]) as world,
        pytest.raises(openai.APITimeoutError),
    ):
        client.models.list()
    assert len(world.trace.of("request")) == 2


def test_the_anthropic_sdk_with_its_default_client_reaches_a_fake() -> None:
    client = anthropic.Anthropic(api_key="sk-ant-test")
    with World([AnthropicCatalogue()]) as world:
        page = client.models.list()
    assert [m.id for m in page.data] == ["fake-sonnet"]
    assert len(world.ledger("anthropic")) == 1


def test_a_plain_requests_tool_and_a_plain_httpx_tool_reach_the_same_fake() -> None:
    with World([ModelCatalogue()]) as world:
        a = requests.get("https://api.openai.com/v1/models", timeout=5).json()
        b = httpx.get("https://api.openai.com/v1/models").json()
    assert a == b
    assert len(world.ledger("openai")) == 2
