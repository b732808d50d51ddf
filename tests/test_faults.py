"""Every fault kind: what each client library sees, and what the ledger holds."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import httpx2
import pytest
import requests

from chaoskit import (
    ConnectionReset,
    FaultRule,
    InvalidFault,
    Latency,
    MalformedResponse,
    PoisonedDocument,
    RateLimit,
    ServerError,
    StaleRead,
    Target,
    TimeoutAfterCommit,
    TimeoutBeforeCommit,
    World,
)
from tests.conftest import Notes

URL = "https://notes.chaoskit.test/notes"

Send = Callable[[str, str, dict[str, Any] | None], tuple[int, bytes, dict[str, str]]]


def _httpx(method: str, url: str, body: dict[str, Any] | None) -> tuple[int, bytes, dict[str, str]]:
    r = httpx.request(method, url, json=body, timeout=5.0)
    return r.status_code, r.content, dict(r.headers)


def _httpx_async(
    method: str, url: str, body: dict[str, Any] | None
) -> tuple[int, bytes, dict[str, str]]:
    async def go() -> httpx.Response:
        async with httpx.AsyncClient(timeout=5.0) as client:
            return await client.request(method, url, json=body)

    r = asyncio.run(go())
    return r.status_code, r.content, dict(r.headers)


def _httpx2(
    method: str, url: str, body: dict[str, Any] | None
) -> tuple[int, bytes, dict[str, str]]:
    with httpx2.Client(timeout=5.0) as client:
        r = client.request(method, url, json=body)
    return r.status_code, r.content, dict(r.headers)


def _requests(
    method: str, url: str, body: dict[str, Any] | None
) -> tuple[int, bytes, dict[str, str]]:
    r = requests.request(method, url, json=body, timeout=5.0)
    return r.status_code, r.content, dict(r.headers)


CLIENTS: dict[str, tuple[Send, type[Exception], type[Exception]]] = {
    # client: (send, its read-timeout exception, its connection-reset exception)
    "httpx": (_httpx, httpx.ReadTimeout, httpx.ReadError),
    "httpx-async": (_httpx_async, httpx.ReadTimeout, httpx.ReadError),
    "httpx2": (_httpx2, httpx2.ReadTimeout, httpx2.ReadError),
    "requests": (_requests, requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError),
}


def rule(fault: Any, target: str = "notes: POST /notes", **schedule: Any) -> FaultRule:
    if not schedule:
        schedule = {"calls": (1,)}
    return FaultRule(fault=fault, target=Target.parse(target), **schedule)


@pytest.fixture(params=sorted(CLIENTS))
def client(request: pytest.FixtureRequest) -> tuple[Send, type[Exception], type[Exception]]:
    return CLIENTS[request.param]


def test_timeout_before_commit_raises_the_clients_own_timeout_and_commits_nothing(
    client: tuple[Send, type[Exception], type[Exception]],
) -> None:
    send, timeout_error, _ = client
    with World([Notes()], faults=[rule(TimeoutBeforeCommit())]) as world:
        with pytest.raises(timeout_error):
            send("POST", URL, {"text": "hello"})
        assert world.clock.monotonic() == pytest.approx(5.0)
    assert world.ledger("notes") == ()


def test_timeout_after_commit_raises_the_clients_own_timeout_but_the_note_committed(
    client: tuple[Send, type[Exception], type[Exception]],
) -> None:
    send, timeout_error, _ = client
    with World([Notes()], faults=[rule(TimeoutAfterCommit())]) as world:
        with pytest.raises(timeout_error):
            send("POST", URL, {"text": "hello"})
        status, _, _ = send("POST", URL, {"text": "hello"})
    assert status == 201
    assert [e.kind for e in world.ledger("notes")] == ["note.created", "note.created"]
    kinds = [e.kind for e in world.trace]
    assert kinds[:4] == ["request", "commit", "fault", "exception"]


@pytest.mark.parametrize("phase", ["before_commit", "after_commit"])
def test_connection_reset_raises_the_clients_connection_error_per_phase(
    client: tuple[Send, type[Exception], type[Exception]], phase: str
) -> None:
    send, _, reset_error = client
    reset = rule(ConnectionReset(phase=phase))  # type: ignore[arg-type]
    with World([Notes()], faults=[reset]) as world, pytest.raises(reset_error):
        send("POST", URL, {"text": "hello"})
    assert len(world.ledger("notes")) == (1 if phase == "after_commit" else 0)


def test_rate_limit_returns_429_with_retry_after_and_commits_nothing(
    client: tuple[Send, type[Exception], type[Exception]],
) -> None:
    send, _, _ = client
    with World([Notes()], faults=[rule(RateLimit(retry_after=7))]) as world:
        status, body, headers = send("POST", URL, {"text": "hello"})
    assert status == 429
    assert {k.lower(): v for k, v in headers.items()}["retry-after"] == "7"
    assert json.loads(body)["error"]["type"] == "rate_limit_error"
    assert world.ledger("notes") == ()


def test_server_error_storm_lasts_exactly_its_number_of_calls(
    client: tuple[Send, type[Exception], type[Exception]],
) -> None:
    send, _, _ = client
    storm = rule(ServerError(status=503, burst=3), calls=(2,))
    with World([Notes()], faults=[storm]) as world:
        statuses = [send("POST", URL, {"text": str(i)})[0] for i in range(6)]
    assert statuses == [201, 503, 503, 503, 201, 201]
    assert len(world.ledger("notes")) == 3


def test_server_error_storm_by_virtual_duration_ends_when_the_clock_passes_it() -> None:
    storm = rule(ServerError(status=502, seconds=10.0))
    with World([Notes()], faults=[storm]) as world:
        first = _httpx("POST", URL, {"text": "a"})[0]
        world.clock.advance(9.0)
        during = _httpx("POST", URL, {"text": "b"})[0]
        world.clock.advance(2.0)
        after = _httpx("POST", URL, {"text": "c"})[0]
    assert (first, during, after) == (502, 502, 201)


def test_an_overloaded_529_can_be_injected_like_other_server_errors() -> None:
    with World([Notes()], faults=[rule(ServerError(status=529))]) as world:
        status, body, _ = _httpx("POST", URL, {"text": "a"})
    assert status == 529
    assert json.loads(body)["error"]["type"] == "api_error"
    assert world.ledger("notes") == ()


def test_server_error_after_commit_returns_5xx_although_the_effect_happened() -> None:
    with World([Notes()], faults=[rule(ServerError(phase="after_commit"))]) as world:
        status = _httpx("POST", URL, {"text": "a"})[0]
    assert status == 500
    assert len(world.ledger("notes")) == 1


def test_latency_advances_the_virtual_clock_and_still_answers() -> None:
    with World([Notes()], faults=[rule(Latency(seconds=3.0))]) as world:
        status = _httpx("POST", URL, {"text": "a"})[0]
        assert world.clock.monotonic() == pytest.approx(3.0)
    assert status == 201


def test_latency_beyond_the_client_timeout_times_out_after_the_backend_committed(
    client: tuple[Send, type[Exception], type[Exception]],
) -> None:
    send, timeout_error, _ = client
    with World([Notes()], faults=[rule(Latency(seconds=60.0))]) as world:
        with pytest.raises(timeout_error):
            send("POST", URL, {"text": "a"})
        assert world.clock.monotonic() == pytest.approx(5.0)
    assert len(world.ledger("notes")) == 1


@pytest.mark.parametrize("mode", ["truncated", "broken_json"])
def test_malformed_response_breaks_the_json_after_committing(mode: str) -> None:
    with World([Notes()], faults=[rule(MalformedResponse(mode=mode))]) as world:  # type: ignore[arg-type]
        status, body, _ = _httpx("POST", URL, {"text": "hello world"})
    assert status == 201
    with pytest.raises(ValueError):
        json.loads(body)
    assert len(world.ledger("notes")) == 1


def test_poisoned_document_places_the_canary_payload_in_a_text_field(
    client: tuple[Send, type[Exception], type[Exception]],
) -> None:
    send, _, _ = client
    poisoned = rule(PoisonedDocument(canary="canary-42"), target="notes: GET /notes")
    with World([Notes()], faults=[poisoned]) as world:
        send("POST", URL, {"text": "call me back"})
        status, body, _ = send("GET", URL, None)
    note = json.loads(body)["data"][0]
    assert status == 200
    assert note["text"].startswith("call me back")
    assert "canary-42@exfil.chaoskit.test" in note["text"]
    fault = world.trace.of("fault")[0]
    assert fault.detail == "payload placed at $.data[0].text"  # type: ignore[union-attr]


def test_poisoned_document_with_no_text_field_says_it_poisoned_nothing() -> None:
    poisoned = rule(PoisonedDocument(field="missing"), target="notes: GET /notes")
    with World([Notes()], faults=[poisoned]) as world:
        _httpx("GET", URL, None)
    assert world.trace.of("fault")[0].detail == "no text field to poison"  # type: ignore[union-attr]


def test_stale_read_serves_the_state_from_before_the_latest_write() -> None:
    stale = rule(StaleRead(lag=1), target="notes: GET /notes", calls=(1,))
    with World([Notes()], faults=[stale]) as world:
        _httpx("POST", URL, {"text": "first"})
        _httpx("POST", URL, {"text": "second"})
        lagging = json.loads(_httpx("GET", URL, None)[1])["data"]
        fresh = json.loads(_httpx("GET", URL, None)[1])["data"]
    assert [n["text"] for n in lagging] == ["first"]
    assert [n["text"] for n in fresh] == ["first", "second"]
    assert len(world.ledger("notes")) == 2


def test_always_fires_on_every_matching_call_and_only_on_matching_calls() -> None:
    with World([Notes()], faults=[rule(RateLimit(), always=True)]) as world:
        posts = [_httpx("POST", URL, {"text": "x"})[0] for _ in range(3)]
        read = _httpx("GET", URL, None)[0]
    assert posts == [429, 429, 429]
    assert read == 200
    assert world.fired == {"rate_limit @ notes: POST /notes": 3}


def test_window_fires_only_inside_its_virtual_time_window() -> None:
    with World([Notes()], faults=[rule(RateLimit(), window=(10.0, 20.0))]) as world:
        before = _httpx("POST", URL, {"text": "x"})[0]
        world.clock.advance(15.0)
        inside = _httpx("POST", URL, {"text": "x"})[0]
        world.clock.advance(10.0)
        after = _httpx("POST", URL, {"text": "x"})[0]
    assert (before, inside, after) == (201, 429, 201)


def test_explore_rules_ask_the_decision_callback_with_the_call_and_candidates() -> None:
    seen: list[tuple[int, str, int]] = []

    def decide(call: Any, candidates: Any) -> Any:
        seen.append((call.index, call.route, len(candidates)))
        return candidates[0] if call.index == 2 else None

    explore = rule(RateLimit(), explore=True)
    with World([Notes()], faults=[explore], decide=decide):
        statuses = [_httpx("POST", URL, {"text": "x"})[0] for _ in range(3)]
        _httpx("GET", URL, None)
    assert statuses == [201, 429, 201]
    assert seen == [(1, "POST /notes", 1), (2, "POST /notes", 1), (3, "POST /notes", 1)]


def test_a_target_naming_an_unknown_backend_suggests_the_close_one() -> None:
    with pytest.raises(InvalidFault, match=r"unknown backend 'note'\. Did you mean 'notes'\?"):
        World([Notes()], faults=[rule(RateLimit(), target="note: POST /notes")])


def test_a_target_matching_no_route_lists_the_routes() -> None:
    with pytest.raises(InvalidFault, match=r"matches no route of 'notes'.*POST /notes"):
        World([Notes()], faults=[rule(RateLimit(), target="notes: DELETE /notes")])


def test_a_malformed_target_explains_the_syntax() -> None:
    with pytest.raises(InvalidFault, match="Expected 'backend: METHOD /path'"):
        Target.parse("POST /v1/refunds")


def test_a_rule_needs_exactly_one_schedule() -> None:
    with pytest.raises(ValueError, match="exactly one schedule"):
        FaultRule(fault=RateLimit(), target=Target.parse("notes: /notes"), calls=(1,), always=True)


# -- requests: the urllib3 Retry mounted on an adapter runs, as inside a real adapter --------


def _session(retry: Any) -> requests.Session:
    session = requests.Session()
    session.mount("https://", requests.adapters.HTTPAdapter(max_retries=retry))
    return session


def test_a_retry_mounted_on_a_requests_adapter_retries_a_503_with_its_backoff() -> None:
    from urllib3.util.retry import Retry

    storm = rule(ServerError(status=503, burst=2), target="notes: GET /notes")
    retry = Retry(total=3, status_forcelist=[503], backoff_factor=1)
    with World([Notes()], faults=[storm]) as world:
        answer = _session(retry).get(URL, timeout=5)
    assert answer.status_code == 200
    assert len(world.trace.of("request")) == 3
    assert world.clock.monotonic() == pytest.approx(2)  # urllib3's backoff, virtual: 0 s, 2 s


def test_a_spent_adapter_retry_raises_retry_error_and_a_post_is_never_retried() -> None:
    from urllib3.util.retry import Retry

    retry = Retry(total=2, status_forcelist=[503])
    storm = rule(ServerError(status=503), target="notes: * /notes", always=True)
    with World([Notes()], faults=[storm]) as world:
        with pytest.raises(requests.exceptions.RetryError):
            _session(retry).get(URL, timeout=5)
        assert _session(retry).post(URL, json={"text": "x"}, timeout=5).status_code == 503
    assert [r.method for r in world.trace.of("request")] == ["GET"] * 3 + ["POST"]  # type: ignore[union-attr]


def test_the_default_adapter_still_sends_each_request_once() -> None:
    timeout = rule(TimeoutBeforeCommit(), target="notes: GET /notes", calls=(1,))
    with (
        World([Notes()], faults=[timeout]) as world,
        pytest.raises(requests.exceptions.ReadTimeout),
    ):
        requests.get(URL, timeout=5)
    assert len(world.trace.of("request")) == 1


def test_an_adapter_retry_retries_a_timed_out_get_and_then_raises_connection_error() -> None:
    from urllib3.util.retry import Retry

    timeouts = rule(TimeoutBeforeCommit(), target="notes: GET /notes", always=True)
    with (
        World([Notes()], faults=[timeouts]) as world,
        pytest.raises(requests.exceptions.ConnectionError) as caught,
    ):
        _session(Retry(total=2)).get(URL, timeout=5)
    assert not isinstance(caught.value, requests.exceptions.ReadTimeout)  # as requests does
    assert len(world.trace.of("request")) == 3
