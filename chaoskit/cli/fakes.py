"""``chaoskit fakes [BACKEND] [--openapi]``: the fakes' API, as an agent writer reads it.

Without a backend: every backend a scenario may name, its host and how many routes it has.
With one: its routes, their parameters, a real example request and answer, and the errors the
fake gives; ``--openapi`` prints its OpenAPI 3.1 description as JSON instead.
"""

from __future__ import annotations

import argparse
import json
import textwrap
from typing import TYPE_CHECKING, Any

from chaoskit.core.errors import UsageError

if TYPE_CHECKING:
    from chaoskit.fakes.base import FakeBackend
    from chaoskit.fakes.reference import BackendReference, Exchange, RouteReference

__all__ = ["add_fakes"]

_INDENT = "    "


def add_fakes(commands: Any) -> None:
    """Register ``fakes`` on the ``chaoskit`` command's sub-parsers."""
    fakes = commands.add_parser(
        "fakes",
        help="the fakes' API: routes, parameters, example bodies, OpenAPI",
        description="Without BACKEND, list the fake backends; with one, print its API.",
    )
    fakes.add_argument("backend", nargs="?", metavar="BACKEND", help="e.g. payments")
    fakes.add_argument(
        "--openapi", action="store_true", help="print BACKEND's OpenAPI 3.1 description (JSON)"
    )
    fakes.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """List the backends, or describe one (as text, or as OpenAPI JSON)."""
    from chaoskit.fakes.openapi import openapi
    from chaoskit.fakes.reference import reference
    from chaoskit.fakes.registry import backend_class, backend_names

    if args.backend is None:
        if args.openapi:
            raise UsageError(
                "chaoskit: --openapi describes one backend; name it, e.g. "
                "`chaoskit fakes payments --openapi`."
            )
        print(listing([backend_class(n) for n in backend_names()]))
        return 0
    cls = backend_class(args.backend)
    if args.openapi:
        print(json.dumps(openapi(cls), indent=2, ensure_ascii=False), flush=True)
    else:
        print(describe(reference(cls)), flush=True)
    return 0


def listing(classes: list[type[FakeBackend]]) -> str:
    """One line per backend: name, base URL, routes; then how to read one."""
    rows = [(c.name, f"https://{c.default_host}", _routes(len(c.routes()))) for c in classes]
    width = [max(len(r[i]) for r in rows) for i in range(2)]
    lines = [f"{n:<{width[0]}}  {u:<{width[1]}}  {k}" for n, u, k in rows]
    lines.append("")
    lines.append("Read one with `chaoskit fakes NAME` (or `--openapi` for its OpenAPI 3.1).")
    return "\n".join(lines)


def _routes(count: int) -> str:
    return f"{count} route" + ("" if count == 1 else "s")


def describe(ref: BackendReference) -> str:
    """A fake's whole API as text: how to call it, every route, the injected faults."""
    parts = [_header(ref)]
    parts += [_route(ref, route) for route in ref.routes]
    parts.append(_faults(ref))
    return "\n\n".join(parts)


def _header(ref: BackendReference) -> str:
    encoding = (
        "form-encoded bodies, Stripe style (metadata[key]=value, expand[0]=customer)"
        if ref.body_encoding == "form"
        else "JSON bodies"
    )
    auth = " or ".join(ref.auth_schemes)
    need = "required" if ref.auth_required else "optional"
    error = json.dumps(ref.error_example, ensure_ascii=False)
    return "\n".join(
        [
            f"{ref.name}  https://{ref.host}  ({_routes(len(ref.routes))})",
            f"  {encoding}",
            f"  auth: {auth}, {need}; an agent's key is task.credentials[{ref.name!r}]"
            f" (the examples use {ref.credential})",
            "  every answer carries a Request-Id header; errors look like:",
            f"  {error}",
        ]
    )


def _route(ref: BackendReference, route: RouteReference) -> str:
    lines = [f"{route.method} {route.template}"]
    if route.summary:
        lines.append(f"  {route.summary}")
    lines += _parameters(ref, route)
    if route.example is not None:
        lines.append("  example:")
        lines += _exchange(route.example)
    if route.errors:
        lines.append("  errors:")
        lines += [f"{_INDENT}{_refusal(e)}" for e in route.errors]
    return "\n".join(lines)


def _parameters(ref: BackendReference, route: RouteReference) -> list[str]:
    lines: list[str] = []
    for where in ("path", "query", "body"):
        params = [p for p in route.parameters if p.where == where]
        if not params:
            continue
        label = f"body ({ref.body_encoding})" if where == "body" else where
        lines.append(f"  {label}:")
        width = max(len(p.name) for p in params)
        for p in params:
            flag = "required" if p.required else "optional"
            text = f"{_INDENT}{p.name:<{width}}  {p.type}, {flag}"
            lines.append(text + (f": {p.description}" if p.description else ""))
    return lines


def _exchange(exchange: Exchange) -> list[str]:
    lines = [f"{_INDENT}{exchange.method} {exchange.path}"]
    if isinstance(exchange.body, dict) and exchange.sent and exchange.sent.startswith("{"):
        lines.append(
            textwrap.indent(json.dumps(exchange.body, indent=2, ensure_ascii=False), _INDENT)
        )
    elif exchange.sent:
        lines.append(f"{_INDENT}{exchange.sent}")
    lines.append(f"{_INDENT}→ {exchange.status}")
    answer = exchange.response
    shown = (
        json.dumps(answer, indent=2, ensure_ascii=False) if not isinstance(answer, str) else answer
    )
    lines.append(textwrap.indent(shown, _INDENT))
    return lines


def _refusal(exchange: Exchange) -> str:
    code = exchange.error_code or ""
    message = _message(exchange.response)
    return f"{exchange.status} {code} ({exchange.title}): {message}".replace(" ()", "")


def _message(body: Any) -> str:
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    return str(message) if message is not None else json.dumps(body)


def _faults(ref: BackendReference) -> str:
    lines = ["Faults chaoskit injects answer any route like this:"]
    for fault in ref.faults:
        extra = ", ".join(
            f"{k}: {v}" for k, v in fault.headers.items() if k.lower() != "content-type"
        )
        lines.append(f"  {_refusal(fault)}" + (f" [{extra}]" if extra else ""))
    return "\n".join(lines)
