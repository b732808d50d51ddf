"""Findings from the guard: the agent reached around the fakes, or started a process."""

from __future__ import annotations

from collections.abc import Iterable

from chaoskit.results import Finding
from chaoskit.world.trace import Event, GuardEvent, UnroutedEvent
from chaoskit.world.world import World

__all__ = ["guard_findings", "unrouted_findings"]

_ROUTED = frozenset(
    {"httpx", "httpx2", "requests", "aiohttp", "urllib3", "urllib.request", "http.client"}
)
_USE_ROUTED = (
    "Use httpx, httpx2, requests, aiohttp, urllib3 or urllib.request (routed to the fakes), "
    "or serve the backend on loopback."
)


def guard_findings(trace_events: Iterable[Event]) -> list[Finding]:
    """One finding per distinct refusal of the guard, in trace order.

    Refusals of the same kind, target and library are one finding saying how often: a client
    that retries (urllib3 does, three times by default) is refused once per attempt.
    """
    seen: dict[tuple[str, str, str | None], tuple[GuardEvent, int]] = {}
    for event in trace_events:
        if isinstance(event, GuardEvent):
            key = (event.what, event.target, event.library)
            first, count = seen.get(key, (event, 0))
            seen[key] = (first, count + 1)
    return [_finding(event, count) for event, count in seen.values()]


def unrouted_findings(world: World) -> list[Finding]:
    """One finding per distinct request to a host no fake serves, in trace order.

    The same request refused again is one finding saying how often: urllib3 retries a refused
    connection three times by default.
    """
    seen: dict[tuple[str, str], int] = {}
    for event in world.trace.events:
        if isinstance(event, UnroutedEvent):
            key = (event.method, event.url)
            seen[key] = seen.get(key, 0) + 1
    known = ", ".join(sorted(f.host for f in world.backends.values()))
    return [
        Finding(
            kind="unknown_host",
            message=(
                f"The agent called {method} {url}, which no fake backend serves; chaoskit "
                f"refused it with a connection error{f' ({count} times)' if count > 1 else ''}. "
                f"Known hosts: {known}."
            ),
        )
        for (method, url), count in seen.items()
    ]


def _finding(event: GuardEvent, count: int) -> Finding:
    times = f" ({count} times)" if count > 1 else ""
    if event.what == "process":
        via = f" with {event.library}" if event.library else ""
        return Finding(
            kind="process_spawned",
            message=(
                f"The agent started a process{via} ({event.target}) at t={event.at:g}s; chaoskit "
                f"refused it with a PermissionError{times}. A child process would run outside "
                "the fakes and the virtual clock, and could reach any host. Run the tool "
                "in-process; to test an agent that runs as a process of its own, give chaoskit "
                "its command (--chaos-agent-cmd, chaoskit.command_agent)."
            ),
        )
    who = _who(event.library)
    if event.what == "dns":
        did = f"looked up {event.target} in DNS"
        refused = "the lookup (socket.gaierror) before it left the process"
    else:
        did = f"connected to {event.target}"
        refused = "the connection (ConnectionRefusedError) before anything was sent"
    if event.backend is not None:
        advice = (
            f"That host is the fake {event.backend!r}, but {who} does not reach the fakes: "
            "only httpx, httpx2, requests, aiohttp, urllib3 and urllib.request do, with their "
            "own transports."
        )
    else:
        advice = _USE_ROUTED
    return Finding(
        kind="network_refused",
        message=(
            f"The agent {did} with {who} at t={event.at:g}s, around the fakes; chaoskit "
            f"refused {refused}{times}. {advice}"
        ),
    )


def _who(library: str | None) -> str:
    if library is None:
        return "a raw socket call"
    if library in _ROUTED:
        return f"{library} through a custom transport, adapter or connection class"
    return library
