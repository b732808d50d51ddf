"""aiohttp, urllib3 and urllib.request / http.client reach the fakes, and see faults as their own.

Each client is routed at its connection and speaks HTTP/1.1 to the world in memory, so what
these tests pin is the library's own behaviour on top: its exceptions, its retries, its
parsing of headers and bodies. No test touches the network.
"""

from __future__ import annotations

import asyncio
import http.client
import http.server
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp
import httpx
import pytest
import requests
import urllib3
from urllib3.util.retry import Retry

from chaoskit import (
    ConnectionReset,
    FaultRule,
    RateLimit,
    Target,
    TimeoutAfterCommit,
    TimeoutBeforeCommit,
    World,
)
from chaoskit.fakes import FakeBackend, FakeRequest, route
from chaoskit.world.timepatch import run_virtual
from tests.conftest import Notes

URL = "https://notes.chaoskit.test/notes"
SHOP = "https://shop.chaoskit.test"
BODY = json.dumps({"text": "hello"}).encode()
JSON = {"Content-Type": "application/json"}


class Shop(FakeBackend):
    """Answers with what clients must keep apart: two cookies, a long body, a 404."""

    name = "shop"
    default_host = "shop.chaoskit.test"

    def new_state(self) -> dict[str, str]:
        return {}

    @route("POST", "/login")
    def login(self, req: FakeRequest) -> httpx.Response:
        cookies = [("Set-Cookie", "session=abc; Path=/"), ("Set-Cookie", "theme=dark; Path=/")]
        return httpx.Response(200, headers=cookies, json={"ok": True})

    @route("GET", "/catalogue")
    def catalogue(self, req: FakeRequest) -> httpx.Response:
        return self.respond(200, {"items": [f"item-{i:04d}" for i in range(2000)]})


def _rule(fault: Any, target: str = "notes: POST /notes", calls: tuple[int, ...] = (1,)) -> Any:
    return FaultRule(fault=fault, target=Target.parse(target), calls=calls)


def _requests(world: World) -> list[Any]:
    return list(world.trace.of("request"))


# -- reaching the fakes ------------------------------------------------------------------------


async def _aiohttp_post(session: aiohttp.ClientSession) -> int:
    async with session.post(URL, json={"text": "aiohttp"}) as response:
        return response.status


def test_each_client_reaches_the_fake_and_is_named_in_the_trace() -> None:
    async def with_aiohttp() -> int:
        async with aiohttp.ClientSession() as session:
            return await _aiohttp_post(session)

    connection = http.client.HTTPSConnection("notes.chaoskit.test", timeout=5)
    with World([Notes()]) as world:
        assert asyncio.run(with_aiohttp()) == 201
        assert urllib3.request("POST", URL, body=BODY, headers=JSON).status == 201
        request = urllib.request.Request(URL, data=BODY, headers=JSON)
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 201
        connection.request("POST", "/notes", body=BODY, headers=JSON)
        assert connection.getresponse().status == 201
    assert [e.client for e in _requests(world)] == ["aiohttp", "urllib3", "urllib", "http.client"]
    assert len(world.ledger("notes")) == 4


def test_sessions_pools_and_connections_made_before_the_world_are_routed_too() -> None:
    pool = urllib3.PoolManager()
    connection = http.client.HTTPSConnection("notes.chaoskit.test")

    async def session_first() -> int:
        session = aiohttp.ClientSession()  # made before the world, used inside it
        try:
            with World([Notes()]) as inner:
                status = await _aiohttp_post(session)
            assert len(inner.ledger("notes")) == 1
            return status
        finally:
            await session.close()

    assert asyncio.run(session_first()) == 201
    with World([Notes()]) as world:
        assert pool.request("POST", URL, body=BODY, headers=JSON).status == 201
        connection.request("POST", "/notes", body=BODY, headers=JSON)
        assert connection.getresponse().status == 201
    assert len(world.ledger("notes")) == 2


def test_a_kept_alive_connection_serves_request_after_request() -> None:
    async def three_calls() -> list[int]:
        async with aiohttp.ClientSession() as session:
            return [await _aiohttp_post(session) for _ in range(3)]

    with World([Notes()]) as world:
        assert asyncio.run(three_calls()) == [201, 201, 201]
        pool = urllib3.HTTPSConnectionPool("notes.chaoskit.test", maxsize=1)
        for _ in range(3):
            assert pool.request("POST", "/notes", body=BODY, headers=JSON).status == 201
        assert pool.num_connections == 1  # one connection, reused
    assert len(world.ledger("notes")) == 6


@pytest.mark.parametrize("via", ["requests", "urllib3", "urllib", "aiohttp"])
def test_every_request_is_dispatched_exactly_once(
    via: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # requests is built on urllib3 and urllib3 on http.client: one interception each, not two
    calls: list[str] = []
    dispatch = World.dispatch

    def counted(self: World, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        calls.append(kwargs["client"])
        return dispatch(self, request, **kwargs)

    monkeypatch.setattr(World, "dispatch", counted)

    async def with_aiohttp() -> None:
        async with aiohttp.ClientSession() as session:
            await _aiohttp_post(session)

    with World([Notes()]) as world:
        if via == "requests":
            requests.post(URL, json={"text": "x"}, timeout=5)
        elif via == "urllib3":
            urllib3.request("POST", URL, body=BODY, headers=JSON)
        elif via == "urllib":
            urllib.request.urlopen(urllib.request.Request(URL, data=BODY, headers=JSON))
        else:
            asyncio.run(with_aiohttp())
    assert calls == [via]
    assert len(world.ledger("notes")) == 1


# -- responses -----------------------------------------------------------------------------------


def test_repeated_set_cookie_headers_reach_every_client_apart() -> None:
    async def with_aiohttp() -> tuple[list[str], set[str]]:
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{SHOP}/login") as response:
                cookies = response.headers.getall("Set-Cookie")
            return cookies, {c.key for c in session.cookie_jar}

    with World([Shop()]):
        cookies, jar = asyncio.run(with_aiohttp())
        three = urllib3.request("POST", f"{SHOP}/login").headers.getlist("Set-Cookie")
        with urllib.request.urlopen(urllib.request.Request(f"{SHOP}/login", data=b"")) as r:
            lib = r.headers.get_all("Set-Cookie")
    both = ["session=abc; Path=/", "theme=dark; Path=/"]
    assert cookies == three == lib == both
    assert jar == {"session", "theme"}  # aiohttp's cookie jar took both


def test_bodies_stream_in_chunks_and_parse_as_json() -> None:
    async def with_aiohttp() -> tuple[bytes, bytes, int]:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{SHOP}/catalogue") as response:
                first = await response.content.read(100)
                rest = b"".join([chunk async for chunk in response.content.iter_chunked(1024)])
            async with session.get(f"{SHOP}/catalogue") as response:
                items = len((await response.json())["items"])
            return first, rest, items

    with World([Shop()]):
        first, rest, items = asyncio.run(with_aiohttp())
        streamed = urllib3.request("GET", f"{SHOP}/catalogue", preload_content=False)
        chunks = list(streamed.stream(1024))
        streamed.release_conn()
        whole = urllib3.request("GET", f"{SHOP}/catalogue").json()
    assert len(first) == 100 and items == 2000
    assert json.loads(first + rest)["items"][-1] == "item-1999"
    assert len(chunks) > 10 and all(len(c) <= 1024 for c in chunks)
    assert json.loads(b"".join(chunks)) == whole


def test_urllib_raises_http_error_for_4xx_with_the_fake_s_body() -> None:
    with World([Notes()]), pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"{URL}/note_missing", timeout=5)
    assert info.value.code == 404
    assert json.loads(info.value.read())["error"]["code"] == "resource_missing"
    assert info.value.headers["Request-Id"].startswith("req_")


# -- timeouts ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("timeout", "error", "waited"),
    [
        (aiohttp.ClientTimeout(total=10), TimeoutError, 10.0),
        (aiohttp.ClientTimeout(total=60, sock_read=7), aiohttp.SocketTimeoutError, 7.0),
        (aiohttp.ClientTimeout(sock_read=5), aiohttp.ServerTimeoutError, 5.0),
    ],
    ids=["total", "sock_read-first", "sock_read-only"],
)
def test_aiohttp_times_out_as_its_own_timer_would_after_committing(
    timeout: aiohttp.ClientTimeout, error: type[Exception], waited: float
) -> None:
    async def post() -> None:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            await _aiohttp_post(session)

    with World([Notes()], faults=[_rule(TimeoutAfterCommit())]) as world:
        with pytest.raises(error) as info:
            run_virtual(post(), world.clock)  # the engine runs async agents on this loop
        assert world.clock.monotonic() == waited
    if error is TimeoutError:  # the bare one aiohttp raises when the total runs out
        assert type(info.value) is TimeoutError
    assert len(world.ledger("notes")) == 1  # it committed all the same


def test_urllib3_raises_read_timeout_error_naming_its_pool_and_url() -> None:
    pool = urllib3.PoolManager()
    with World([Notes()], faults=[_rule(TimeoutAfterCommit())]) as world:
        with pytest.raises(urllib3.exceptions.ReadTimeoutError) as info:
            pool.request("POST", URL, body=BODY, headers=JSON, timeout=4)
        assert world.clock.monotonic() == 4.0
    assert info.value.url == "/notes"
    assert info.value.pool.host == "notes.chaoskit.test"
    assert "Read timed out. (read timeout=4)" in str(info.value)
    assert len(world.ledger("notes")) == 1


def test_urllib3_retries_a_timed_out_get_three_times_by_default_and_a_post_never() -> None:
    # urllib3's default Retry(3) retries read errors of idempotent methods only
    every = (1, 2, 3, 4)
    with World([Notes()], faults=[_rule(TimeoutBeforeCommit(), "notes: GET /notes", every)]):
        with pytest.raises(urllib3.exceptions.MaxRetryError) as info:
            urllib3.request("GET", URL, timeout=2)
        assert isinstance(info.value.reason, urllib3.exceptions.ReadTimeoutError)
    posts = [_rule(TimeoutBeforeCommit(), calls=every)]
    with (
        World([Notes()], faults=posts) as world,
        pytest.raises(urllib3.exceptions.ReadTimeoutError),
    ):
        urllib3.request("POST", URL, body=BODY, headers=JSON, timeout=2)
    assert len(_requests(world)) == 1


def test_urllib3_honours_the_callers_retry_and_its_retry_after() -> None:
    limited = _rule(RateLimit(retry_after=12), "notes: GET /notes")
    retry = Retry(total=2, status_forcelist=[429], backoff_factor=0)
    with World([Notes()], faults=[limited]) as world:
        assert urllib3.request("GET", URL, retries=retry).status == 200
        assert world.clock.monotonic() == 12.0  # slept what Retry-After said, in virtual time
    assert len(_requests(world)) == 2
    with World([Notes()], faults=[limited]):
        assert urllib3.request("GET", URL, retries=False).status == 429


def test_urllib_lets_the_socket_timeout_through_as_urlopen_does() -> None:
    request = urllib.request.Request(URL, data=BODY, headers=JSON)
    with World([Notes()], faults=[_rule(TimeoutAfterCommit())]) as world:
        with pytest.raises(TimeoutError, match="timed out"):
            urllib.request.urlopen(request, timeout=3)
        assert world.clock.monotonic() == 3.0
    assert len(world.ledger("notes")) == 1


# -- resets --------------------------------------------------------------------------------------


def test_a_reset_is_each_client_s_own_connection_error() -> None:
    reset = [_rule(ConnectionReset(phase="after_commit"), calls=(1, 2, 3))]

    async def post() -> None:
        async with aiohttp.ClientSession() as session:
            await _aiohttp_post(session)

    with World([Notes()], faults=reset) as world:
        with pytest.raises(aiohttp.ClientConnectionError) as aio:
            asyncio.run(post())
        with pytest.raises(urllib3.exceptions.ProtocolError) as three:
            urllib3.request("POST", URL, body=BODY, headers=JSON)
        with pytest.raises(ConnectionResetError):
            urllib.request.urlopen(urllib.request.Request(URL, data=BODY, headers=JSON))
    assert isinstance(aio.value, aiohttp.ClientOSError) and aio.value.errno == 104
    assert isinstance(three.value.args[1], ConnectionResetError)
    assert len(world.ledger("notes")) == 3


def test_aiohttp_retries_an_idempotent_request_once_after_a_reset_as_it_does_for_real() -> None:
    async def get() -> int:
        async with aiohttp.ClientSession() as session, session.get(URL) as response:
            return response.status

    with World([Notes()], faults=[_rule(ConnectionReset(), "notes: GET /notes")]) as world:
        assert asyncio.run(get()) == 200
    assert len(_requests(world)) == 2


# -- virtual time and loopback ---------------------------------------------------------------------


def test_an_aiohttp_backoff_on_retry_after_costs_virtual_time_only() -> None:
    async def patient() -> int:
        async with aiohttp.ClientSession() as session:
            while True:
                async with session.get(URL) as response:
                    if response.status != 429:
                        return response.status
                    await asyncio.sleep(float(response.headers["Retry-After"]))

    limited = _rule(RateLimit(retry_after=30), "notes: GET /notes", calls=(1, 2))
    with World([Notes()], faults=[limited]) as world:
        assert run_virtual(patient(), world.clock) == 200
        assert world.clock.monotonic() == 60.0


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"hello from loopback"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def loopback() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=1)


def test_a_loopback_server_no_fake_serves_is_reached_for_real(loopback: str) -> None:
    async def with_aiohttp() -> bytes:
        async with aiohttp.ClientSession() as session, session.get(loopback) as response:
            return await response.read()

    fetch: list[Callable[[], bytes]] = [
        lambda: asyncio.run(with_aiohttp()),
        lambda: urllib3.request("GET", loopback).data,
        lambda: urllib.request.urlopen(loopback, timeout=5).read(),
    ]
    with World([Notes()]) as world:
        assert [f() for f in fetch] == [b"hello from loopback"] * 3
    assert _requests(world) == []  # not the world's business


def test_the_interception_is_undone_after_the_world() -> None:
    before = (
        aiohttp.TCPConnector._create_connection,
        urllib3.connection.HTTPSConnection.connect,
        http.client.HTTPSConnection.connect,
    )
    with World([Notes()]):
        assert http.client.HTTPSConnection.connect is not before[2]
    after = (
        aiohttp.TCPConnector._create_connection,
        urllib3.connection.HTTPSConnection.connect,
        http.client.HTTPSConnection.connect,
    )
    assert after == before


def test_a_pooled_connection_kept_past_its_world_serves_the_next_world_or_is_dropped() -> None:
    pool = urllib3.PoolManager()
    with World([Notes()]):
        pool.request("POST", URL, body=BODY, headers=JSON)
    with World([Notes()]) as later:
        pool.request("POST", URL, body=BODY, headers=JSON)
    assert len(later.ledger("notes")) == 1  # the later world served it, not the first
    queue = pool.connection_from_url(URL).pool
    assert queue is not None
    [kept] = [conn for conn in queue.queue if conn is not None]
    assert kept.sock is not None  # still open in memory …
    assert urllib3.util.connection.is_connection_dropped(kept)  # … but dropped outside a world


def test_what_the_engine_raises_while_serving_an_aiohttp_body_reaches_the_agent_s_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # aiohttp writes a body from a task of its own: an exception raised while serving it (a
    # Hypothesis draw ending the example) must still surface where the agent awaits the call
    class Stop(BaseException):
        pass

    def stop(self: World, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        raise Stop

    monkeypatch.setattr(World, "dispatch", stop)

    async def post() -> None:
        async with aiohttp.ClientSession() as session:
            await _aiohttp_post(session)

    with World([Notes()]) as world, pytest.raises(Stop):
        run_virtual(post(), world.clock)


def test_a_served_url_reaches_the_fake_in_memory_while_the_world_is_active() -> None:
    # World.serve() puts the fakes on loopback for other processes; in this one, a client
    # pointed at a served URL is routed like httpx: straight to the fake, not over the wire
    world = World([Notes()])
    with world, world.serve() as served:
        url = f"{served.urls['notes']}/notes"
        assert urllib3.request("POST", url, body=BODY, headers=JSON).status == 201
        with urllib.request.urlopen(urllib.request.Request(url, data=BODY, headers=JSON)) as r:
            assert r.status == 201
    assert [e.client for e in _requests(world)] == ["urllib3", "urllib"]


def test_urlopen_shares_one_tls_context_inside_a_world() -> None:
    # each urlopen builds an HTTPSConnection, which loads the CA bundle (~25 ms) unless shared
    with World([Notes()]):
        first = http.client.HTTPSConnection("notes.chaoskit.test")
        second = http.client.HTTPSConnection("notes.chaoskit.test")
        assert first._context is second._context  # type: ignore[attr-defined]
    outside = http.client.HTTPSConnection("notes.chaoskit.test")
    assert outside._context is not first._context  # type: ignore[attr-defined]
