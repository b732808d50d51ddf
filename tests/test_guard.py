"""The guard: no DNS, connection or process gets around the fakes while a world is active.

No test here touches the network: every refused name (``api.stripe.com``, ``example.org``…) is
refused by chaoskit's audit hook before the resolver runs, which the ``chaoskit:`` message of
the error proves (a real lookup, or a real connect, would fail with the system's own message).
"""

from __future__ import annotations

import asyncio
import asyncio.base_events
import http.server
import importlib
import multiprocessing
import os
import socket
import subprocess
import tempfile
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import urllib3

from chaoskit import World
from chaoskit.engine.guarding import guard_findings, unrouted_findings
from chaoskit.world import guard as guard_module
from chaoskit.world.trace import GuardEvent, Trace
from tests.conftest import Notes

_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """urllib would otherwise look up the proxy, not the host under test."""
    for name in _PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


def _guard_events(world: World) -> list[GuardEvent]:
    return [e for e in world.trace.events if isinstance(e, GuardEvent)]


def _chaoskit(error: BaseException) -> str:
    """The refusal's own message (``strerror``), checked to be chaoskit's."""
    assert isinstance(error, OSError), error
    message = str(error.strerror)
    assert message.startswith("chaoskit:"), message
    return message


def _single_finding(world: World, kind: str) -> str:
    findings = guard_findings(world.trace.events)
    assert [f.kind for f in findings] == [kind]
    return findings[0].message


# -- what stays allowed ------------------------------------------------------------------------


def test_httpx_is_still_served_by_the_fakes() -> None:
    with World([Notes()]) as world:
        response = httpx.post("https://notes.chaoskit.test/notes", json={"text": "a"})
    assert response.status_code == 201
    assert len(world.ledger("notes")) == 1
    assert _guard_events(world) == []


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
def loopback_server() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=1)


def test_loopback_servers_and_names_stay_reachable(loopback_server: int) -> None:
    with World([Notes()]) as world:
        for host in ("127.0.0.1", "localhost"):
            url = f"http://{host}:{loopback_server}/"
            with urllib.request.urlopen(url, timeout=1) as response:
                assert response.read() == b"hello from loopback"
        assert socket.getaddrinfo("localhost", 80)
        assert socket.getaddrinfo(None, 80)
        assert socket.getaddrinfo("::1", 80)
        assert socket.gethostbyaddr("127.0.0.1")
        # an IP literal is parsed, never looked up: only connecting to it is refused
        assert socket.getaddrinfo("203.0.113.9", 443)
    assert _guard_events(world) == []


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="no Unix sockets on this platform")
def test_unix_sockets_stay_allowed() -> None:
    with tempfile.TemporaryDirectory(dir="/tmp") as folder:
        path = str(Path(folder) / "s")
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(path)
        server.listen(1)
        try:
            with World([Notes()]) as world:
                client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                client.connect(path)
                client.close()
        finally:
            server.close()
    assert _guard_events(world) == []


# -- DNS and connections -----------------------------------------------------------------------


def _urllib(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:  # urllib.request raises it for a 4xx
        return error.code


def _urllib3(url: str) -> int:
    return urllib3.PoolManager().request("GET", url).status


def _aiohttp(url: str) -> int:
    import aiohttp

    async def fetch() -> int:
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            return response.status

    return asyncio.run(fetch())


CLIENTS = pytest.mark.parametrize(
    "call", [_urllib, _urllib3, _aiohttp], ids=["urllib.request", "urllib3", "aiohttp"]
)


@CLIENTS
def test_urllib_urllib3_and_aiohttp_reach_the_fakes_and_the_guard_stays_silent(
    call: Callable[[str], int],
) -> None:
    # no credentials: the payments fake itself answers 401, as Stripe would
    with World() as world:
        status = call("https://api.stripe.com/v1/charges")
    assert status == 401
    assert _guard_events(world) == []
    assert [e.backend for e in world.trace.of("request")] == ["payments"]  # type: ignore[attr-defined]


@CLIENTS
def test_a_host_no_fake_serves_stays_refused_with_each_client_s_connection_error(
    call: Callable[[str], int],
) -> None:
    import aiohttp

    refused = (
        urllib.error.URLError,
        urllib3.exceptions.MaxRetryError,
        aiohttp.ClientConnectorError,
    )
    with World() as world, pytest.raises(refused) as info:
        call("https://api.example.org/v1/x")
    error = info.value
    if isinstance(error, urllib.error.URLError):
        assert isinstance(error.reason, ConnectionRefusedError)
    if isinstance(error, urllib3.exceptions.MaxRetryError):
        assert isinstance(error.reason, urllib3.exceptions.NewConnectionError)
    assert "chaoskit: no fake backend serves host 'api.example.org'" in str(error)
    assert "api.stripe.com (payments)" in str(error)  # the known hosts
    assert _guard_events(world) == []  # nothing reached a socket: no DNS lookup to refuse
    findings = [f for f in unrouted_findings(world) if f.kind == "unknown_host"]
    assert len(findings) == 1, findings  # urllib3's retries are one finding
    assert "GET https://api.example.org/v1/x" in findings[0].message


def test_a_library_is_named_from_its_coroutine_though_the_lookup_runs_in_a_thread() -> None:
    # aiohttp's resolver awaits loop.getaddrinfo, whose lookup runs in a worker thread: the
    # check runs before the hand-off, where the coroutine chain still shows aiohttp (an aiohttp
    # session is routed before it resolves anything: only a way around that gets this far)
    namespace: dict[str, Any] = {"__name__": "aiohttp.resolver", "asyncio": asyncio}
    exec(
        "async def resolve(host):\n"
        "    return await asyncio.get_running_loop().getaddrinfo(host, 443)\n",
        namespace,
    )
    with World() as world, pytest.raises(socket.gaierror) as info:
        asyncio.run(namespace["resolve"]("api.stripe.com"))
    assert (
        "chaoskit: aiohttp bypassed chaoskit's routing (a custom transport, adapter or "
        "connection class): its DNS lookup of 'api.stripe.com' was refused"
    ) in _chaoskit(info.value)
    [event] = _guard_events(world)
    assert (event.library, event.backend) == ("aiohttp", "payments")


def test_asyncio_lookups_are_refused_before_the_worker_thread() -> None:
    async def connect() -> None:
        await asyncio.open_connection("api.stripe.com", 443)

    with World() as world, pytest.raises(socket.gaierror) as info:
        asyncio.run(connect())
    message = _chaoskit(info.value)
    assert "DNS lookup of 'api.stripe.com' (loop.getaddrinfo) was refused" in message
    [event] = _guard_events(world)
    assert (event.what, event.target) == ("dns", "api.stripe.com:443")
    _single_finding(world, "network_refused")


def test_a_raw_connect_to_a_remote_address_is_refused() -> None:
    with World([Notes()]) as world, pytest.raises(ConnectionRefusedError) as info:
        socket.create_connection(("8.8.8.8", 53), timeout=1)
    message = _chaoskit(info.value)
    assert message.startswith("chaoskit: refused a real network connection to 8.8.8.8:53")
    assert "raw socket.connect call" in message
    [event] = _guard_events(world)
    assert (event.what, event.target, event.library) == ("connect", "8.8.8.8:53", None)
    finding = _single_finding(world, "network_refused")
    assert "connected to 8.8.8.8:53 with a raw socket call" in finding


def _connect_ex_v6() -> object:
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("2001:db8::1", 443, 0, 0))


def _sendto() -> object:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        return sock.sendto(b"x", ("203.0.113.9", 53))


def _sendto_via_c() -> object:
    # the C method itself, past the Python-level check: the audit hook refuses it
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        return socket.SocketType.sendto(sock, b"x", ("203.0.113.9", 53))


@pytest.mark.parametrize(
    "send", [_connect_ex_v6, _sendto, _sendto_via_c], ids=["connect_ex-ipv6", "sendto", "c-sendto"]
)
def test_every_way_of_sending_to_a_remote_address_is_refused(send: Callable[[], object]) -> None:
    if send is _connect_ex_v6 and not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    with World([Notes()]) as world, pytest.raises(ConnectionRefusedError) as info:
        send()
    _chaoskit(info.value)
    assert [e.what for e in _guard_events(world)] == ["connect"]


def test_a_raw_lookup_is_refused() -> None:
    with World([Notes()]) as world, pytest.raises(socket.gaierror) as info:
        socket.getaddrinfo("example.org", 443)
    message = _chaoskit(info.value)
    assert "a DNS lookup of 'example.org' (socket.getaddrinfo) was refused" in message
    assert "Use httpx, httpx2, requests, aiohttp, urllib3 or urllib.request" in message
    [event] = _guard_events(world)
    assert (event.what, event.target, event.backend) == ("dns", "example.org:443", None)
    _single_finding(world, "network_refused")


@pytest.mark.parametrize(
    "lookup",
    [
        lambda: socket.gethostbyname("example.org"),
        lambda: socket.gethostbyname_ex("example.org"),
        lambda: socket.gethostbyaddr("203.0.113.9"),
        lambda: socket.getnameinfo(("203.0.113.9", 443), 0),
    ],
    ids=["gethostbyname", "gethostbyname_ex", "gethostbyaddr", "getnameinfo"],
)
def test_every_lookup_function_is_refused(lookup: Callable[[], object]) -> None:
    with World([Notes()]) as world, pytest.raises(socket.gaierror) as info:
        lookup()
    _chaoskit(info.value)
    assert [e.what for e in _guard_events(world)] == ["dns"]


def test_a_host_name_in_a_connect_address_is_refused_before_connect_resolves_it() -> None:
    # socket.connect resolves a name itself, before its audit event: checked in Python first
    with (
        World([Notes()]) as world,
        socket.socket() as sock,
        pytest.raises(socket.gaierror) as info,
    ):
        sock.connect(("example.org", 443))
    assert "DNS lookup of 'example.org'" in _chaoskit(info.value)
    assert [e.what for e in _guard_events(world)] == ["dns"]


def test_refusals_apply_in_every_thread() -> None:
    errors: list[BaseException] = []

    def lookup() -> None:
        try:
            socket.getaddrinfo("example.org", 443)
        except BaseException as error:
            errors.append(error)

    with World([Notes()]) as world:
        thread = threading.Thread(target=lookup)
        thread.start()
        thread.join(timeout=1)
    [error] = errors
    assert isinstance(error, socket.gaierror)
    _chaoskit(error)
    assert len(_guard_events(world)) == 1


# -- processes ---------------------------------------------------------------------------------


def test_subprocess_is_refused_naming_the_command() -> None:
    with World([Notes()]) as world, pytest.raises(PermissionError) as info:
        subprocess.run(["curl", "https://api.stripe.com/v1/charges"], check=False)
    message = _chaoskit(info.value)
    assert "subprocess.Popen('curl https://api.stripe.com/v1/charges')" in message
    assert "outside the fakes and the virtual clock" in message
    assert "give chaoskit its command (--chaos-agent-cmd, chaoskit.command_agent)" in message
    [event] = _guard_events(world)
    assert (event.what, event.target, event.library) == (
        "process",
        "curl https://api.stripe.com/v1/charges",
        "subprocess.Popen",
    )
    finding = _single_finding(world, "process_spawned")
    assert "started a process with subprocess.Popen (curl https://api.stripe.com/v1" in finding


def test_os_system_is_refused() -> None:
    with World([Notes()]) as world, pytest.raises(PermissionError) as info:
        os.system("true")
    assert "os.system('true')" in _chaoskit(info.value)
    assert [(e.what, e.target, e.library) for e in _guard_events(world)] == [
        ("process", "true", "os.system")
    ]
    _single_finding(world, "process_spawned")


@pytest.mark.parametrize(
    "start",
    [
        lambda: os.execv("/nonexistent/chaoskit-test", ["chaoskit-test"]),
        lambda: os.posix_spawn("/nonexistent/chaoskit-test", ["chaoskit-test"], {}),
    ],
    ids=["exec", "posix_spawn"],
)
def test_exec_and_posix_spawn_are_refused(start: Callable[[], object]) -> None:
    # a path that does not exist: were the guard broken, this fails instead of replacing pytest
    with World([Notes()]) as world, pytest.raises(PermissionError) as info:
        start()
    _chaoskit(info.value)
    assert [e.target for e in _guard_events(world)] == ["chaoskit-test"]


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_multiprocessing_is_refused(method: str) -> None:
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {method} start method on this platform")
    context: Any = multiprocessing.get_context(method)  # typeshed: a BaseContext, no Process
    process = context.Process(target=os.getpid)
    with World([Notes()]) as world, pytest.raises(PermissionError) as info:
        process.start()
    assert "chaoskit: refused to start a process while a world is active: multiprocessing" in (
        _chaoskit(info.value)
    )
    assert {e.library for e in _guard_events(world)} == {"multiprocessing"}
    _single_finding(world, "process_spawned")


def test_chaoskits_own_start_of_an_agent_command_is_allowed_and_only_it() -> None:
    with World([Notes()]) as world:
        with guard_module.allowed_start():
            assert subprocess.run(["true"], check=False).returncode == 0
        with pytest.raises(PermissionError):  # the allowance ended with its block
            subprocess.run(["true"], check=False)
        refused: list[BaseException] = []

        def elsewhere() -> None:
            try:
                subprocess.run(["true"], check=False)
            except PermissionError as error:
                refused.append(error)

        with guard_module.allowed_start():  # another thread, meanwhile, is still refused
            other = threading.Thread(target=elsewhere)
            other.start()
            other.join()
        assert len(refused) == 1
    assert [e.target for e in _guard_events(world)] == ["true", "true"]


# -- after the world ---------------------------------------------------------------------------


def test_everything_works_again_after_the_world() -> None:
    posix = importlib.import_module("_posixsubprocess")
    before = (posix.fork_exec, asyncio.base_events.BaseEventLoop.getaddrinfo)
    with World([Notes()]), pytest.raises(PermissionError):
        subprocess.run(["true"], check=False)
    assert guard_module._active is None
    assert (posix.fork_exec, asyncio.base_events.BaseEventLoop.getaddrinfo) == before
    assert subprocess.run(["true"], check=False).returncode == 0
    assert socket.getaddrinfo("localhost", 80)
    with World([Notes()]), pytest.raises(socket.gaierror):  # and the next world is guarded
        socket.getaddrinfo("example.org", 443)


def test_the_check_refuses_outside_a_world_without_recording() -> None:
    with pytest.raises(ConnectionRefusedError, match="chaoskit: refused a real network"):
        guard_module.check_address(("203.0.113.9", 443))
    guard_module.check_address(("127.0.0.1", 8080))
    guard_module.check_address(("::ffff:127.0.0.1", 8080, 0, 0), socket.AF_INET6)
    guard_module.check_address("/run/some.sock", socket.AF_UNIX)


# -- findings ----------------------------------------------------------------------------------


def test_guard_events_round_trip_through_the_trace_json_and_become_findings() -> None:
    trace = Trace()
    trace.add(
        GuardEvent, 1.5, what="dns", target="a.example:443", library="websockets", message="m"
    )
    trace.add(GuardEvent, 2.0, what="connect", target="10.0.0.1:5432", message="m")
    trace.add(GuardEvent, 2.5, what="process", target="curl x", library="subprocess", message="m")
    trace.add(
        GuardEvent, 3.0, what="dns", target="a.example:443", library="websockets", message="m"
    )
    events = Trace.from_json(trace.to_json())
    assert events == list(trace.events)
    findings = guard_findings(events)
    assert [f.kind for f in findings] == ["network_refused", "network_refused", "process_spawned"]
    first, second, third = (f.message for f in findings)
    assert first.startswith("The agent looked up a.example:443 in DNS with websockets at t=1.5s")
    assert "(2 times)" in first
    assert "connected to 10.0.0.1:5432 with a raw socket call" in second
    assert "started a process with subprocess (curl x)" in third
