"""The guard: while a world is active, nothing leaves the process around the fakes.

Interception routes httpx, httpx2, requests, aiohttp, urllib3 and urllib.request / http.client
to the fakes; every other way out is refused here, with an error the client library itself
treats as a DNS or connection failure, a message starting ``chaoskit:`` that names the
library when the Python stack tells it, and a :class:`~chaoskit.world.trace.GuardEvent` on
the world's trace for the engine to report:

- DNS (``socket.getaddrinfo``, ``gethostbyname``, ``gethostbyaddr``, ``getnameinfo``) of
  anything but loopback names and addresses, an IP literal (parsed, never looked up) and the
  machine's own name: ``socket.gaierror(EAI_NONAME, …)``;
- connections and datagrams (``socket.connect``, ``sendto``, ``sendmsg``) of AF_INET and
  AF_INET6 sockets to anything but loopback: ``ConnectionRefusedError(ECONNREFUSED, …)``;
  Unix sockets and loopback stay allowed, so local servers (an MCP server on 127.0.0.1) work;
- new processes (``subprocess.Popen``, ``os.system``, ``os.exec*``, ``os.posix_spawn``,
  ``os.spawn*``, ``os.fork``, ``os.forkpty``, and multiprocessing's spawn and forkserver
  start methods): ``PermissionError(EPERM, …)``. A child runs outside the fakes and the
  virtual clock and could reach any host.

The checks run in an audit hook (:func:`sys.addaudithook`), which sees these calls in every
thread, C extensions that use Python's socket module included, before they act. An audit hook
cannot be removed, so it is added once per process, on the first world's entry, and does
nothing while no world is active: unrelated events (``open``, ``compile``, ``import``…) return
after one frozenset test.

Three ways out get a check of their own while a world is active, their audit event coming too
late or telling too little: a host name in the address of ``socket.socket.connect``/``sendto``
is resolved before the ``socket.connect`` event (see :func:`check_address`, used by the
interception layer); ``asyncio``'s ``loop.getaddrinfo`` resolves in a worker thread, whose
stack no longer shows the caller (aiohttp), so it is checked before the hand-off; and
multiprocessing's spawn and forkserver start methods call ``_posixsubprocess.fork_exec``, which
has no audit event.
"""

from __future__ import annotations

import asyncio.base_events
import contextlib
import errno
import functools
import importlib
import ipaddress
import os
import platform
import shlex
import socket
import sys
import threading
import weakref
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from types import FrameType
from typing import Any, Literal, NoReturn, Protocol

from chaoskit.core.clock import VirtualClock
from chaoskit.core.errors import WorldError
from chaoskit.fakes import FakeBackend
from chaoskit.world.patches import Patch, applied
from chaoskit.world.trace import GuardEvent, Trace

__all__ = [
    "Guarded",
    "allowed_egress",
    "allowed_start",
    "check_address",
    "check_host",
    "guard",
    "is_loopback",
]


class Guarded(Protocol):
    """What the guard needs of a world: where to record, what time it is, which hosts are fakes."""

    @property
    def trace(self) -> Trace: ...

    @property
    def clock(self) -> VirtualClock: ...

    @property
    def backends(self) -> Mapping[str, FakeBackend]: ...


_DNS = frozenset(
    {
        "socket.getaddrinfo",
        "socket.gethostbyname",  # gethostbyname_ex raises this one too
        "socket.gethostbyname_ex",
        "socket.gethostbyaddr",
        "socket.getnameinfo",
    }
)
_SEND = frozenset({"socket.connect", "socket.sendto", "socket.sendmsg"})
_PROCESS = frozenset(
    {
        "subprocess.Popen",
        "os.system",
        "os.exec",
        "os.posix_spawn",
        "os.spawn",
        "os.fork",
        "os.forkpty",
    }
)
_WATCHED = _DNS | _SEND | _PROCESS
#: Reverse lookups: an address in them is a query, not a literal to parse.
_REVERSE = frozenset({"socket.gethostbyaddr", "socket.getnameinfo"})

#: Client libraries named in messages, matched on a frame's module (the name or a submodule).
_LIBRARIES = (
    "aiohttp",
    "urllib3",
    "urllib.request",
    "http.client",
    "httpcore",
    "httpcore2",
    "httpx",
    "httpx2",
    "requests",
    "websockets",
    "websocket",
    "grpc",
    "botocore",
    "aiobotocore",
    "boto3",
    "smtplib",
    "ftplib",
    "imaplib",
    "poplib",
    "xmlrpc.client",
    "redis",
    "pymongo",
    "psycopg",
    "psycopg2",
    "asyncpg",
    "paramiko",
    "dns",
)
#: The ones interception routes to the fakes: reaching a socket, they bypassed it.
_ROUTED = frozenset(
    {"httpx", "httpx2", "requests", "aiohttp", "urllib3", "urllib.request", "http.client"}
)
_ROUTED_NAMES = "httpx, httpx2, requests, aiohttp, urllib3 or urllib.request"
_ROUTED_ALL = "httpx, httpx2, requests, aiohttp, urllib3 and urllib.request"
_PROCESS_LIBRARIES = ("multiprocessing", "concurrent.futures.process")
_TARGET_LIMIT = 200
_USE_ROUTED = f"Use {_ROUTED_NAMES} (routed to the fakes), or serve the backend on loopback."

#: Local probes that libraries run to learn about the machine (``platform``, ``ctypes.util``):
#: harmless and read-only, so they run instead of being refused as the agent's own processes.
_PROBES = frozenset({"uname", "ldconfig", "ldconfig.real"})

_lock = threading.Lock()
_installed = False
#: Threads a world gave up on: refused even after that world has ended.
_abandoned: weakref.WeakSet[threading.Thread] = weakref.WeakSet()
#: The world being guarded; read without the lock (one reference read) on every watched event.
_active: Guarded | None = None
#: Set, in one thread and for one call, while chaoskit itself starts an agent's command.
_own_start = threading.local()
#: Set, in one thread and for one request, while chaoskit itself sends a passthrough model
#: request to an allowed host (see :mod:`chaoskit.world.egress`).
_own_egress = threading.local()


@contextmanager
def guard(world: Guarded) -> Iterator[None]:
    """Refuse DNS, connections and processes that would leave ``world``'s fakes while active."""
    global _active, _installed
    with _lock:
        if _active is not None:
            raise WorldError("chaoskit: another world is already guarded in this process.")
        if not _installed:
            _warm_caches()
            sys.addaudithook(_audit)
            _installed = True
        _active = world
    try:
        with applied(_patches()):
            yield
    finally:
        with _lock:
            _active = None


@contextmanager
def allowed_start() -> Iterator[None]:
    """Let the calling thread start a process while a world is active: chaoskit's own start of
    an agent command, which is given the served world instead of running in it. Only this
    thread, and only inside the ``with`` block (which should hold the one ``Popen`` call)."""
    _own_start.on = True
    try:
        yield
    finally:
        _own_start.on = False


@contextmanager
def allowed_egress() -> Iterator[None]:
    """Let the calling thread look up and connect to any host while a world is active:
    chaoskit's own send of a request to a host the scenario allowed (``allow_hosts``). Only
    this thread, and only inside the ``with`` block (which should hold that one request)."""
    _own_egress.on = True
    try:
        yield
    finally:
        _own_egress.on = False


def _egress() -> bool:
    return getattr(_own_egress, "on", False) and not abandoned()


def abandon(threads: Iterable[threading.Thread]) -> None:
    """Refuse these threads' DNS, connections and processes from now on, world or not."""
    _abandoned.update(threads)


def abandoned() -> bool:
    """Whether the calling thread was given up on (by any world)."""
    return bool(_abandoned) and threading.current_thread() in _abandoned


def _warm_caches() -> None:
    """Ask once, before any world, what libraries would otherwise learn from a child process
    inside one (the stripe SDK's user agent reads ``platform``, which runs ``uname -p``)."""
    with contextlib.suppress(Exception):
        platform.uname().processor  # noqa: B018 (a cached property: reading it fills the cache)


def _audit(event: str, args: tuple[Any, ...], _watched: frozenset[str] = _WATCHED) -> None:
    if event not in _watched:
        return  # the hot path: most audit events are none of ours
    world = _active
    if world is None and not (_abandoned and threading.current_thread() in _abandoned):
        return
    if event in _PROCESS and (_is_probe(event, args) or getattr(_own_start, "on", False)):
        return
    if event in _DNS:
        if _egress():
            return
        _check_lookup(world, event, args)
    elif event in _SEND:
        sock, address = args[0], args[1]
        if address is not None and not _egress():
            _check_address(world, address, sock.family, event, resolved=True)
    else:
        _refuse_process(world, event, args)


# -- network ---------------------------------------------------------------------------------


def check_address(address: Any, family: int = socket.AF_INET) -> None:
    """Refuse a socket address that is not loopback (AF_UNIX and other families pass).

    Called before ``connect``/``sendto`` resolves a host name in ``address``; outside a world
    it refuses just the same, but records nothing.
    """
    if _egress():
        return
    _check_address(_active, address, family, "socket.connect", resolved=False)


def check_host(host: Any, port: Any = None, via: str = "loop.getaddrinfo") -> None:
    """Refuse a DNS lookup of ``host`` unless it is loopback, an IP literal or empty."""
    if _egress():
        return
    if not _is_local(host, literal_ok=True, own_name_ok=True):
        _refuse_network(_active, "dns", host, port, via)


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine's loopback (``localhost``, ``127.0.0.0/8``, ``::1``)."""
    return _is_local(host, literal_ok=False)


def _check_lookup(world: Guarded | None, event: str, args: tuple[Any, ...]) -> None:
    if event == "socket.getnameinfo":
        sockaddr = args[0]
        host, port = (sockaddr[0], sockaddr[1]) if isinstance(sockaddr, tuple) else (sockaddr, None)
    else:
        host = args[0]
        port = args[1] if event == "socket.getaddrinfo" else None
    if not _is_local(host, literal_ok=event not in _REVERSE, own_name_ok=True):
        _refuse_network(world, "dns", host, port, event)


def _check_address(
    world: Guarded | None, address: Any, family: int, via: str, *, resolved: bool
) -> None:
    """``resolved``: the audit hook's view, after the socket call resolved a name itself."""
    if family not in (socket.AF_INET, socket.AF_INET6):
        return  # Unix sockets (and netlink…): nothing leaves the machine
    if not isinstance(address, tuple) or not address:
        return
    host, port = address[0], (address[1] if len(address) > 1 else None)
    if _is_local(host, literal_ok=False):
        return
    if _ip(host) is None:
        if not resolved:  # the socket call would resolve it: a DNS query with no audit event
            _refuse_network(world, "dns", host, port, via)
        _refuse_network(world, "connect", host, port, via, looked_up=True)
    _refuse_network(world, "connect", host, port, via)


def _is_local(host: Any, *, literal_ok: bool, own_name_ok: bool = False) -> bool:
    """A loopback (or empty) host; or, when ``literal_ok``, any IP literal (parsed, never looked
    up); or, when ``own_name_ok``, this machine's own name (``socket.getfqdn()`` looks it up, and
    ``email.utils.make_msgid`` calls that: no backend is reached that way)."""
    return host is None or _is_local_name(_text(host), literal_ok, own_name_ok)


@functools.lru_cache(maxsize=512)
def _is_local_name(host: str, literal_ok: bool, own_name_ok: bool) -> bool:
    name = host.strip().rstrip(".").lower()
    if name in ("", "localhost"):
        return True
    ip = _ip(name)
    if ip is None:
        return own_name_ok and name == _own_hostname()
    if literal_ok:
        return True
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return ip.is_loopback or ip.is_unspecified or (mapped is not None and mapped.is_loopback)


def _ip(host: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(_text(host).split("%", 1)[0])
    except ValueError:
        return None


def _own_hostname() -> str:
    try:
        return socket.gethostname().lower()
    except OSError:
        return ""


def _refuse_network(
    world: Guarded | None,
    what: Literal["dns", "connect"],
    host: Any,
    port: Any,
    via: str,
    *,
    looked_up: bool = False,
) -> NoReturn:
    """Record and raise; ``looked_up``: the name was resolved already, only the connect is not."""
    name = _text(host)
    target = _host_port(name, port)
    libraries, pooled = _callers(sys._getframe(1), _LIBRARIES)
    library = libraries[-1] if libraries else None
    backend = _backend_of(world, name)
    action = f"its DNS lookup of {name!r}" if what == "dns" else f"its connection to {target}"
    if library in _ROUTED:
        through = f", through {libraries[-2]}" if len(libraries) > 1 else ""
        who = (
            f"{library} bypassed chaoskit's routing (a custom transport, adapter or "
            f"connection class{through}): {action} was refused"
        )
    elif library is not None:
        who = f"{library} is not routed to the fakes yet: {action} was refused"
    elif what == "dns" and pooled:
        who = f"a DNS lookup of {name!r} in a worker thread ({via}; caller unknown) was refused"
    elif what == "dns":
        who = f"a DNS lookup of {name!r} ({via}) was refused"
    else:
        who = f"refused a real network connection to {target} (a raw {via} call)"
    gone = "the connection was not made" if looked_up else "nothing left the process"
    if backend is not None:
        advice = (
            f"{name!r} is the host of the fake {backend!r}, but only {_ROUTED_ALL} (with "
            "their own transports) reach the fakes: use one of them for this call."
        )
    else:
        advice = f"While a world is active only loopback is reachable. {_USE_ROUTED}"
    message = f"chaoskit: {who}, {gone}. {advice}"
    _record(world, what, target, library, message, backend)
    if what == "dns":
        raise socket.gaierror(socket.EAI_NONAME, message)
    raise ConnectionRefusedError(errno.ECONNREFUSED, message)


def _backend_of(world: Guarded | None, host: str) -> str | None:
    if world is None:
        return None
    wanted = host.rstrip(".").lower()
    for name, fake in world.backends.items():
        if fake.host.lower() == wanted:
            return name
    return None


def _host_port(host: str, port: Any) -> str:
    shown = f"[{host}]" if ":" in host else host
    return shown if port is None else f"{shown}:{_text(port)}"


# -- processes -------------------------------------------------------------------------------

_API = {
    "os.exec": "os.exec*",
    "os.spawn": "os.spawn*",
}


def _refuse_process(world: Guarded | None, event: str, args: tuple[Any, ...]) -> NoReturn:
    through_multiprocessing = bool(_callers(sys._getframe(1), _PROCESS_LIBRARIES)[0])
    api = _API.get(event, event)
    command = _cut(_command(event, args))
    call = f"{api}({command!r})" if command else f"{api}()"
    if through_multiprocessing:
        call = f"multiprocessing, through {call}"
    message = (
        f"chaoskit: refused to start a process while a world is active: {call}. "
        "A child process would run outside the fakes and the virtual clock, and could reach "
        "any host. Run the tool in-process instead (its Python API, with HTTP through "
        f"{_ROUTED_NAMES}, which reach the fakes); to test an agent that runs as a process of "
        "its own, give chaoskit its command (--chaos-agent-cmd, chaoskit.command_agent)."
    )
    library = "multiprocessing" if through_multiprocessing else api
    _record(world, "process", command or f"{api}()", library, message, None)
    raise PermissionError(errno.EPERM, message)


def _command(event: str, args: tuple[Any, ...]) -> str:
    """The command line of a process event; empty for a fork (the same program goes on)."""
    if event in ("subprocess.Popen", "os.exec", "os.posix_spawn"):
        return _argv(args[1]) or _text(args[0])
    if event == "os.system":
        return _text(args[0])
    if event == "os.spawn":
        return _argv(args[2]) or _text(args[1])
    if event == "_posixsubprocess.fork_exec":
        return _argv(args[0]) if args else ""
    return ""


def _is_probe(event: str, args: tuple[Any, ...]) -> bool:
    """Whether a process event starts one of the harmless :data:`_PROBES`."""
    if event in ("subprocess.Popen", "_posixsubprocess.fork_exec") and args:
        argv = args[1] if event == "subprocess.Popen" else args[0]
        first = argv[0] if isinstance(argv, list | tuple) and argv else argv
        return isinstance(first, str | bytes) and os.path.basename(_text(first)) in _PROBES
    return False


def _argv(argv: Any) -> str:
    if argv is None:
        return ""
    if isinstance(argv, str | bytes | os.PathLike):
        return _text(argv)
    try:
        return shlex.join(_text(a) for a in argv)
    except TypeError:
        return _text(argv)


def _cut(text: str) -> str:
    return text if len(text) <= _TARGET_LIMIT else text[: _TARGET_LIMIT - 1] + "…"


# -- the calls no audit event covers in time -------------------------------------------------


def _patches() -> list[Patch]:
    patches: list[Patch] = [_getaddrinfo_patch()]
    try:
        posix = importlib.import_module("_posixsubprocess")
    except ImportError:  # not POSIX
        return patches
    original = posix.fork_exec

    def fork_exec(*args: Any, **kwargs: Any) -> Any:
        world = _active
        own = getattr(_own_start, "on", False)
        if world is not None and not own and not _is_probe("_posixsubprocess.fork_exec", args):
            _refuse_process(world, "_posixsubprocess.fork_exec", args)
        return original(*args, **kwargs)

    patches.append((posix, "fork_exec", fork_exec))
    return patches


def _getaddrinfo_patch() -> Patch:
    loop = asyncio.base_events.BaseEventLoop
    original = loop.getaddrinfo

    async def getaddrinfo(self: Any, host: Any, port: Any, **kwargs: Any) -> Any:
        if _active is not None:
            check_host(host, port)  # here the stack still shows who asked (aiohttp…)
        return await original(self, host, port, **kwargs)

    return (loop, "getaddrinfo", getaddrinfo)


# -- helpers ---------------------------------------------------------------------------------


def _callers(frame: FrameType | None, known: tuple[str, ...]) -> tuple[list[str], bool]:
    """The known libraries on the stack, innermost first, and whether it runs in a pool thread."""
    found: list[str] = []
    pooled = False
    while frame is not None:
        module = frame.f_globals.get("__name__")
        if isinstance(module, str):
            pooled = pooled or module == "concurrent.futures.thread"
            for library in known:
                if (module == library or module.startswith(f"{library}.")) and (
                    library not in found
                ):
                    found.append(library)
        frame = frame.f_back
    return found, pooled


def _record(
    world: Guarded | None,
    what: Literal["dns", "connect", "process"],
    target: str,
    library: str | None,
    message: str,
    backend: str | None,
) -> None:
    if world is None:
        return
    world.trace.add(
        GuardEvent,
        world.clock.monotonic(),
        what=what,
        target=_cut(target),
        library=library,
        backend=backend,
        message=message,
    )


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, os.PathLike):
        return os.fsdecode(value)
    return str(value)
