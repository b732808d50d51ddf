"""A fake's OpenAPI 3.1 description, built from its API reference.

Parameters and request bodies are the routes' declared models (JSON Schema 2020-12, as OpenAPI
3.1 takes it); response schemas are read off the fake's real answers; the error schema is the
fake's own envelope (Stripe's ``{"error": {"type", "code", "message", "param"}}`` for payments);
the injected faults' 429 and 5xx answers are shared responses of every operation.

>>> from chaoskit.fakes import Payments
>>> doc = openapi(Payments)
>>> doc["servers"], sorted(doc["components"]["securitySchemes"])
([{'url': 'https://api.stripe.com'}], ['basic', 'bearer'])
"""

from __future__ import annotations

import copy
import threading
from typing import Any

import httpx
from pydantic import JsonValue

from chaoskit._version import __version__
from chaoskit.fakes.base import FakeBackend
from chaoskit.fakes.reference import (
    BackendReference,
    Exchange,
    Parameter,
    RouteReference,
    reference,
)

__all__ = ["OPENAPI_PATH", "openapi", "openapi_answer", "openapi_of"]

#: Where a fake answers with its OpenAPI description (in a world and in server mode), unless
#: it has a route of its own there.
OPENAPI_PATH = "/openapi.json"

_MEDIA = {"json": "application/json", "form": "application/x-www-form-urlencoded"}
_SCHEMES: dict[str, dict[str, str]] = {
    "bearer": {"type": "http", "scheme": "bearer"},
    "basic": {"type": "http", "scheme": "basic"},
    "x-api-key": {"type": "apiKey", "in": "header", "name": "x-api-key"},
}
_SHOWN_HEADERS = ("retry-after", "stripe-should-retry", "www-authenticate")


def openapi(backend: FakeBackend | type[FakeBackend]) -> dict[str, Any]:
    """The OpenAPI 3.1 description of a fake (a class, or an instance whose host it keeps).

    >>> from chaoskit.fakes import Ticketing
    >>> sorted(openapi(Ticketing)["paths"])[:2]
    ['/v1/tickets', '/v1/tickets/{id}']
    """
    return openapi_of(reference(backend))


def openapi_answer(fake: FakeBackend, base_url: str) -> httpx.Response:
    """The answer to ``GET /openapi.json`` on ``fake``: its description, served at ``base_url``.

    Built once per fake class (the examples come from a fresh sample, never from ``fake``).
    """
    document = copy.deepcopy(_described(type(fake)))
    document["servers"] = [{"url": base_url}]
    return httpx.Response(200, json=document)


_DESCRIBED: dict[type[FakeBackend], dict[str, Any]] = {}
_DESCRIBED_LOCK = threading.Lock()


def _described(cls: type[FakeBackend]) -> dict[str, Any]:
    with _DESCRIBED_LOCK:
        if cls not in _DESCRIBED:
            _DESCRIBED[cls] = openapi(cls)
        return _DESCRIBED[cls]


def openapi_of(ref: BackendReference) -> dict[str, Any]:
    """The OpenAPI 3.1 description of an API reference already built."""
    schemas: dict[str, Any] = {"Error": _error_schema(ref.error_example)}
    paths: dict[str, dict[str, Any]] = {}
    for route in ref.routes:
        paths.setdefault(route.template, {})[route.method.lower()] = _operation(ref, route, schemas)
    security: list[dict[str, list[str]]] = [{s: []} for s in ref.auth_schemes]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"{ref.name} (chaoskit fake)",
            "version": __version__,
            "description": _description(ref),
        },
        "servers": [{"url": f"https://{ref.host}"}],
        "security": security + ([] if ref.auth_required else [{}]),
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                s: {
                    **_SCHEMES[s],
                    "description": f"The key a task hands the agent: {ref.credential}",
                }
                for s in ref.auth_schemes
                if s in _SCHEMES
            },
            "responses": {
                "RateLimited": _response(ref.faults[0], error=True),
                "ServerError": _response(ref.faults[1], error=True),
            },
        },
    }


def _description(ref: BackendReference) -> str:
    auth = "required" if ref.auth_required else "optional"
    return (
        f"chaoskit's fake {ref.name} backend, generated from its routes: every example is the "
        "fake's own answer on a sample world. Every answer carries a Request-Id header; "
        f"authentication is {auth}. Faults chaoskit injects answer as RateLimited and "
        "ServerError do."
    )


def _operation(
    ref: BackendReference, route: RouteReference, schemas: dict[str, Any]
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": route.handler,
        "summary": route.summary or str(route),
        "tags": [ref.name],
        "parameters": [_parameter(p) for p in route.parameters if p.where != "body"],
        "responses": _responses(route),
    }
    if route.body_schema is not None and route.body_model is not None:
        body = dict(route.body_schema)
        defs = body.pop("$defs", None)
        if isinstance(defs, dict):
            schemas.update(defs)
        schemas[route.body_model] = body
        operation["requestBody"] = _request_body(ref, route, route.body_model, body)
    return operation


def _parameter(param: Parameter) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": param.name,
        "in": param.where,
        "required": param.required,
        "schema": param.json_schema,
    }
    if param.description:
        out["description"] = param.description
    if param.where == "query" and param.json_schema.get("type") in ("object", "array"):
        out |= {"style": "deepObject", "explode": True}
    return out


def _request_body(
    ref: BackendReference, route: RouteReference, name: str, schema: dict[str, Any]
) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": {"$ref": f"#/components/schemas/{name}"}}
    if route.example is not None:
        media["example"] = route.example.body
    if ref.body_encoding == "form":
        nested = [k for k, v in schema.get("properties", {}).items() if _is_nested(v)]
        if nested:
            media["encoding"] = {k: {"style": "deepObject", "explode": True} for k in nested}
    required = bool(schema.get("required"))
    return {"required": required, "content": {_MEDIA[ref.body_encoding]: media}}


def _is_nested(schema: dict[str, Any]) -> bool:
    kinds = [schema.get("type")] + [s.get("type") for s in schema.get("anyOf", ())]
    return "object" in kinds or "array" in kinds


def _responses(route: RouteReference) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    if route.example is not None:
        responses[str(route.example.status)] = _response(route.example, error=False)
    else:
        responses["default"] = {"description": "The fake's answer."}
    for refusal in route.errors:
        responses.setdefault(str(refusal.status), _response(refusal, error=True))
    responses["429"] = {"$ref": "#/components/responses/RateLimited"}
    responses["5XX"] = {"$ref": "#/components/responses/ServerError"}
    return responses


def _response(exchange: Exchange, *, error: bool) -> dict[str, Any]:
    kind = exchange.headers.get("content-type", "application/json").split(";")[0]
    schema = {"$ref": "#/components/schemas/Error"} if error else _inferred(exchange.response)
    out: dict[str, Any] = {
        "description": _said(exchange),
        "content": {kind: {"schema": schema, "example": exchange.response}},
    }
    headers = {
        name: {"schema": {"type": "string"}, "example": value}
        for name, value in exchange.headers.items()
        if name.lower() in _SHOWN_HEADERS
    }
    if headers:
        out["headers"] = headers
    return out


def _said(exchange: Exchange) -> str:
    code = exchange.error_code
    if code is None:
        return "The fake's answer to the example request."
    return f"{exchange.title[:1].upper()}{exchange.title[1:]}: {code}."


def _error_schema(example: JsonValue) -> dict[str, Any]:
    """The fake's error envelope, read off a real error; its top-level keys always come."""
    schema = _inferred(example)
    if isinstance(example, dict):
        schema["required"] = sorted(example)
    return schema


def _inferred(value: JsonValue) -> dict[str, Any]:
    """A JSON Schema for a real answer: its types, with ``null`` left open (any type)."""
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int):
        return {"type": "integer"}
    if isinstance(value, float):
        return {"type": "number"}
    if isinstance(value, str):
        return {"type": "string"}
    if isinstance(value, list):
        return {"type": "array", "items": _inferred(value[0]) if value else {}}
    if isinstance(value, dict):
        return {"type": "object", "properties": {k: _inferred(v) for k, v in value.items()}}
    return {}
