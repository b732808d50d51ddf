"""``chaoskit serve [SCENARIO]``: the fakes on loopback for an agent in another process.

Prints the base URLs, the environment variables to export and the credentials, serves until
Ctrl-C (or SIGTERM), then prints what the ledgers hold.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chaoskit.engine.serving import ServedSetup
    from chaoskit.world.server import Served

__all__ = ["add_serve"]


def add_serve(commands: Any) -> None:
    """Register ``chaoskit serve`` on the CLI's sub-command parsers."""
    serve = commands.add_parser(
        "serve",
        help="serve the fakes on loopback for an agent in any process or language",
        description="Serve a scenario's fakes (default: every built-in backend) over HTTP/1.1 "
        "on loopback, with the scenario's pinned faults, until Ctrl-C.",
    )
    serve.add_argument(
        "scenario", nargs="?", help="a scenario file or built-in name (default: none)"
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument(
        "--port",
        type=_port,
        default=0,
        help="first port: per-backend routing uses one port per backend from it "
        "(default 0: free ports)",
    )
    serve.add_argument(
        "--routing",
        choices=("per-backend", "host"),
        default="per-backend",
        help="one port per backend, or one port routed by Host header or path prefix",
    )
    serve.add_argument(
        "--time-scale",
        type=_scale,
        default=None,
        help="real seconds per virtual second (default 0.05): latency faults, Retry-After "
        "and the timeout hold are scaled by it",
    )
    serve.add_argument(
        "--hold",
        type=_hold,
        default=None,
        metavar="SECONDS",
        help="real seconds a timeout fault holds its connection at most before closing it "
        "unanswered (default 30 virtual seconds scaled: 1.5 at the default scale)",
    )
    serve.add_argument(
        "--pin",
        type=_calls,
        default=(),
        metavar="N[,N…]",
        help="fire the faults the scenario leaves to Hypothesis on these calls of their target",
    )
    serve.add_argument("--seed", type=int, default=0, help="the world's seed (default 0)")
    serve.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    from chaoskit.engine.serving import served_world
    from chaoskit.scenarios import resolve_scenario
    from chaoskit.world.server import DEFAULT_TIME_SCALE

    scenario = resolve_scenario(args.scenario) if args.scenario else None
    setup = served_world(scenario, seed=args.seed, pin=args.pin)
    scale = DEFAULT_TIME_SCALE if args.time_scale is None else args.time_scale
    served = setup.world.serve(
        host=args.host, port=args.port, routing=args.routing, time_scale=scale, hold=args.hold
    )
    served.task = setup.task
    try:
        with _stop_on_sigterm(), suppress(KeyboardInterrupt):
            print(_banner(args.scenario, setup, served, args.seed), flush=True)
            threading.Event().wait()
    finally:
        with _shielded():  # a second Ctrl-C (or a signal sent to the group) must not cut it
            served.close()
    print(_summary(setup), flush=True)
    return 0


def _banner(name: str | None, setup: ServedSetup, served: Served, seed: int) -> str:
    what = f"scenario {name!r}" if name else "the default world"
    width = max(len(n) for n in served.urls)
    lines = [f"chaoskit: serving {what} (seed {seed}); Ctrl-C stops and prints the ledgers.", ""]
    lines += [f"  {n.ljust(width)}  {url}" for n, url in served.urls.items()]
    lines += [
        "",
        "Each serves its OpenAPI 3.1 description at <url>/openapi.json (chaoskit fakes NAME).",
    ]
    lines += ["", "Export for the agent:"]
    env = served.env
    lines += [f"  export {key}={shlex.quote(value)}" for key, value in env.items()]
    lines += ["", f"Task: {setup.task.message}", f"Acting as: {setup.task.principal.user_id}"]
    lines += _faults(setup)
    lines.append(
        f"Time: 1 virtual second = {served.time_scale:g} real seconds; a timeout fault holds "
        f"its connection up to {served.hold:g} s (give the agent's client a shorter timeout)."
    )
    return "\n".join(lines)


def _faults(setup: ServedSetup) -> list[str]:
    rules = setup.world.injector.rules
    lines = [f"Fault: {rule.label} on {_schedule(rule)}" for rule in rules] or ["Faults: none"]
    if setup.left_out:
        listed = "; ".join(rule.label for rule in setup.left_out)
        lines.append(
            f"Not applied ({len(setup.left_out)} left to Hypothesis, which needs an exploration): "
            f"{listed}. Pass --pin 1 to fire them on the first call of their target."
        )
    return lines


def _schedule(rule: Any) -> str:
    if rule.calls:
        return f"call(s) {', '.join(map(str, rule.calls))} of its target"
    if rule.always:
        return "every call"
    return f"virtual seconds {rule.window[0]:g} to {rule.window[1]:g}"


def _summary(setup: ServedSetup) -> str:
    world = setup.world
    fired = sum(world.fired.values())
    lines = [f"chaoskit: stopped; {fired} fault(s) fired. Ledgers:"]
    for name, entries in world.ledgers.items():
        kinds = Counter(entry.kind for entry in entries)
        shown = ", ".join(f"{kind} ×{n}" for kind, n in sorted(kinds.items())) or "nothing"
        lines.append(f"  {name}: {shown}")
    return "\n".join(lines)


@contextmanager
def _stop_on_sigterm() -> Iterator[None]:
    """SIGTERM (``kill``, ``docker stop``) stops like Ctrl-C: the ledgers are still printed."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def _shielded() -> Iterator[None]:
    """Ignore Ctrl-C while the server stops: it joins its threads, in bounded time."""
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0 to 65535, got {port}")
    return port


def _scale(text: str) -> float:
    try:
        scale = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not scale > 0:
        raise argparse.ArgumentTypeError(
            f"must be more than 0 (real seconds per virtual), got {text}"
        )
    return scale


def _hold(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not seconds >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return seconds


def _calls(text: str) -> tuple[int, ...]:
    try:
        calls = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of call numbers") from None
    if not calls or any(n < 1 for n in calls):
        raise argparse.ArgumentTypeError(f"call numbers start at 1, got {text!r}")
    return calls
