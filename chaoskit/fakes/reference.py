"""The fakes' API reference, generated from their routes: nothing here is written twice.

Each route's parameters come from the models it declares (:func:`~chaoskit.fakes.base.route`),
its summary from its handler's docstring, and every example from calling the fake itself:
a fresh instance seeded by :meth:`~chaoskit.fakes.base.FakeBackend.sample` answers the route's
example request, the same request with a required parameter left out, with an unknown id and
with a bad credential. So an example can never show a field the fake does not send.

>>> from chaoskit.fakes import Ticketing
>>> ref = reference(Ticketing)
>>> [str(r) for r in ref.routes][:2]
['POST /v1/tickets', 'GET /v1/tickets']
>>> ref.routes[0].example.status
201
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any, Literal
from urllib.parse import urlencode

import httpx
from pydantic import BaseModel, Field, JsonValue

from chaoskit.core.models import FrozenModel
from chaoskit.fakes.base import FakeBackend, Route

__all__ = [
    "BackendReference",
    "Exchange",
    "Parameter",
    "RouteReference",
    "describe_type",
    "reference",
    "schema_of",
]

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_BODYLESS = frozenset({"GET", "HEAD", "DELETE"})
_BAD_CREDENTIAL = "chaoskit_invalid_credential"
#: The response headers an example shows: those an agent acts on.
_KEPT_HEADERS = frozenset(
    {
        "content-type",
        "retry-after",
        "stripe-should-retry",
        "www-authenticate",
        "x-message-id",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
    }
)


class Parameter(FrozenModel):
    """One parameter of a route: where it goes, its type, whether it is required."""

    name: str
    where: Literal["path", "query", "body"]
    required: bool
    json_schema: dict[str, JsonValue]
    description: str = ""

    @property
    def type(self) -> str:
        """The type for a reader: ``string``, ``integer ≥ 1``, ``one of: a, b``…"""
        return describe_type(self.json_schema)


class Exchange(FrozenModel):
    """A real request to a fake and its answer."""

    title: str
    method: str
    path: str
    #: The request body as the fields given (form bodies are shown encoded in :attr:`sent`).
    body: JsonValue = None
    #: The body as sent on the wire: JSON, or ``a=1&b[c]=2`` for form-encoded fakes.
    sent: str | None = None
    status: int
    headers: dict[str, str] = Field(default_factory=dict)
    response: JsonValue = None

    @property
    def error_code(self) -> str | None:
        """The ``code`` (or ``type``) of an error envelope, or HubSpot's ``category``, if
        this answer is one."""
        body = self.response if isinstance(self.response, dict) else {}
        error = body.get("error")
        code = error.get("code") or error.get("type") if isinstance(error, dict) else None
        if (
            code is None
            and isinstance(self.response, dict)
            and self.response.get("status") == "error"
        ):
            code = body.get("category")
        return code if isinstance(code, str) else None


class RouteReference(FrozenModel):
    """What an agent writer needs to call one route."""

    method: str
    template: str
    handler: str
    summary: str
    parameters: tuple[Parameter, ...]
    #: The body model's name and JSON Schema (``None``: the route takes no body).
    body_model: str | None = None
    body_schema: dict[str, JsonValue] | None = None
    example: Exchange | None = None
    errors: tuple[Exchange, ...] = ()

    def __str__(self) -> str:
        return f"{self.method} {self.template}"


class BackendReference(FrozenModel):
    """A fake's whole API: where it listens, how it is called, its routes and its errors."""

    name: str
    host: str
    body_encoding: Literal["json", "form"]
    auth_schemes: tuple[str, ...]
    #: What a task hands the agent for this backend (``task.credentials[name]``).
    credential: str | dict[str, str]
    #: Whether a request without a credential is refused (else it acts anonymously).
    auth_required: bool
    routes: tuple[RouteReference, ...]
    #: The answers chaoskit's injected faults give on any route: 429 and 5xx.
    faults: tuple[Exchange, ...]
    #: An error in the fake's own envelope (its schema is the shape of every error).
    error_example: JsonValue


def reference(backend: FakeBackend | type[FakeBackend]) -> BackendReference:
    """The API reference of a fake (a class, or an instance whose host it keeps).

    Every example is the fake's real answer, from a fresh instance seeded by ``sample()``;
    the instance given is never called.
    """
    cls = backend if isinstance(backend, type) else type(backend)
    host = backend.host if isinstance(backend, FakeBackend) else cls.default_host
    sample = _Sample(cls)
    routes = tuple(_route_reference(cls, r) for r in _by_resource(cls.routes()))
    first = next((r for r in cls.routes() if r.example is not None), None)
    anonymous = None if first is None else _Sample(cls).send(first, "without a credential", auth="")
    fake = cls()
    return BackendReference(
        name=cls.name,
        host=host,
        body_encoding=cls.body_encoding,
        auth_schemes=cls.auth_schemes,
        credential=sample.credential
        if isinstance(sample.credential, str)
        else dict(sample.credential),
        auth_required=anonymous is not None and anonymous.status == 401,
        routes=routes,
        faults=(
            _exchange("rate limit", "*", "*", fake.fault_response(429, retry_after=1)),
            _exchange("server error", "*", "*", fake.fault_response(503)),
        ),
        error_example=fake.error(400, "What was wrong.", code="a_code", param="a_param").json(),
    )


def schema_of(model: type[BaseModel]) -> dict[str, Any]:
    """A query or body model as JSON Schema, with its parameter names (aliases) as keys."""
    return model.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")


def describe_type(schema: Mapping[str, Any]) -> str:
    """A JSON Schema type in a few words: ``integer ≥ 1``, ``one of: a, b``, ``object``."""
    options = [s for s in schema.get("anyOf", ()) if s.get("type") != "null"]
    if options:
        return " or ".join(describe_type(s) for s in options)
    if "enum" in schema:
        return "one of: " + ", ".join(str(v) for v in schema["enum"])
    if "$ref" in schema:  # a nested model: its fields are in the body's JSON Schema
        return f"object ({str(schema['$ref']).rsplit('/', 1)[-1]})"
    kind = str(schema.get("type", "any"))
    if kind == "array":
        return f"array of {describe_type(schema.get('items', {}))}"
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum")
    if low is not None and high is not None:
        return f"{kind} from {low} to {high}"
    bounds = [f"≥ {schema['minimum']}"] if "minimum" in schema else []
    bounds += [f"> {schema['exclusiveMinimum']}"] if "exclusiveMinimum" in schema else []
    bounds += [f"≤ {high}"] if high is not None else []
    return " ".join([kind, *bounds])


# -- parameters -----------------------------------------------------------------------------------


def _route_reference(cls: type[FakeBackend], route: Route) -> RouteReference:
    example = None if route.example is None else _Sample(cls).send(route, "example")
    return RouteReference(
        method=route.method,
        template=route.template,
        handler=route.handler,
        summary=route.summary,
        parameters=tuple(_parameters(route)),
        body_model=None if route.body is None else _model_name(route.body),
        body_schema=None if route.body is None else schema_of(route.body),
        example=example,
        errors=tuple(_errors(cls, route)) if example is not None else (),
    )


def _parameters(route: Route) -> Iterator[Parameter]:
    example = route.example or {}
    for name in route.path_params:
        value = example.get(name)
        described = {"type": "string"} | ({"examples": [value]} if value is not None else {})
        yield Parameter(name=name, where="path", required=True, json_schema=described)
    if route.query is not None:
        yield from _model_parameters(route.query, "query")
    if route.body is not None:
        yield from _model_parameters(route.body, "body")


def _model_parameters(
    model: type[BaseModel], where: Literal["query", "body"]
) -> Iterator[Parameter]:
    schema = schema_of(model)
    required = set(schema.get("required", ()))
    properties: dict[str, Any] = schema.get("properties", {})
    # Required first, each group in declaration order: what a caller must send comes first.
    for name, prop in sorted(properties.items(), key=lambda item: item[0] not in required):
        description = str(prop.pop("description", ""))
        prop.pop("title", None)
        yield Parameter(
            name=name,
            where=where,
            required=name in required,
            json_schema=prop,
            description=description,
        )


def _by_resource(routes: tuple[Route, ...]) -> list[Route]:
    """Routes grouped by resource (``/v1/charges`` with ``/v1/charges/{id}``), first seen first."""
    roots: dict[str, int] = {}
    for r in routes:
        roots.setdefault(r.template.split("/{")[0], len(roots))
    return sorted(routes, key=lambda r: roots[r.template.split("/{")[0]])


def _model_name(model: type[BaseModel]) -> str:
    return model.__name__.lstrip("_")


# -- examples: the fake's own answers ---------------------------------------------------------


class _Sample:
    """A fresh fake, seeded by its ``sample()``, ready to answer one example request."""

    def __init__(self, cls: type[FakeBackend]) -> None:
        self.fake = cls()
        self.values = self.fake.sample()
        self.credential = self.fake.credential(self.values.get("token", ""))
        self.header = self.fake.authorization(self.credential)

    def send(
        self,
        route: Route,
        title: str,
        *,
        drop: str | None = None,
        unknown_ids: bool = False,
        auth: str | None = None,
    ) -> Exchange | None:
        """Send the route's example (less ``drop``, path ids replaced by ``ids``) and answer."""
        fields = _filled(dict(route.example or {}), self.values)
        if fields is None or any(p not in fields for p in route.path_params):
            return None
        fields.pop(drop or "", None)
        path = route.template
        for name in route.path_params:
            value = str(fields.pop(name))
            path = path.replace("{" + name + "}", _unknown_id(value) if unknown_ids else value)
        return self._exchange(route, title, path, fields, self._auth(auth))

    def _auth(self, credential: str | None) -> dict[str, str]:
        """The headers presenting ``credential``, or this sample's own credential."""
        if credential is not None:
            return _auth_headers(self.fake.auth_schemes, credential)
        if self.header is not None:
            return {"Authorization": self.header}
        if isinstance(self.credential, str):
            return _auth_headers(self.fake.auth_schemes, self.credential)
        return {}

    def _exchange(
        self, route: Route, title: str, path: str, fields: dict[str, Any], headers: dict[str, str]
    ) -> Exchange:
        kwargs: dict[str, Any] = {"headers": headers}
        sent = None
        if route.method in _BODYLESS:
            query = _form_pairs(fields)
            kwargs["params"] = query
            path_shown = path + ("?" + _readable(query) if query else "")
        elif self.fake.body_encoding == "form":
            sent = _readable(_form_pairs(fields))
            kwargs["content"] = sent.encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            path_shown = path
        else:
            sent = json.dumps(fields, ensure_ascii=False)
            kwargs["json"] = fields
            path_shown = path
        response = self.fake.request(route.method, path, **kwargs)
        body = fields if route.method not in _BODYLESS else None
        return _exchange(title, route.method, path_shown, response, body=body, sent=sent)


def _exchange(
    title: str,
    method: str,
    path: str,
    response: httpx.Response,
    *,
    body: JsonValue = None,
    sent: str | None = None,
) -> Exchange:
    kept = _KEPT_HEADERS
    headers = {k: v for k, v in response.headers.items() if k.lower() in kept}
    return Exchange(
        title=title,
        method=method,
        path=path,
        body=body,
        sent=sent,
        status=response.status_code,
        headers=headers,
        response=_decoded(response),
    )


def _errors(cls: type[FakeBackend], route: Route) -> Iterator[Exchange]:
    """The route's real refusals: a required parameter left out, an unknown id, a bad key."""
    required = [p for p in _parameters(route) if p.required and p.where != "path"]
    given = [p for p in required if p.name in (route.example or {})]
    if given:
        missing = given[0].name
        refusal = _Sample(cls).send(route, f"without {missing}", drop=missing)
        if refusal is not None and refusal.status >= 400:
            yield refusal
    if route.path_params:
        unknown = _Sample(cls).send(route, "unknown id", unknown_ids=True)
        if unknown is not None and unknown.status >= 400:
            yield unknown
    bad = _Sample(cls).send(route, "bad credential", auth=_BAD_CREDENTIAL)
    if bad is not None and bad.status in (401, 403):
        yield bad


def _filled(value: Any, values: Mapping[str, str]) -> Any:
    """``value`` with every ``{name}`` replaced from ``values``; None when one is unknown."""
    if isinstance(value, str):
        names = _PLACEHOLDER.findall(value)
        if any(n not in values for n in names):
            return None
        return _PLACEHOLDER.sub(lambda m: values[m.group(1)], value)
    if isinstance(value, dict):
        out = {k: _filled(v, values) for k, v in value.items()}
        return None if any(out[k] is None and value[k] is not None for k in out) else out
    if isinstance(value, list):
        items = [_filled(v, values) for v in value]
        return (
            None
            if any(i is None and v is not None for i, v in zip(items, value, strict=True))
            else items
        )
    return value


def _unknown_id(value: str) -> str:
    """An id shaped like ``value`` that names nothing: ``ch_missing`` for ``ch_3fQ9…``."""
    prefix, sep, _ = value.partition("_")
    return f"{prefix}_missing" if sep else "missing"


def _auth_headers(schemes: tuple[str, ...], credential: str) -> dict[str, str]:
    if not credential or not schemes:
        return {}
    scheme = schemes[0]
    if scheme == "x-api-key":
        return {"x-api-key": credential}
    if scheme == "basic":
        token = base64.b64encode(f"{credential}:".encode()).decode()
        return {"Authorization": f"Basic {token}"}
    return {"Authorization": f"Bearer {credential}"}


def _form_pairs(fields: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Fields as Stripe encodes them: ``metadata[order]=42``, ``expand[0]=customer``."""
    pairs: list[tuple[str, str]] = []
    for key, value in fields.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if isinstance(value, dict):
            pairs += _form_pairs(value, name)
        elif isinstance(value, list):
            pairs += _form_pairs({str(i): v for i, v in enumerate(value)}, name)
        elif isinstance(value, bool):
            pairs.append((name, "true" if value else "false"))
        elif value is not None:
            pairs.append((name, str(value)))
    return pairs


def _readable(pairs: list[tuple[str, str]]) -> str:
    """Pairs URL-encoded as a reader likes them: ``metadata[order]=42&email=a@b.test``."""
    return urlencode(pairs, safe="[]@:,")


def _decoded(response: httpx.Response) -> JsonValue:
    text = response.content.decode("utf-8", errors="replace")
    if "json" in response.headers.get("content-type", ""):
        try:
            return json.loads(text)  # type: ignore[no-any-return]
        except ValueError:
            return text
    return text
