"""The world: routing for every client family, unrouted hosts, the trace, determinism."""

from __future__ import annotations

import asyncio
import contextlib
import socket

import httpx
import httpx2
import pytest
import requests

from chaoskit import FaultRule, RateLimit, Target, TimeoutAfterCommit, World, WorldError
from chaoskit.world.intercept import _refuse_remote
from tests.conftest import Notes

URL = "https://notes.chaoskit.test/notes"


def test_httpx_httpx2_and_requests_all_reach_the_fake_sync_and_async() -> None:
    async def async_calls() -> None:
        async with httpx.AsyncClient() as a:
            await a.post(URL, json={"text": "httpx async"})
        async with httpx2.AsyncClient() as b:
            await b.post(URL, json={"text": "httpx2 async"})

    with World([Notes()]) as world:
        httpx.post(URL, json={"text": "httpx"})
        httpx2.post(URL, json={"text": "httpx2"})
        requests.post(URL, json={"text": "requests"}, timeout=5)
        asyncio.run(async_calls())
    texts = [e.fields["text"] for e in world.ledger("notes")]
    assert texts == ["httpx", "httpx2", "requests", "httpx async", "httpx2 async"]
    clients = [e.client for e in world.trace.of("request")]  # type: ignore[union-attr]
    assert clients == ["httpx", "httpx2", "requests", "httpx", "httpx2"]


def test_a_client_created_before_the_world_started_is_intercepted_too() -> None:
    early = httpx.Client()
    session = requests.Session()
    with World([Notes()]) as world:
        assert early.post(URL, json={"text": "a"}).status_code == 201
        assert session.post(URL, json={"text": "b"}, timeout=5).status_code == 201
    assert len(world.ledger("notes")) == 2


def test_responses_carry_a_request_id_that_the_ledger_shares() -> None:
    with World([Notes()]) as world:
        response = httpx.post(URL, json={"text": "a"})
    assert response.headers["request-id"] == world.ledger("notes")[0].request_id


@pytest.mark.parametrize(
    ("send", "error"),
    [
        (lambda: httpx.get("https://api.unknown.example/v1/x"), httpx.ConnectError),
        (lambda: httpx2.get("https://api.unknown.example/v1/x"), httpx2.ConnectError),
        (
            lambda: requests.get("https://api.unknown.example/v1/x", timeout=5),
            requests.exceptions.ConnectionError,
        ),
    ],
    ids=["httpx", "httpx2", "requests"],
)
def test_an_unrouted_host_fails_with_the_clients_connection_error_naming_known_hosts(
    send: object, error: type[Exception]
) -> None:
    with World([Notes()]) as world, pytest.raises(error) as info:
        send()  # type: ignore[operator]
    message = str(info.value)
    assert "no fake backend serves host 'api.unknown.example'" in message
    assert "notes.chaoskit.test (notes)" in message
    assert [e.kind for e in world.trace] == ["unrouted"]


def test_an_unknown_path_on_a_known_host_gets_the_backends_404_listing_its_routes() -> None:
    with World([Notes()]):
        response = httpx.get("https://notes.chaoskit.test/nope")
    assert response.status_code == 404
    assert "GET /notes/{id}" in response.json()["error"]["message"]


def test_real_sockets_to_remote_hosts_are_refused_while_loopback_stays_allowed() -> None:
    with pytest.raises(ConnectionRefusedError, match="chaoskit: refused a real network"):
        _refuse_remote(("203.0.113.9", 443))
    _refuse_remote(("127.0.0.1", 8080))
    original = socket.socket.connect
    with World([Notes()]):
        assert socket.socket.connect is not original
    assert socket.socket.connect is original


def test_the_interception_is_undone_after_the_world() -> None:
    original = (httpx.HTTPTransport.handle_request, requests.adapters.HTTPAdapter.send)
    with World([Notes()]):
        assert httpx.HTTPTransport.handle_request is not original[0]
    assert (httpx.HTTPTransport.handle_request, requests.adapters.HTTPAdapter.send) == original


def test_only_one_world_can_be_active_at_a_time() -> None:
    with World([Notes()]), pytest.raises(WorldError, match=r"another world is already active"):
        World([Notes()]).__enter__()


def test_an_unknown_backend_name_suggests_the_close_one() -> None:
    world = World([Notes()])
    with pytest.raises(WorldError, match="Did you mean 'notes'"):
        world["note"]


def test_two_backends_on_one_host_are_refused() -> None:
    class Other(Notes):
        name = "other"

    with pytest.raises(WorldError, match=r"both use host 'notes\.chaoskit\.test'"):
        World([Notes(), Other()])


def _scripted_run(seed: int) -> tuple[str, list[str]]:
    flaky = FaultRule(
        fault=TimeoutAfterCommit(), target=Target.parse("notes: POST /notes"), calls=(2,)
    )
    limited = FaultRule(
        fault=RateLimit(retry_after=2), target=Target.parse("notes: GET /notes"), calls=(1,)
    )
    with World([Notes()], faults=[flaky, limited], seed=seed) as world:
        for text in ("a", "b", "c"):
            with contextlib.suppress(httpx.ReadTimeout):
                httpx.post(URL, json={"text": text})
        httpx.get(URL)
        httpx.get(URL)
    return world.trace.to_json(), [e.object_id for e in world.ledger("notes")]


def test_the_same_seed_gives_the_same_trace_json_byte_for_byte() -> None:
    first, ids = _scripted_run(seed=11)
    second, same_ids = _scripted_run(seed=11)
    other, other_ids = _scripted_run(seed=12)
    assert first == second
    assert ids == same_ids
    assert other != first
    assert other_ids != ids


def test_the_trace_round_trips_through_json() -> None:
    trace, _ = _scripted_run(seed=3)
    from chaoskit import Trace

    events = Trace.from_json(trace)
    assert [e.kind for e in events][:3] == ["request", "commit", "response"]
    assert "fault" in [e.kind for e in events]


def test_reset_starts_a_fresh_run_with_zeroed_clock_ledgers_and_counters() -> None:
    world = World(
        [Notes()],
        faults=[
            FaultRule(fault=RateLimit(), target=Target.parse("notes: POST /notes"), calls=(1,))
        ],
    )
    with world:
        assert httpx.post(URL, json={"text": "a"}).status_code == 429
        assert httpx.post(URL, json={"text": "a"}).status_code == 201
        world.clock.advance(5)
    world.reset(seed=1)
    assert (len(world.trace), world.ledger("notes"), world.clock.monotonic()) == (0, (), 0.0)
    with world:
        assert httpx.post(URL, json={"text": "a"}).status_code == 429


def test_sleeps_inside_a_world_are_virtual_and_recorded_in_the_trace() -> None:
    import time

    with World([Notes()]) as world:
        for backoff in (1, 2, 4, 8):
            time.sleep(backoff)
    assert world.clock.monotonic() == 15
    assert [e.seconds for e in world.trace.of("sleep")] == [1, 2, 4, 8]  # type: ignore[union-attr]
