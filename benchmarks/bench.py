"""chaoskit's own speed, measured as ratios against baselines run side by side.

    .venv/bin/python benchmarks/bench.py            # the full run (a few minutes)
    .venv/bin/python benchmarks/bench.py --quick    # tiny sizes, seconds (the smoke test uses it)

Prints a table and writes ``reports/bench.json`` and the README's Speed table,
``reports/bench.md``. Absolute times on a noisy 2-core box are not
comparable between runs; the ratios, measured in the same run, are.
"""

from __future__ import annotations

import argparse
import gc
import http.server
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import httpx2
import requests

from chaoskit import World
from chaoskit.core.agent import Task
from chaoskit.engine import EngineSettings, explore
from chaoskit.engine.trials import DETERMINISTIC_AFTER
from chaoskit.fakes import Payments
from chaoskit.scenarios import Scenario, scenario

CHARGE_URL = "https://api.stripe.com/v1/charges/{id}"
AUTH = {"Authorization": f"Bearer {Payments.DEFAULT_API_KEY}"}


@dataclass
class Row:
    name: str
    value: float
    unit: str
    target: str
    met: bool | None
    note: str = ""


# -- 1. cost per intercepted call -------------------------------------------------------------


def _mean_per_call(fn: Callable[[], Any], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def per_call(calls: int, rounds: int) -> list[Row]:
    """Each round times every series once, interleaved, and each series keeps its best round:
    the other core's noise then hits baseline and chaoskit alike instead of one of them."""
    fake = Payments()
    world = World([fake], trace_limit=10**9)
    url = CHARGE_URL.format(id=fake.add_charge(customer=None, amount=1000))
    hx, hx2, session = httpx.Client(), httpx2.Client(), requests.Session()
    inside: dict[str, Callable[[], Any]] = {
        "httpx": lambda: hx.get(url, headers=AUTH),
        "httpx2": lambda: hx2.get(url, headers=AUTH),
        "requests": lambda: session.get(url, headers=AUTH, timeout=5),
    }
    outside = _bare_mocks(fake, url)
    best: dict[str, float] = {}
    for _ in range(rounds):
        for name, fn in outside.items():
            best[name] = min(best.get(name, 1e9), _mean_per_call(fn, calls))
        for name, fn in inside.items():
            world.reset()  # same seed: the charge comes back with the same id
            fake.add_charge(customer=None, amount=1000)
            with world:
                best[name] = min(best.get(name, 1e9), _mean_per_call(fn, calls))
    baseline = best["baseline"]
    rows = [Row("bare httpx.MockTransport + fake", baseline * 1e6, "µs/call", "baseline", None)]
    for name in inside:
        cost, ratio = best[name], best[name] / baseline
        note = f"{cost * 1e6:.0f} µs/call; {cost / best['bare ' + name]:.2f}× a bare {name} mock"
        rows.append(Row(f"chaoskit via {name}", ratio, "× baseline", "≤ 1.3×", ratio <= 1.3, note))
    return rows


def _bare_mocks(fake: Payments, url: str) -> dict[str, Callable[[], Any]]:
    """The baseline, and each client family with its own bare mock doing the same fake work.

    requests costs far more than httpx before any interception (session merging, hooks,
    cookies); this separates what chaoskit adds from what the client itself costs.
    """
    from chaoskit.world.intercept import _requests_response

    def via_httpx(request: Any) -> httpx.Response:
        native = httpx.Request(
            request.method, str(request.url), headers=request.headers.raw, content=request.read()
        )
        return fake.serve(native)

    def httpx2_handler(request: httpx2.Request) -> httpx2.Response:
        response = via_httpx(request)
        return httpx2.Response(
            response.status_code, headers=response.headers.raw, content=response.content
        )

    class Adapter(requests.adapters.BaseAdapter):
        def send(self, request: Any, **kwargs: Any) -> Any:
            native = httpx.Request(
                request.method, request.url, headers=dict(request.headers),
                content=request.body or b"",
            )  # fmt: skip
            return _requests_response(self, request, fake.serve(native))

    session = requests.Session()
    session.mount("https://", Adapter())
    hx = httpx.Client(transport=httpx.MockTransport(fake.serve))
    hx2 = httpx2.Client(transport=httpx2.MockTransport(httpx2_handler))
    return {
        "baseline": lambda: hx.get(url, headers=AUTH),
        "bare httpx": lambda: hx.get(url, headers=AUTH),
        "bare httpx2": lambda: hx2.get(url, headers=AUTH),
        "bare requests": lambda: session.get(url, headers=AUTH, timeout=5),
    }


# -- 1c. a vendor SDK through the world: zenpy ---------------------------------------------------


def zenpy_per_call(calls: int, rounds: int) -> list[Row]:
    """zenpy showing a ticket through the world, against zenpy on a session whose adapter
    answers from the same fake in memory (the bare mock a zenpy user would write)."""
    from zenpy import Zenpy

    from chaoskit.fakes import Zendesk
    from chaoskit.world.intercept import _requests_response

    fake = Zendesk()
    world = World([fake], trace_limit=10**9)

    class Adapter(requests.adapters.BaseAdapter):
        def send(self, request: Any, **kwargs: Any) -> Any:
            native = httpx.Request(
                request.method, request.url, headers=dict(request.headers),
                content=request.body or b"",
            )  # fmt: skip
            return _requests_response(self, request, fake.serve(native))

    def seeded() -> tuple[dict[str, str], int]:
        values = fake.sample()
        credential = dict(fake.credential(values["token"]))  # type: ignore[arg-type]
        return credential, int(values["ticket"])

    session = requests.Session()
    session.mount("https://", Adapter())
    best: dict[str, float] = {}
    for _ in range(rounds):
        world.reset()
        credential, ticket = seeded()
        bare = Zenpy(**credential, session=session, disable_cache=True)
        cost = _mean_per_call(partial(bare.tickets, id=ticket), calls)
        best["bare"] = min(best.get("bare", 1e9), cost)
        with world:
            client = Zenpy(**credential, disable_cache=True)
            cost = _mean_per_call(partial(client.tickets, id=ticket), calls)
        best["world"] = min(best.get("world", 1e9), cost)
    ratio = best["world"] / best["bare"]
    note = f"{best['world'] * 1e6:.0f} µs vs {best['bare'] * 1e6:.0f} µs per tickets(id=…)"
    return [Row("zenpy via the world vs a bare mock adapter", ratio, "× (ratio)", "—", None, note)]


# -- 1a. cost per call through the official stripe SDK ------------------------------------------


def per_call_stripe_sdk(calls: int, rounds: int) -> list[Row]:
    """stripe-python retrieving a charge in a world, against the same SDK whose requests
    session answers from the same fake through a bare transport adapter (no world)."""
    import stripe

    fake = Payments()
    world = World([fake], trace_limit=10**9)
    charge = fake.add_charge(customer=None, amount=1000)
    key = Payments.DEFAULT_API_KEY
    inside = stripe.StripeClient(key, max_network_retries=0)
    session = requests.Session()
    session.mount("https://", _FakeAdapter(fake))
    bare = stripe.StripeClient(
        key, http_client=stripe.RequestsClient(session=session), max_network_retries=0
    )
    best: dict[str, float] = {}
    for _ in range(rounds):
        best["bare"] = min(
            best.get("bare", 1e9), _mean_per_call(lambda: bare.v1.charges.retrieve(charge), calls)
        )
        world.reset()  # same seed: the charge comes back with the same id
        fake.add_charge(customer=None, amount=1000)
        with world:
            cost = _mean_per_call(lambda: inside.v1.charges.retrieve(charge), calls)
        best["world"] = min(best.get("world", 1e9), cost)
    ratio = best["world"] / best["bare"]
    note = f"{best['world'] * 1e6:.0f} µs vs {best['bare'] * 1e6:.0f} µs on a bare adapter"
    return [Row("chaoskit via stripe-python", ratio, "× bare SDK", "—", None, note)]


class _FakeAdapter(requests.adapters.BaseAdapter):
    """A requests transport adapter answering from a fake in memory: the bare mock."""

    def __init__(self, fake: Payments) -> None:
        super().__init__()
        self.fake = fake

    def send(self, request: Any, **kwargs: Any) -> Any:
        from chaoskit.world.intercept import _requests_response

        native = httpx.Request(
            request.method, request.url, headers=dict(request.headers), content=request.body or b""
        )
        return _requests_response(self, request, self.fake.serve(native))

    def close(self) -> None:
        pass


# -- 1b. cost per call in server mode ------------------------------------------------------------


def server_mode(calls: int, rounds: int) -> list[Row]:
    """One keep-alive client in another process, one call at a time: ``World.serve`` against
    a bare loopback ``http.server`` (HTTP/1.1, keep-alive) whose handler does the same fake
    work. The client is a process of its own, as in server mode, so that it does not compete
    with the server for this process's GIL; rounds interleave the two."""
    fake = Payments()
    world = World([fake], trace_limit=10**9)
    path = f"/v1/charges/{fake.add_charge(customer=None, amount=1000)}"
    best: dict[str, float] = {}
    client = subprocess.Popen(
        [sys.executable, "-c", _CLIENT, path, AUTH["Authorization"]],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert client.stdin is not None and client.stdout is not None
    with client, _bare_server(fake) as bare_port, world.serve() as served:
        ports = {"bare": bare_port, "served": served.ports[0]}
        for _ in range(rounds):
            for name, port in ports.items():
                client.stdin.write(f"{port} {calls}\n")
                client.stdin.flush()
                best[name] = min(best.get(name, 1e9), float(client.stdout.readline()))
        client.stdin.close()
    ratio = best["served"] / best["bare"]
    return [
        Row("bare loopback http.server + fake", best["bare"] * 1e6, "µs/call", "baseline", None),
        Row("server mode (World.serve)", ratio, "× baseline", "—", None,
            f"{best['served'] * 1e6:.0f} µs/call, keep-alive client in another process"),
    ]  # fmt: skip


#: The client process of :func:`server_mode`: reads "PORT CALLS", answers seconds per call.
_CLIENT = """
import http.client, sys, time
path, auth = sys.argv[1], sys.argv[2]
for line in sys.stdin:
    port, calls = map(int, line.split())
    connection = http.client.HTTPConnection("127.0.0.1", port)
    def call():
        connection.request("GET", path, headers={"Authorization": auth})
        assert connection.getresponse().read()
    call()
    start = time.perf_counter()
    for _ in range(calls):
        call()
    print((time.perf_counter() - start) / calls, flush=True)
    connection.close()
"""


class _BareHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    fake: Payments

    def do_GET(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        native = httpx.Request(
            self.command, f"https://{self.fake.host}{self.path}",
            headers=list(self.headers.items()), content=body,
        )  # fmt: skip
        response = self.fake.serve(native)
        self.send_response(response.status_code)
        for key, value in response.headers.multi_items():
            if key.lower() != "content-length":
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(response.content)))
        self.end_headers()
        self.wfile.write(response.content)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def _bare_server(fake: Payments) -> Iterator[int]:
    handler = type("Handler", (_BareHandler,), {"fake": fake})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# -- 1c. aiohttp, urllib3, urllib: routed at the connection ---------------------------------------


def per_call_wire_clients(calls: int, rounds: int) -> list[Row]:
    """aiohttp, urllib3 and urllib.request in a world, each against itself on a bare mock.

    Each bare mock replaces the client's network at the client's own extension point with an
    in-memory answer from the same fake (``fake.serve``, no world): aiohttp a ``connector=``
    whose connections are in memory (the same HTTP/1.1 bytes chaoskit feeds its parser);
    urllib3 a connection pool whose ``_make_request`` returns the fake's answer (the lightest
    mock it allows: no HTTP parsing at all); urllib.request an opener handler's
    ``https_open`` (the same: no http.client). For urllib3 and urllib a second baseline is
    chaoskit's own interception serving the bare fake, without the world: what the wire costs
    apart from the world. Interleaved rounds, best round kept.
    """
    import asyncio
    import urllib.request

    import urllib3

    fake = Payments()
    world = World([fake], trace_limit=10**9)
    url = CHARGE_URL.format(id=fake.add_charge(customer=None, amount=1000))
    bare = _bare_wire_clients(fake, url, calls)
    pool = urllib3.PoolManager()
    inside: dict[str, Callable[[], Any]] = {
        "aiohttp": lambda: asyncio.run(_aiohttp_calls(url, calls, None)),
        "urllib3": lambda: [pool.request("GET", url, headers=AUTH) for _ in range(calls)],
        "urllib": lambda: [
            urllib.request.urlopen(urllib.request.Request(url, headers=AUTH)).read()
            for _ in range(calls)
        ],
    }
    for name in ("urllib3", "urllib"):
        bare["wire " + name] = _wire_only(fake, inside[name])
    best: dict[str, float] = {}
    for _ in range(rounds):
        for name, fn in bare.items():
            best["bare " + name] = min(best.get("bare " + name, 1e9), _timed(fn) / calls)
        for name, fn in inside.items():
            world.reset()  # same seed: the charge comes back with the same id
            fake.add_charge(customer=None, amount=1000)
            with world:
                best[name] = min(best.get(name, 1e9), _timed(fn) / calls)
    rows = []
    for name, mock in (
        ("aiohttp", "an in-memory connector"),
        ("urllib3", "a _make_request mock"),
        ("urllib", "an opener handler"),
    ):
        cost, base = best[name], best["bare " + name]
        note = f"{cost * 1e6:.0f} µs vs {base * 1e6:.0f} µs on {mock}"
        if "bare wire " + name in best:
            note += f"; {cost / best['bare wire ' + name]:.2f}× the same wire without the world"
        rows.append(Row(f"chaoskit via {name}", cost / base, f"× bare {name}", "-", None, note))
    return rows


def _wire_only(fake: Payments, fn: Callable[[], Any]) -> Callable[[], Any]:
    """``fn`` with chaoskit's urllib3 and http.client interception serving ``fake`` alone."""
    from chaoskit.world import intercept
    from chaoskit.world.dispatch import serving
    from chaoskit.world.patches import applied
    from chaoskit.world.stdlib_clients import http_client_patches, urllib3_patches

    class JustTheFake:  # a dispatcher without the world: the fake's own answer
        def dispatch(self, request: httpx.Request, **_: Any) -> httpx.Response:
            return fake.serve(request)

        def routes(self, host: str, port: int | None) -> bool:
            return True

    stub: Any = JustTheFake()
    patches = urllib3_patches(stub) + http_client_patches(stub) + intercept._ssl_patches()

    def run() -> Any:
        with applied(patches), serving(stub):
            return fn()

    return run


def _timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


async def _aiohttp_calls(url: str, calls: int, connector: Callable[[], Any] | None) -> None:
    import aiohttp

    async with aiohttp.ClientSession(connector=connector and connector()) as session:
        for _ in range(calls):
            async with session.get(url, headers=AUTH) as response:
                await response.read()


def _bare_wire_clients(fake: Payments, url: str, calls: int) -> dict[str, Callable[[], Any]]:
    """``calls`` calls of each client on its bare mock of ``fake``."""
    import asyncio
    import io
    import urllib.request
    from email.message import Message
    from urllib.response import addinfourl

    import aiohttp
    import urllib3
    from aiohttp.client_proto import ResponseHandler

    from chaoskit.world.aiohttp_client import WireTransport
    from chaoskit.world.dispatch import serving

    class JustTheFake:  # a dispatcher without the world: the fake's own answer
        def dispatch(self, request: httpx.Request, **_: Any) -> httpx.Response:
            return fake.serve(request)

        def routes(self, host: str, port: int | None) -> bool:
            return True

    class InMemory(aiohttp.TCPConnector):
        async def _create_connection(self, req: Any, traces: Any, timeout: Any) -> Any:
            protocol = ResponseHandler(asyncio.get_running_loop())
            protocol.connection_made(WireTransport(protocol, req))
            return protocol

    def with_aiohttp() -> None:
        with serving(JustTheFake()):  # type: ignore[arg-type]
            asyncio.run(_aiohttp_calls(url, calls, InMemory))

    class Pool(urllib3.HTTPSConnectionPool):
        def _make_request(self, conn: Any, method: str, path: str, **kw: Any) -> Any:
            native = httpx.Request(method, f"https://{self.host}{path}", headers=kw["headers"])
            answer = fake.serve(native)
            return urllib3.HTTPResponse(
                body=io.BytesIO(answer.content),
                headers=urllib3.HTTPHeaderDict(answer.headers.multi_items()),
                status=answer.status_code,
                preload_content=kw.get("preload_content", True),
                request_method=method,
                request_url=path,
                retries=kw.get("retries"),
                pool=self,
                connection=kw.get("response_conn"),
            )

    pool = Pool(httpx.URL(url).host)

    class Handler(urllib.request.BaseHandler):
        handler_order = 100  # before the HTTPS handler

        def https_open(self, req: urllib.request.Request) -> addinfourl:
            native = httpx.Request(req.get_method(), req.full_url, headers=req.header_items())
            answer = fake.serve(native)
            headers = Message()
            for key, value in answer.headers.multi_items():
                headers[key] = value
            response = addinfourl(
                io.BytesIO(answer.content), headers, req.full_url, answer.status_code
            )
            response.msg = answer.reason_phrase  # read by urllib's HTTPErrorProcessor
            return response

    opener = urllib.request.build_opener(Handler())
    path = httpx.URL(url).raw_path.decode()
    return {
        "aiohttp": with_aiohttp,
        "urllib3": lambda: [pool.urlopen("GET", path, headers=AUTH) for _ in range(calls)],
        "urllib": lambda: [
            opener.open(urllib.request.Request(url, headers=AUTH)).read() for _ in range(calls)
        ],
    }


# -- 1d. vendor SDKs: hubspot-api-client -------------------------------------------------------


def per_call_hubspot(calls: int, rounds: int) -> list[Row]:
    """The official hubspot SDK reading a contact in a world, against the same SDK whose
    urllib3 pool manager is a bare mock answering from the same fake (no HTTP at all).

    The mock is the SDK's own extension point (``rest_client.pool_manager``): the SDK builds
    the request, deserialises the answer into its models and raises its exceptions as usual.
    """
    import hubspot
    import urllib3

    from chaoskit.fakes import HubSpot

    fake = HubSpot()
    world = World([fake], trace_limit=10**9)

    class BarePool:  # what the SDK calls: request(method, url, ..., headers=)
        def request(self, method: str, url: str, **kw: Any) -> urllib3.HTTPResponse:
            fields = kw.get("fields") or []
            native = httpx.Request(method, url, params=fields, headers=kw.get("headers"))
            answer = fake.serve(native)
            return urllib3.HTTPResponse(
                body=answer.content,
                headers=urllib3.HTTPHeaderDict(answer.headers.multi_items()),
                status=answer.status_code,
                reason=answer.reason_phrase,
                preload_content=True,
            )

    def api(bare: bool) -> Any:
        made = hubspot.Client.create(access_token=HubSpot.DEFAULT_TOKEN).crm.contacts.basic_api
        if bare:
            made.api_client.rest_client.pool_manager = BarePool()
        return made

    inside, outside = api(bare=False), api(bare=True)

    def reads(client: Any) -> Callable[[], Any]:
        contact = fake.add_object("contacts", {"email": "ada@example.com"})
        return lambda: [client.get_by_id(contact) for _ in range(calls)]

    best: dict[str, float] = {}
    for _ in range(rounds):
        world.reset()
        best["bare"] = min(best.get("bare", 1e9), _timed(reads(outside)) / calls)
        world.reset()  # same seed: the contact comes back with the same id
        timed = reads(inside)
        with world:
            best["world"] = min(best.get("world", 1e9), _timed(timed) / calls)
    cost, base = best["world"], best["bare"]
    note = f"{cost * 1e6:.0f} µs vs {base * 1e6:.0f} µs on a bare pool_manager mock"
    return [Row("chaoskit via hubspot-api-client", cost / base, "× bare SDK", "-", None, note)]


# -- 1e. vendor SDKs: sendgrid -----------------------------------------------------------------


def per_call_sendgrid(calls: int, rounds: int) -> list[Row]:
    """The official sendgrid SDK sending mail in a world, against the same SDK on a bare mock.

    The bare mock is python_http_client's own seam for tests (``Client._make_request``)
    answering from the same fake, without the world: no http.client, no interception, no
    faults, no trace. Both send the same mail and the fake does the same work (validate,
    record, one activity row). Interleaved rounds, best round kept.
    """
    from sendgrid import SendGridAPIClient
    from sendgrid.helpers.mail import Mail

    from chaoskit.fakes import SendGrid

    fake = SendGrid()
    world = World([fake], trace_limit=10**9)
    sdk = SendGridAPIClient(SendGrid.DEFAULT_API_KEY)
    mail = Mail("billing@shop.test", "ap@acme.test", "Your refund", "It is on its way.").get()

    def send() -> None:
        for _ in range(calls):
            sdk.send(mail)

    bare = _bare_sendgrid(fake, send)
    best: dict[str, float] = {}
    for _ in range(rounds):
        fake.reset()
        best["bare"] = min(best.get("bare", 1e9), _timed(bare) / calls)
        world.reset()
        with world:
            best["world"] = min(best.get("world", 1e9), _timed(send) / calls)
    ratio = best["world"] / best["bare"]
    note = f"{best['world'] * 1e6:.0f} µs vs {best['bare'] * 1e6:.0f} µs on _make_request"
    return [Row("chaoskit via the sendgrid SDK", ratio, "× bare sendgrid", "-", None, note)]


def _bare_sendgrid(fake: Any, send: Callable[[], None]) -> Callable[[], None]:
    """``send`` with python_http_client's ``_make_request`` answered by ``fake`` directly."""
    import io
    from email.message import Message
    from unittest import mock
    from urllib.response import addinfourl

    import python_http_client

    def make_request(client: Any, opener: Any, request: Any, timeout: Any = None) -> Any:
        native = httpx.Request(
            request.get_method(),
            request.full_url,
            headers=request.header_items(),
            content=request.data or b"",
        )
        answer = fake.serve(native)
        headers = Message()
        for key, value in answer.headers.multi_items():
            headers[key] = value
        return addinfourl(io.BytesIO(answer.content), headers, request.full_url, answer.status_code)

    def run() -> None:
        with mock.patch.object(python_http_client.Client, "_make_request", make_request):
            send()

    return run


# -- agents for the engine benchmarks -----------------------------------------------------------


def _order_id(task: Task) -> str:
    return re.search(r"\b(ord_\w+)", task.message).group(1)  # type: ignore[union-attr]


def ten_call_agent(task: Task) -> str:
    """Nine reads and one refund, with a stable key: a typical short agent run."""
    client = task.clients.httpx
    order = client.get(
        f"{task.urls['crm']}/v1/orders/{_order_id(task)}", headers=task.auth("crm")
    ).json()
    for _ in range(8):
        client.get(
            f"{task.urls['payments']}/v1/charges/{order['charge_id']}",
            headers=task.auth("payments"),
        )
    for attempt in range(3):
        try:
            client.post(
                f"{task.urls['payments']}/v1/refunds",
                data={"charge": order["charge_id"], "amount": order["amount"] // 2},
                headers={**task.auth("payments"), "Idempotency-Key": f"refund-{order['id']}"},
            )
            break
        except httpx.TimeoutException:
            time.sleep(2**attempt)
    return "Refund submitted."


def backoff_agent(task: Task) -> str:
    """Retries a rate-limited read with long exponential backoff: virtual time piles up."""
    client = task.clients.httpx
    url = f"{task.urls['crm']}/v1/orders/{_order_id(task)}"
    for attempt in range(8):
        if client.get(url, headers=task.auth("crm")).status_code == 200:
            return "Found it."
        time.sleep(min(2**attempt * 10, 600))
    return "Gave up."


def _calls_agent(n: int) -> Callable[[Task], str]:
    def agent(task: Task) -> str:
        client = task.clients.httpx
        url = f"{task.urls['crm']}/v1/orders/{_order_id(task)}"
        for _ in range(n):
            client.get(url, headers=task.auth("crm"))
        return "done"

    return agent


def _refund_scenario(**extra: Any) -> Scenario:
    return scenario(
        name="bench-refund",
        task="Half of my order {order.id} never arrived.",
        backends=["payments", "crm"],
        faults=[
            {
                "kind": "timeout_after_commit",
                "target": "payments: POST /v1/refunds",
                "explore": True,
            }
        ],
        invariants=[{"name": "at_most_one_effect_per_intent"}],
        **extra,
    )


def _examples_per_second(agent: Callable[[Task], str], scn: Scenario, examples: int) -> float:
    config = EngineSettings(examples=examples, seed=1, database=False)
    explore(
        scn, agent, agent_name="warm-up", config=EngineSettings(examples=3, seed=1, database=False)
    )
    start = time.perf_counter()
    result = explore(scn, agent, agent_name="bench", config=config)
    return result.examples / (time.perf_counter() - start)


def task_chaos(calls: int, rounds: int, examples: int) -> list[Row]:
    """``task.store`` in a world (traced, faultable, in the store ledger) against an httpx call
    through the same world, and a scenario whose task may be delivered twice against the same
    scenario delivered once, in examples per second."""
    from chaoskit.core.store import TaskStore

    fake = Payments()
    world = World([fake], trace_limit=10**9)
    url = CHARGE_URL.format(id=fake.add_charge(customer=None, amount=1000))
    hx, store = httpx.Client(), TaskStore()
    series: dict[str, Callable[[], Any]] = {
        "httpx": lambda: hx.get(url, headers=AUTH),
        "put": lambda: store.put("progress", {"step": 1}),
        "get": lambda: store.get("progress"),
    }
    best: dict[str, float] = {}
    for _ in range(rounds):
        for name, fn in series.items():
            world.reset()
            fake.add_charge(customer=None, amount=1000)
            store.attach(world)
            with world:
                best[name] = min(best.get(name, 1e9), _mean_per_call(fn, calls))
            store.attach(None)
    once = _examples_per_second(ten_call_agent, _refund_scenario(), examples)
    twice = _examples_per_second(
        ten_call_agent, _refund_scenario(delivery={"duplicate": True}), examples
    )
    rows = [
        Row(
            f"task.store.{op} in a world",
            best[op] / best["httpx"],
            "× httpx call",
            "≤ 0.5×",
            best[op] / best["httpx"] <= 0.5,
            f"{best[op] * 1e6:.0f} µs/op; an httpx call through the world: "
            f"{best['httpx'] * 1e6:.0f} µs",
        )
        for op in ("put", "get")
    ]
    rows.append(
        Row(
            "examples/s, duplicate delivery drawn",
            twice / once,
            "× one delivery",
            "-",
            None,
            f"{twice:.0f} against {once:.0f} examples/s (about half the examples deliver twice)",
        )
    )
    return rows


# -- 2..5 -------------------------------------------------------------------------------------


def throughput(examples: int) -> list[Row]:
    """Examples/s of the ten-call refund in one process (for scale: every target is a ratio;
    the worker figure is measured on one scenario through pytest, below)."""
    one = _examples_per_second(ten_call_agent, _refund_scenario(), examples)
    return [Row("examples/s, ten-call refund, 1 process", one, "examples/s", "-", None)]


_BENCH_SCENARIO = """
name = "bench-refund"
task = "Half of my order {order.id} never arrived."
backends = ["payments", "crm"]

[[faults]]
kind = "timeout_after_commit"
target = "payments: POST /v1/refunds"
explore = true

[[invariants]]
name = "at_most_one_effect_per_intent"
"""


def _pytest_rate(folder: str, examples: int, *workers: str) -> float:
    """Examples/s of one scenario file under pytest, startup and workers included."""
    command = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
        "--chaos-agent=bench:ten_call_agent", f"--chaos-examples={examples}", "--chaos-seed=1",
        "--chaos-scenarios=scenario.toml", "scenario.toml", *workers,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    start = time.perf_counter()
    subprocess.run(command, cwd=folder, env=env, capture_output=True, check=False)
    took = time.perf_counter() - start
    data = json.loads(Path(folder, "reports", "chaoskit.json").read_text())
    return sum(s["examples"] for s in data["scenarios"]) / took


def one_scenario_on_two_workers(examples: int, rounds: int) -> list[Row]:
    """One scenario through ``pytest -n 2`` (split across both workers) against ``-n 0``,
    interleaved, best of each, whole pytest runs (startup included)."""
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "scenario.toml").write_text(_BENCH_SCENARIO)
        Path(folder, "pytest.ini").write_text("[pytest]\n")
        best = {"-n 0": 0.0, "-n 2": 0.0}
        for _ in range(rounds):
            best["-n 0"] = max(best["-n 0"], _pytest_rate(folder, examples, "-n", "0"))
            best["-n 2"] = max(best["-n 2"], _pytest_rate(folder, examples, "-n", "2"))
    ratio = best["-n 2"] / best["-n 0"]
    note = (
        f"{best['-n 2']:.0f} vs {best['-n 0']:.0f} examples/s, {examples} examples, "
        "whole pytest runs"
    )
    return [Row("one scenario, pytest -n 2 / -n 0", ratio, "×", "≥ 1.7×", ratio >= 1.7, note)]


def _explore_seconds(agent: Callable[[Task], str], examples: int, trials: int) -> float:
    config = EngineSettings(examples=examples, seed=1, database=False, trials=trials)
    start = time.perf_counter()
    explore(_refund_scenario(), agent, agent_name="bench", config=config)
    return time.perf_counter() - start


class _Restless:
    """``ten_call_agent`` whose every run differs (a counter in a query): never judged
    deterministic, so every schedule really runs all its trials."""

    def __init__(self) -> None:
        self.runs = 0

    def __call__(self, task: Task) -> str:
        self.runs += 1
        task.clients.httpx.get(
            f"{task.urls['crm']}/v1/orders/{_order_id(task)}?run={self.runs}",
            headers=task.auth("crm"),
        )
        return ten_call_agent(task)


def trials(examples: int) -> list[Row]:
    """What ``trials = 4`` costs against one run per schedule, same schedules, same run."""
    _explore_seconds(ten_call_agent, 3, 1)  # warm-up
    once = _explore_seconds(ten_call_agent, examples, 1)
    same = _explore_seconds(ten_call_agent, examples, 4)
    restless = _explore_seconds(_Restless(), examples, 4)
    note = f"{examples} schedules; one run each: {once:.2f} s"
    return [
        Row(
            "trials=4, deterministic agent",
            same / once,
            "× 1 trial",
            "≤ 2×",
            same / once <= 2,
            f"{note}; trials skipped after {DETERMINISTIC_AFTER} faulted schedules",
        ),
        Row("trials=4, agent not deterministic", restless / once, "× 1 trial", "≈ 4×", None, note),
    ]


def virtual_time(examples: int) -> list[Row]:
    scn = scenario(
        name="bench-backoff",
        task="Where is order {order.id}?",
        backends=["crm"],
        faults=[
            {
                "kind": "rate_limit",
                "target": "crm: GET /v1/orders/{id}",
                "calls": [1, 2, 3, 4, 5, 6],
                "retry_after": 10,
            }
        ],
        budget={"seconds": 100_000},
    )
    config = EngineSettings(examples=examples, seed=1, database=False)
    start = time.perf_counter()
    result = explore(scn, backoff_agent, agent_name="bench", config=config)
    wall = time.perf_counter() - start
    simulated = (2**6 - 1) * 10 * result.examples
    ratio = simulated / wall
    return [
        Row(
            "virtual seconds per wall second",
            ratio,
            "×",
            "≥ 10,000×",
            ratio >= 10_000,
            f"{simulated} virtual s in {wall:.2f} s",
        )
    ]


def memory(examples: int) -> list[Row]:
    scn = _refund_scenario()
    warm = max(examples // 10, 20)
    config = EngineSettings(examples=warm, seed=1, database=False)
    explore(scn, ten_call_agent, agent_name="bench", config=config)
    gc.collect()
    tracemalloc.start()
    explore(
        scn,
        ten_call_agent,
        agent_name="bench",
        config=EngineSettings(examples=warm, seed=2, database=False),
    )
    gc.collect()
    after_warm, _ = tracemalloc.get_traced_memory()
    explore(
        scn,
        ten_call_agent,
        agent_name="bench",
        config=EngineSettings(examples=examples, seed=3, database=False),
    )
    gc.collect()
    after_all, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    growth = (after_all - after_warm) / 1024
    return [
        Row(
            f"memory growth over {examples} examples",
            growth,
            "KiB",
            "flat",
            growth < 1024,
            f"peak {peak / 2**20:.1f} MiB",
        )
    ]


def scaling(sizes: list[int], examples: int) -> list[Row]:
    scn = scenario(
        name="bench-scale", task="Order {order.id}", backends=["crm"], budget={"seconds": 10_000}
    )
    rows = []
    base: float | None = None
    for n in sizes:
        rate = _examples_per_second(_calls_agent(n), scn, examples)
        per_call_ms = 1000 / rate / n
        base = base or per_call_ms
        rows.append(
            Row(
                f"time per call, {n} calls/example",
                per_call_ms * 1000,
                "µs/call",
                "linear (flat per call)",
                per_call_ms <= base * 1.5,
                f"{1000 / rate:.1f} ms/example",
            )
        )
    return rows


def report(scenarios: int, examples: int) -> list[Row]:
    from chaoskit.engine import run_scenarios
    from chaoskit.report.html import render_html

    scns = [_refund_scenario().model_copy(update={"name": f"bench-{i}"}) for i in range(scenarios)]

    def naive(task: Task) -> str:
        client = task.clients.httpx
        order = client.get(
            f"{task.urls['crm']}/v1/orders/{_order_id(task)}", headers=task.auth("crm")
        ).json()
        for _ in range(2):
            try:
                client.post(
                    f"{task.urls['payments']}/v1/refunds",
                    data={"charge": order["charge_id"], "amount": order["amount"] // 2},
                    headers=task.auth("payments"),
                )
            except httpx.TimeoutException:
                continue
        return "ok"

    run = run_scenarios(
        scns,
        naive,
        agent_name="bench",
        config=EngineSettings(examples=examples, seed=1, database=False),
    )
    start = time.perf_counter()
    html = render_html(run)
    took = time.perf_counter() - start
    size = len(html.encode()) / 2**20
    return [
        Row(
            f"report: {scenarios} scenarios × {examples} examples",
            took * 1000,
            "ms to render",
            "< 5 MB",
            size < 5,
            f"{size:.2f} MB",
        )
    ]


# -- an example against its floor ----------------------------------------------------------------


def _floor_rate(examples: int) -> float:
    """Examples/s of the ten-call refund as a bare Hypothesis test would run it: the same draws
    (a world seed, a timeout-after-commit decision per refund) and the same HTTP calls into the
    same fakes through ``httpx.MockTransport``; no world, no trace, no judging, no time patching
    (the agent's backoff sleeps are made free, as chaoskit's virtual time makes them)."""
    from unittest import mock

    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st

    from chaoskit.fakes import CRM

    @settings(
        max_examples=examples,
        database=None,
        derandomize=True,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(st.data())
    def bare(data: st.DataObject) -> None:
        data.draw(st.integers(0, 2**32 - 1))  # the world seed
        payments, crm = Payments(), CRM()
        charge = payments.add_charge(customer=None, amount=4200)
        account = crm.add_account(name="Acme Corp")
        crm.add_user("usr_dana", "tok_dana", accounts=[account])
        order = crm.add_order(
            account, charge_id=charge, amount=4200, currency="usd", status="paid",
            tracking_number=None,
        )  # fmt: skip
        fakes = {payments.host: payments, crm.host: crm}
        committed: list[str] = []

        def handler(request: httpx.Request) -> httpx.Response:
            response = fakes[request.url.host].serve(request)
            if request.method == "POST" and request.url.path == "/v1/refunds":
                committed.append(response.json().get("id", ""))
                if data.draw(st.booleans()):
                    raise httpx.ReadTimeout("timed out", request=request)
            return response

        client = httpx.Client(transport=httpx.MockTransport(handler))
        task = _BareTask(
            message=f"Half of my order {order} never arrived.",
            urls={"payments": f"https://{payments.host}", "crm": f"https://{crm.host}"},
            tokens={"payments": Payments.DEFAULT_API_KEY, "crm": "tok_dana"},
            client=client,
        )
        ten_call_agent(task)  # type: ignore[arg-type]
        assert len(set(committed)) <= 1

    with mock.patch.object(time, "sleep", lambda _: None):
        bare()  # warm-up
        start = time.perf_counter()
        bare()
        return examples / (time.perf_counter() - start)


class _BareTask:
    """What ``ten_call_agent`` reads of a task, without chaoskit."""

    def __init__(
        self, message: str, urls: dict[str, str], tokens: dict[str, str], client: httpx.Client
    ) -> None:
        self.message, self.urls, self._tokens = message, urls, tokens
        self.clients = type("Clients", (), {"httpx": client})()

    def auth(self, backend: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._tokens[backend]}"}


def floor(examples: int, rounds: int) -> list[Row]:
    """One chaoskit example of the ten-call refund against its floor, interleaved round by round."""
    best = {"chaoskit": 0.0, "floor": 0.0}
    for _ in range(rounds):
        best["floor"] = max(best["floor"], _floor_rate(examples))
        rate = _examples_per_second(ten_call_agent, _refund_scenario(), examples)
        best["chaoskit"] = max(best["chaoskit"], rate)
    ratio = best["floor"] / best["chaoskit"]
    note = (
        f"{1000 / best['chaoskit']:.2f} ms vs {1000 / best['floor']:.2f} ms per example "
        "(a bare Hypothesis test, same draws and calls)"
    )
    return [Row("example vs floor", ratio, "×", "≤ 1.3×", ratio <= 1.3, note)]


# -- where an example's time goes ----------------------------------------------------------------

#: Parts of an example, by where the code lives; the first prefix that matches names the part.
_PARTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("fake work", ("chaoskit/fakes/",)),
    (
        "interception and fault decision",
        (
            "chaoskit/world/intercept",
            "chaoskit/world/dispatch",
            "chaoskit/world/faults",
            "chaoskit/world/injector",
            "chaoskit/world/codec",
            "chaoskit/world/guard",
            "chaoskit/world/world.py",
            "chaoskit/world/stdlib_clients",
            "chaoskit/world/aiohttp_client",
            "chaoskit/world/integrity",
            "chaoskit/world/patches",
        ),
    ),
    ("world build", ("chaoskit/world/data", "chaoskit/world/entropy", "/faker/")),
    ("time patching", ("chaoskit/world/timepatch", "chaoskit/core/clock", "/freezegun/")),
    ("invariants", ("chaoskit/invariants/",)),
    (
        "trace and results",
        (
            "chaoskit/world/trace",
            "chaoskit/results",
            "chaoskit/engine/tally",
            "chaoskit/engine/recorder",
            "/pydantic",
            "chaoskit/core/models",
        ),
    ),
    ("engine", ("chaoskit/engine/", "chaoskit/scenarios/", "chaoskit/core/")),
    ("Hypothesis", ("/hypothesis/",)),
    ("agent and client stack", ("/httpx/", "/httpcore/", "/h11/", "benchmarks/bench.py")),
)


def _part(filename: str) -> str | None:
    name = filename.replace("\\", "/")
    for part, prefixes in _PARTS:
        if any(prefix in name for prefix in prefixes):
            return part
    return None


def _split(stats: Any) -> dict[str, float]:
    """Self time per part; a function of no part (the standard library, builtins) gives its
    time to its callers in proportion to the time each caller spent in it, up the call graph."""
    totals: dict[str, float] = {}

    def give(func: Any, seconds: float, depth: int, seen: frozenset[Any]) -> None:
        part = _part(func[0])
        if part is not None:
            totals[part] = totals.get(part, 0.0) + seconds
            return
        callers = stats.stats.get(func, (0, 0, 0, 0, {}))[4]
        shares = {c: v[2] for c, v in callers.items() if c not in seen}
        whole = sum(shares.values())
        if depth > 12 or whole <= 0:
            totals["other"] = totals.get("other", 0.0) + seconds
            return
        for caller, share in shares.items():
            give(caller, seconds * share / whole, depth + 1, seen | {func})

    for func, (_, _, tottime, _, _) in stats.stats.items():
        give(func, tottime, 0, frozenset())
    return totals


def profile(examples: int) -> list[Row]:
    """One example's wall time split into parts: cProfile over ``examples`` examples of the
    ten-call refund (run in this thread, not under the watchdog, so the profiler sees it).

    Self time under the profiler, scaled to the unprofiled time of an example measured in the
    same run: the shares are the profile's, the total is real."""
    import cProfile
    import pstats

    import chaoskit.engine.run as engine_run

    scn = _refund_scenario()
    real = 1 / _examples_per_second(ten_call_agent, scn, examples)
    profiler = cProfile.Profile()
    config = EngineSettings(examples=examples, seed=1, database=False)
    watched = engine_run.supervise
    engine_run.supervise = lambda body, watch: body()  # type: ignore[assignment,misc]
    try:
        profiler.enable()
        result = explore(scn, ten_call_agent, agent_name="bench", config=config)
        profiler.disable()
    finally:
        engine_run.supervise = watched
    totals = _split(pstats.Stats(profiler))
    whole = sum(totals.values())
    order = [part for part, _ in _PARTS] + ["other"]
    return [
        Row(
            f"profile: {part}",
            totals[part] / whole * real * 1e6,
            "µs/example",
            "-",
            None,
            f"{totals[part] / whole:.0%} of {real * 1e3:.2f} ms ({result.examples} examples)",
        )
        for part in order
        if part in totals
    ]


# -- the claims classifier ------------------------------------------------------------------


def claims(examples: int, rounds: int) -> list[Row]:
    """The reply classifier runs once per example: its cost per reply of the labeled corpus,
    against the cost of one example of the ten-call refund scenario measured in the same run."""
    from chaoskit.invariants.claims import classify

    corpus = Path(__file__).resolve().parents[1] / "tests" / "data" / "replies.jsonl"
    replies = [json.loads(line)["reply"] for line in corpus.read_text().splitlines() if line]
    classify(replies[0])  # compiles the phrase lists once
    per_reply = 1e9
    per_example = 1e9
    for _ in range(rounds):
        start = time.perf_counter()
        for reply in replies:
            classify(reply)
        per_reply = min(per_reply, (time.perf_counter() - start) / len(replies))
        rate = _examples_per_second(ten_call_agent, _refund_scenario(), examples)
        per_example = min(per_example, 1 / rate)
    share = per_reply / per_example * 100
    note = f"{per_reply * 1e6:.0f} µs/reply over {len(replies)} replies"
    return [
        Row("claims classifier, one reply", share, "% of an example", "≤ 10%", share <= 10, note)
    ]


# -- what the plugin costs every pytest run ---------------------------------------------


def startup(rounds: int) -> list[Row]:
    """``pytest --co`` on a one-test suite with chaoskit's plugin and without (``-p no:chaoskit``),
    interleaved, best of each: what the plugin costs every pytest run in the environment."""
    import subprocess
    import tempfile

    def once(folder: str, *extra: str) -> float:
        command = [sys.executable, "-m", "pytest", "--co", "-q", "-p", "no:cacheprovider", *extra]
        start = time.perf_counter()
        subprocess.run(command, cwd=folder, capture_output=True, check=True)
        return time.perf_counter() - start

    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "test_tiny.py").write_text("def test_one():\n    assert True\n")
        Path(folder, "pytest.ini").write_text("[pytest]\n")
        once(folder)  # warm the file cache
        best = {"with": 1e9, "without": 1e9}
        for _ in range(rounds):
            best["with"] = min(best["with"], once(folder))
            best["without"] = min(best["without"], once(folder, "-p", "no:chaoskit"))
    ratio = best["with"] / best["without"]
    return [
        Row(
            "pytest --co, 1 test: with plugin / without",
            ratio,
            "× (ratio)",
            "≤ 1.10×",
            ratio <= 1.10,
            f"{best['with'] * 1000:.0f} ms vs {best['without'] * 1000:.0f} ms",
        )
    ]


def _best_command(command: list[str], rounds: int, **kwargs: Any) -> float:
    best = 1e9
    for _ in range(rounds):
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, check=False, **kwargs)
        best = min(best, time.perf_counter() - start)
    return best


def first_detection(rounds: int) -> list[Row]:
    """``import chaoskit`` over a bare interpreter start, and a whole ``chaoskit run`` of the
    naive refund agent on the timeout-after-commit scenario until it is caught, startup
    included (best of ``rounds``; seeded, so every round finds it at the same example)."""
    timed = "import time; t = time.perf_counter(); import chaoskit; print(time.perf_counter() - t)"
    cost = min(
        float(subprocess.run([sys.executable, "-c", timed], capture_output=True, text=True).stdout)
        for _ in range(rounds)
    )
    run = [
        sys.executable, "-m", "chaoskit", "run", "--seed", "1", "--examples", "100",
        "--agent", "chaoskit.examples.agents.refunds:naive", "refund-timeout-after-commit",
    ]  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        caught = _best_command(run, rounds, cwd=folder)
    return [
        Row("import chaoskit", cost * 1000, "ms", "≤ 150 ms", cost <= 0.15,
            "in a fresh interpreter (the façade is lazy: names import on first use)"),
        Row("time to first detection, naive refund agent", caught, "s", "≤ 1 s", caught <= 1,
            "`chaoskit run` from start to verdict, startup included"),
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for the smoke test")
    parser.add_argument("--json", default="reports/bench.json")
    parser.add_argument(
        "--profile", action="store_true", help="only split one example's time into its parts"
    )
    args = parser.parse_args(argv)
    q = args.quick
    if args.profile:
        return _print(profile(examples=30 if q else 1000), None)
    rows = per_call(calls=50 if q else 2000, rounds=2 if q else 7)
    rows += per_call_wire_clients(calls=50 if q else 2000, rounds=2 if q else 7)
    rows += per_call_hubspot(calls=50 if q else 2000, rounds=2 if q else 7)
    rows += per_call_sendgrid(calls=50 if q else 1000, rounds=2 if q else 7)
    rows += per_call_stripe_sdk(calls=50 if q else 1000, rounds=2 if q else 7)
    rows += server_mode(calls=30 if q else 300, rounds=2 if q else 15)
    rows += zenpy_per_call(calls=30 if q else 1000, rounds=2 if q else 7)
    rows += task_chaos(calls=50 if q else 2000, rounds=2 if q else 7, examples=10 if q else 200)
    rows += throughput(examples=10 if q else 300)
    rows += one_scenario_on_two_workers(examples=20 if q else 3000, rounds=1 if q else 3)

    rows += trials(examples=5 if q else 100)
    rows += virtual_time(examples=5 if q else 100)
    rows += memory(examples=30 if q else 10_000)
    rows += scaling([10, 100] if q else [10, 100, 1000], examples=3 if q else 30)
    rows += report(scenarios=2 if q else 50, examples=5 if q else 200)
    rows += claims(examples=5 if q else 100, rounds=1 if q else 3)
    rows += startup(rounds=2 if q else 15)
    rows += floor(examples=10 if q else 300, rounds=1 if q else 5)
    rows += first_detection(rounds=1 if q else 5)
    rows += profile(examples=10 if q else 1000)
    return _print(rows, Path(args.json))


def _print(rows: list[Row], out: Path | None) -> int:
    print(
        f"chaoskit benchmark on {platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}, {sys.platform}"
    )
    print(f"{'measure':<46} {'value':>12}  {'unit':<14} {'target':<24} {'met':<5} note")
    for row in rows:
        met = "-" if row.met is None else ("yes" if row.met else "NO")
        value = f"{row.value:>12.2f}"
        print(f"{row.name:<46} {value}  {row.unit:<14} {row.target:<24} {met:<5} {row.note}")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps([row.__dict__ for row in rows], indent=1))
        out.with_suffix(".md").write_text(markdown(rows))
    return 0


def markdown(rows: list[Row]) -> str:
    """The rows as the README's Speed table (written beside the JSON, as ``bench.md``)."""
    lines = ["| measure | figure | target | met |", "|---|---|---|---|"]
    for row in rows:
        met = "" if row.met is None else ("yes" if row.met else "no")
        figure = f"{row.value:.2f} {row.unit}" + (f" ({row.note})" if row.note else "")
        target = "" if row.target in ("-", "baseline") else row.target
        lines.append(f"| {row.name} | {figure} | {target} | {met} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
