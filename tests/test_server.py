"""Server mode: the fakes on loopback over real HTTP/1.1, faults on the wire, clean shutdown.

Everything here talks to 127.0.0.1 only. The clients are real: httpx and http.client in this
process, raw sockets where the bytes matter, and the stripe SDK in another process.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
from urllib.parse import urlsplit

import httpx
import pytest

from chaoskit import (
    ConnectionReset,
    FaultRule,
    Latency,
    RateLimit,
    ServerError,
    Target,
    TimeoutAfterCommit,
    World,
    WorldError,
)
from chaoskit.core.agent import Budget, Principal, Task
from chaoskit.engine.runner import run_agent
from chaoskit.engine.serving import served_world
from chaoskit.invariants import RunView, build_invariant
from chaoskit.scenarios import resolve_scenario
from chaoskit.world.data import WorldRecipe, build_world
from chaoskit.world.trace import FaultEvent, RequestEvent

pytest_plugins = ["pytester"]

KEY = {"Authorization": "Bearer sk_test_chaoskit"}
REFUNDS = "payments: POST /v1/refunds"


def rule(fault: object, target: str = REFUNDS, calls: tuple[int, ...] = (1,)) -> FaultRule:
    return FaultRule.model_validate(
        {"fault": fault, "target": Target.parse(target), "calls": calls}
    )


def world_with(*rules: FaultRule) -> tuple[World, str]:
    """A default world with these faults and its generated data; and the id of its charge."""
    world = World(faults=rules)
    charge = build_world(0, WorldRecipe(), world.backends).orders[0].charge_id
    assert charge is not None
    return world, charge


@pytest.fixture
def setup() -> tuple[World, str]:
    return world_with()


def refund(base: str, charge: str, *, timeout: float = 5.0) -> httpx.Response:
    return httpx.post(
        f"{base}/v1/refunds", data={"charge": charge, "amount": 100}, headers=KEY, timeout=timeout
    )


def effects(world: World, kind: str) -> list[str]:
    return [e.object_id for entries in world.ledgers.values() for e in entries if e.kind == kind]


# -- a real SDK in a real other process ----------------------------------------------------------

STRIPE_AGENT = textwrap.dedent(
    """
    import os, stripe
    client = stripe.StripeClient(
        os.environ["STRIPE_API_KEY"], base_addresses={"api": os.environ["STRIPE_API_BASE"]}
    )
    refund = client.v1.refunds.create(params={"charge": os.environ["CHARGE"], "amount": 500})
    print(refund.id)
    """
)


def test_the_stripe_sdk_in_another_process_refunds_through_the_served_fake(setup) -> None:
    world, charge = setup
    with world.serve() as server:
        env = {**os.environ, **server.env, "CHARGE": charge}
        done = subprocess.run(
            [sys.executable, "-c", STRIPE_AGENT], env=env, capture_output=True, text=True
        )
    assert done.returncode == 0, done.stderr
    refund_id = done.stdout.strip()
    assert refund_id.startswith("re_")
    assert effects(world, "refund.created") == [refund_id]
    requests = [e for e in world.trace.events if isinstance(e, RequestEvent)]
    assert [(r.client, r.method, r.route) for r in requests] == [
        ("server", "POST", "POST /v1/refunds")
    ]


# -- faults on the wire --------------------------------------------------------------------------


def test_a_timeout_holds_the_connection_until_the_client_gives_up_after_the_commit() -> None:
    world, charge = world_with(rule(TimeoutAfterCommit()))
    with world.serve() as server:
        with pytest.raises(httpx.ReadTimeout):
            refund(server.urls["payments"], charge, timeout=0.3)
        second = refund(server.urls["payments"], charge)  # the rule pinned call 1 only
    assert second.status_code == 200
    assert len(effects(world, "refund.created")) == 2  # the timed-out one committed too
    assert [e.fault for e in world.trace.events if isinstance(e, FaultEvent)] == [
        "timeout_after_commit"
    ]


def test_a_held_connection_ends_when_the_client_gives_up_not_at_the_cap() -> None:
    world, charge = world_with(rule(TimeoutAfterCommit()))
    with world.serve(hold=3600) as server:
        with pytest.raises(httpx.ReadTimeout):
            refund(server.urls["payments"], charge, timeout=0.3)
        gone = threading.Event()
        for _ in range(1000):  # up to 10 s; a hold that missed the close would last an hour
            if not [t for t in threading.enumerate() if t.name == "chaoskit-serve-payments"]:
                gone.set()
                break
            gone.wait(0.01)
        assert gone.is_set(), "the held connection outlived its client"


def test_a_client_waiting_longer_than_the_hold_sees_the_connection_dropped() -> None:
    world, charge = world_with(rule(TimeoutAfterCommit()))
    with world.serve(hold=0.05) as server, pytest.raises(httpx.RemoteProtocolError):
        refund(server.urls["payments"], charge, timeout=30)
    assert len(effects(world, "refund.created")) == 1


def test_a_reset_is_a_real_rst_on_the_socket() -> None:
    world, charge = world_with(rule(ConnectionReset(), calls=(1, 2)))
    with world.serve() as server:
        port = urlsplit(server.urls["payments"]).port
        assert port is not None
        body = f"charge={charge}&amount=100".encode()
        with socket.create_connection(("127.0.0.1", port)) as raw:
            raw.sendall(
                b"POST /v1/refunds HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk_test_chaoskit"
                b"\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            with pytest.raises(ConnectionResetError):
                assert raw.recv(1024) == b"", "a FIN (clean close) instead of a reset"
        with pytest.raises(httpx.ReadError, match="reset"):
            refund(server.urls["payments"], charge)
        assert refund(server.urls["payments"], charge).status_code == 200
    assert len(effects(world, "refund.created")) == 1  # before-commit resets changed nothing


@pytest.mark.parametrize(
    ("retry_after", "time_scale", "on_the_wire"),
    [(2.0, 0.05, "1"), (40.0, 0.1, "4"), (2.0, 1.0, "2"), (0.5, 1.0, "1")],
)
def test_a_429_carries_retry_after_in_real_seconds_and_the_backends_shape(
    retry_after: float, time_scale: float, on_the_wire: str
) -> None:
    world, charge = world_with(rule(RateLimit(retry_after=retry_after)))
    with world.serve(time_scale=time_scale) as server:
        limited = refund(server.urls["payments"], charge)
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == on_the_wire
    assert limited.headers["stripe-should-retry"] == "true"
    assert limited.json()["error"]["type"] == "invalid_request_error"
    assert limited.headers["request-id"].startswith("req_")
    assert effects(world, "refund.created") == []


def test_a_5xx_answers_in_the_crm_backends_own_shape() -> None:
    world = World(faults=[rule(ServerError(status=503), "crm: GET /v1/accounts/{id}")])
    with world.serve() as server:
        answer = httpx.get(f"{server.urls['crm']}/v1/accounts/acct_1", headers=KEY)
    assert answer.status_code == 503
    assert set(answer.json()["error"]) >= {"message", "type"}


def test_a_client_that_waits_the_wire_retry_after_honours_it_and_one_that_does_not_is_caught() -> (
    None
):
    verdicts = {}
    for waits in (True, False):
        world, charge = world_with(rule(RateLimit(retry_after=20)))
        with world.serve(time_scale=0.05) as server, httpx.Client(headers=KEY) as http:
            url, form = f"{server.urls['payments']}/v1/refunds", {"charge": charge, "amount": 1}
            first = http.post(url, data=form)
            assert first.headers["retry-after"] == "1"  # 20 virtual seconds × 0.05
            if waits:
                threading.Event().wait(float(first.headers["retry-after"]))  # a real client's wait
            http.post(url, data=form)
        view = RunView("s", "m", None, world.trace.events, world.ledgers)
        honoured = build_invariant("retry_after_honoured", {}, where="test")
        verdicts[waits] = honoured.check(view).status
    assert verdicts == {True: "held", False: "violated"}


def test_a_latency_fault_answers_and_moves_the_clock_by_its_virtual_seconds() -> None:
    world, charge = world_with(rule(Latency(seconds=4)))
    with world.serve(time_scale=0.01) as server:
        assert refund(server.urls["payments"], charge).status_code == 200
    assert world.clock.monotonic() >= 4
    assert [e.fault for e in world.trace.events if isinstance(e, FaultEvent)] == ["latency"]


def test_a_latency_longer_than_the_clients_timeout_times_it_out_after_the_commit() -> None:
    world, charge = world_with(rule(Latency(seconds=600)))  # 30 real seconds at 0.05
    # Stopping must end the answer's 30 s wait: close() raises when a thread outlives its
    # join (10 s), so a wait that ignored it would fail here.
    with world.serve() as server, pytest.raises(httpx.ReadTimeout):
        refund(server.urls["payments"], charge, timeout=0.3)
    assert len(effects(world, "refund.created")) == 1


# -- HTTP/1.1 ------------------------------------------------------------------------------------


def test_one_connection_serves_many_requests_and_chunked_bodies(setup) -> None:
    world, _ = setup
    with world.serve() as server:
        port = urlsplit(server.urls["payments"]).port
        connection = http.client.HTTPConnection("127.0.0.1", port)
        for n in range(3):
            chunks = iter([b"name=", f"c{n}".encode()])
            connection.request(
                "POST",
                "/v1/customers",
                body=chunks,
                headers={**KEY, "Content-Type": "application/x-www-form-urlencoded"},
                encode_chunked=True,
            )
            if n == 0:
                first = connection.sock
            answer = connection.getresponse()
            assert answer.status == 200
            assert json.loads(answer.read())["name"] == f"c{n}"
            assert connection.sock is first  # kept alive, not reconnected
        connection.close()
    assert len(effects(world, "customer.created")) == 3


def exchange(port: int, request: bytes) -> tuple[int, dict[str, str]]:
    """Send raw bytes, read one answer: its status and JSON body."""
    with socket.create_connection(("127.0.0.1", port)) as raw:
        raw.sendall(request)
        answer = http.client.HTTPResponse(raw)
        answer.begin()
        return answer.status, json.loads(answer.read())


def test_broken_framing_is_answered_with_a_chaoskit_error_and_the_next_request_still_served(
    setup,
) -> None:
    world, _ = setup
    with world.serve() as server:
        port = server.ports[0]
        head = (
            b"POST /v1/customers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk_test_chaoskit\r\n"
        )
        status, body = exchange(port, head + b"Transfer-Encoding: chunked\r\n\r\nZZ\r\n")
        assert (status, body["error"]["message"]) == (
            400,
            "chaoskit: bad chunk size line b'ZZ\\r\\n'.",
        )
        status, body = exchange(port, head + b"Transfer-Encoding: gzip\r\n\r\n")
        assert status == 501
        assert "send the body with Content-Length or Transfer-Encoding: chunked" in str(body)
        status, body = exchange(port, head + b"Content-Length: 6\r\n\r\nname=A")
        assert (status, body["name"]) == (200, "A")
    assert len(world.ledger("payments")) == 1


def test_host_routing_serves_every_backend_on_one_port(setup) -> None:
    world, _ = setup
    with world.serve(routing="host") as server:
        assert len(server.ports) == 1
        base = f"http://127.0.0.1:{server.ports[0]}"
        assert server.urls["crm"] == f"{base}/crm"
        assert httpx.get(f"{server.urls['payments']}/v1/charges", headers=KEY).status_code == 200
        for host in ("api.stripe.com", "payments.localhost"):
            answer = httpx.get(f"{base}/v1/charges", headers={**KEY, "Host": host})
            assert answer.json()["object"] == "list"
        lost = httpx.get(f"{base}/paymnts/v1/charges", headers=KEY)
        assert server.backend_of(f"{base}/crm/v1/accounts") == "crm"
    assert lost.status_code == 404
    message = lost.json()["error"]["message"]
    assert message.startswith("chaoskit: no fake backend serves '/paymnts/v1/charges'")
    assert "did you mean 'payments'" in message.lower()


def test_the_env_points_sdks_and_agents_at_the_served_fakes() -> None:
    made = served_world()
    with made.world.serve() as server:
        server.task = made.task
        env = server.env
    assert env["OPENAI_BASE_URL"] == server.urls["openai"] + "/v1"
    assert env["ANTHROPIC_BASE_URL"] == server.urls["anthropic"]
    assert env["STRIPE_API_BASE"] == server.urls["payments"]
    assert env["STRIPE_API_KEY"] == made.task.credentials["payments"]
    assert env["CHAOSKIT_CRM_URL"] == server.urls["crm"]
    assert env["CHAOSKIT_CRM_TOKEN"] == made.task.principal.token


def test_in_process_clients_of_an_active_world_reach_served_urls_directly(setup) -> None:
    world, _ = setup
    with world.serve() as server:
        url = f"{server.urls['payments']}/v1/charges"
        with world:
            answer = httpx.get(url, headers=KEY)
        client = [e.client for e in world.trace.events if isinstance(e, RequestEvent)]
    assert answer.json()["object"] == "list"
    assert client == ["httpx"]  # intercepted in process, never sent to the socket
    with world, pytest.raises(httpx.ConnectError, match="no fake backend serves host"):
        httpx.get(url, headers=KEY)  # once stopped, the address is no backend's


# -- load and shutdown ---------------------------------------------------------------------------


def test_eight_clients_of_500_requests_lose_and_duplicate_nothing_and_leave_nothing(
    setup,
) -> None:
    world, _ = setup
    before = set(threading.enumerate())
    seen: dict[int, list[str]] = {}
    failures: list[BaseException] = []

    def client(k: int, base: str) -> None:
        ids = seen.setdefault(k, [])
        try:
            with httpx.Client(base_url=base, headers=KEY) as http:
                for i in range(500):
                    form = f"name=c{k}-{i}".encode()
                    body = iter([form]) if i % 2 else form  # half of them chunked
                    headers = {"Content-Type": "application/x-www-form-urlencoded"}
                    answer = http.post("/v1/customers", content=body, headers=headers)
                    ids.append(answer.json()["id"])
        except BaseException as error:
            failures.append(error)

    with world.serve() as server:
        ports = server.ports
        threads = [
            threading.Thread(target=client, args=(k, server.urls["payments"])) for k in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert failures == []
    entries = world.ledger("payments")
    client_saw = sorted(i for ids in seen.values() for i in ids)
    assert len(client_saw) == 8 * 500
    assert sorted(e.object_id for e in entries) == client_saw  # nothing lost, nothing twice
    assert sorted(e.fields["name"] for e in entries) == sorted(
        f"c{k}-{i}" for k in range(8) for i in range(500)
    )
    assert set(threading.enumerate()) - before == set()
    for port in ports:
        assert_port_free(port)


def assert_port_free(port: int) -> None:
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    with socket.socket() as again:
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", port))


def test_stopping_ends_idle_keep_alive_and_held_connections() -> None:
    world, charge = world_with(rule(TimeoutAfterCommit()))
    before = set(threading.enumerate())
    server = world.serve(hold=3600)
    port = urlsplit(server.urls["payments"]).port
    assert port is not None
    idle = socket.create_connection(("127.0.0.1", port))
    held = socket.create_connection(("127.0.0.1", port))
    body = f"charge={charge}&amount=100".encode()
    held.sendall(
        b"POST /v1/refunds HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk_test_chaoskit\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    while not effects(world, "refund.created"):  # the refund committed: the hold began
        threading.Event().wait(0.01)
    server.close()
    assert held.recv(1024) == b""  # closed, never answered
    idle.close()
    held.close()
    assert set(threading.enumerate()) - before == set()
    assert_port_free(port)


# -- usage errors --------------------------------------------------------------------------------


def test_bad_options_say_what_to_pass() -> None:
    world = World()
    with pytest.raises(WorldError, match=r"unknown routing 'hosts'. Did you mean 'host'\?"):
        world.serve(routing="hosts")  # type: ignore[arg-type]
    with pytest.raises(WorldError, match="time_scale is real seconds per virtual second"):
        world.serve(time_scale=0)


def test_a_port_in_use_names_the_backend_and_the_fix() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(
            WorldError, match=rf"cannot listen on 127.0.0.1:{port} for the payments"
        ):
            World().serve(port=port)


# -- the engine: the server's threads are chaoskit's ---------------------------------------------


def test_a_servers_connection_threads_are_not_threads_the_agent_left(setup) -> None:
    world, _ = setup
    kept: list[socket.socket] = []
    with world.serve() as server:
        port = urlsplit(server.urls["payments"]).port
        assert port is not None

        def agent(task: Task) -> str:
            raw = socket.create_connection(("127.0.0.1", port))
            raw.sendall(b"GET /v1/charges HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer x\r\n\r\n")
            raw.recv(65536)
            kept.append(raw)  # left open: its connection thread waits for the next request
            return "done"

        task = Task(
            "m", Principal(user_id="u", token="t"), urls={}, credentials={}, budget=Budget()
        )
        with world:
            ran = run_agent(agent, task, world.clock, wall_limit=30)
        serving = [t for t in threading.enumerate() if t.name == "chaoskit-serve-payments"]
        assert serving, "no connection thread alive: the test would prove nothing"
        kept[0].close()
    assert [f.kind for f in ran.findings] == []


# -- the command and the fixture -----------------------------------------------------------------


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_chaoskit_serve_prints_urls_and_env_serves_and_prints_the_ledgers_when_stopped(
    stop: signal.Signals,
) -> None:
    command = [sys.executable, "-m", "chaoskit", "serve", "refund-timeout-after-commit"]
    process = subprocess.Popen(
        [*command, "--pin", "1", "--hold", "20"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    banner = []
    for line in process.stdout:
        banner.append(line)
        if line.startswith("Time:"):
            break
    text = "".join(banner)
    env = dict(
        line.strip().removeprefix("export ").split("=", 1)
        for line in banner
        if line.strip().startswith("export ")
    )
    assert "Fault: timeout_after_commit @ payments: POST /v1/refunds on call(s) 1" in text
    assert "holds its connection up to 20 s" in text
    made = served_world(resolve_scenario("refund-timeout-after-commit"))
    charge = made.data.orders[0].charge_id
    assert charge is not None
    with pytest.raises(httpx.ReadTimeout):
        refund(env["STRIPE_API_BASE"], charge, timeout=0.3)
    assert refund(env["STRIPE_API_BASE"], charge).status_code == 200
    process.send_signal(stop)
    rest, errors = process.communicate(timeout=60)
    assert process.returncode == 0, errors
    assert "1 fault(s) fired" in rest
    assert "payments: refund.created ×2" in rest
    assert env["CHAOSKIT_CRM_TOKEN"] == made.task.principal.token


def test_chaoskit_serve_of_an_unknown_scenario_says_which_exist() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "chaoskit", "serve", "refund-timeout-after-comit"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 4
    assert "did you mean 'refund-timeout-after-commit'" in done.stderr.lower()


def test_the_chaos_fixture_serves_for_one_test_and_stops_after(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import socket
        import httpx

        PORTS = []

        def test_served(chaos):
            served = chaos.serve("refund-timeout-after-commit")
            PORTS.extend(served.ports)
            auth = {"Authorization": "Bearer " + served.env["STRIPE_API_KEY"]}
            answer = httpx.get(served.urls["payments"] + "/v1/charges", headers=auth)
            assert answer.status_code == 200
            assert sorted(served.urls) == ["crm", "payments"]
            assert served.env["CHAOSKIT_CRM_TOKEN"] == served.task.principal.token

        def test_default_server(chaos_server):
            from chaoskit.fakes.registry import BUILTIN_BACKENDS

            assert sorted(chaos_server.urls) == sorted(BUILTIN_BACKENDS)

        def test_stopped_after_the_test():
            for port in PORTS:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=5).close()
                except ConnectionRefusedError:
                    continue
                raise AssertionError(f"port {port} still open")
        """
    )
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=3)
