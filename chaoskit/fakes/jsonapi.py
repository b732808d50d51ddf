"""What the JSON fakes (crm, ticketing, email, approvals) share: body parsing, errors, tokens.

Handlers raise :class:`ApiError` instead of building error responses by hand, so a handler
reads top to bottom as "validate, mutate, record, respond"; :class:`JsonBackend` turns the
exception into the backend's error envelope. Validation always happens before any mutation,
so a refused request never leaves half a record behind.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict

from chaoskit.fakes.base import FakeBackend, FakeRequest, Route, declared, param_names

__all__ = [
    "ApiError",
    "Fields",
    "JsonBackend",
    "TokenAuthBackend",
    "currency",
    "json_body",
    "one_of",
    "optional_str",
    "positive_int",
    "reject_unknown",
    "require_str",
]


class ApiError(Exception):
    """An error answer raised inside a handler: status, message, code, offending param, type."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        type: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.type = type


class Fields(BaseModel):
    """Base of the JSON fakes' query and body models: unknown fields are ignored, as those
    services do, unless a model sets ``extra="forbid"``."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class JsonBackend(FakeBackend):
    """A fake whose handlers may raise :class:`ApiError`; it becomes an ``{"error": …}`` body."""

    def dispatch(self, req: FakeRequest, route: Route) -> httpx.Response:
        try:
            return super().dispatch(req, route)
        except ApiError as exc:
            return self.error(
                exc.status, exc.message, code=exc.code, param=exc.param, type=exc.type
            )


class TokenAuthBackend(JsonBackend):
    """A fake where a bearer token is optional, but a registered one names the principal.

    With no tokens registered every caller is anonymous. Once the world registers tokens
    (:meth:`add_token`), a known token sets ``req.principal`` and an unknown one is refused
    with 401, as a real service would.

    >>> from chaoskit.fakes.ticketing import Ticketing
    >>> fake = Ticketing()
    >>> fake.add_token("tok_alice", "usr_alice")
    """

    def __init__(self, *, host: str | None = None) -> None:
        self.tokens: dict[str, str] = {}
        super().__init__(host=host)

    def add_token(self, token: str, principal: str) -> None:
        """Register ``token`` as acting for ``principal`` (cleared again by :meth:`reset`)."""
        with self.lock:
            self.tokens[token] = principal

    def reset(self) -> None:
        # Tokens are per-world seed data like records: a new example must not inherit them.
        with self.lock:
            super().reset()
            self.tokens.clear()

    def authenticate(self, req: FakeRequest) -> httpx.Response | None:
        token = req.bearer()
        if token is None or not self.tokens:
            return None
        principal = self.tokens.get(token)
        if principal is None:
            return self.error(
                401, "Invalid bearer token.", code="invalid_token", type="authentication_error"
            )
        req.principal = principal
        return None


def json_body(req: FakeRequest, *, required: bool = True) -> dict[str, Any]:
    """The request's JSON object body; an empty body is ``{}`` unless one is ``required``.

    When the route declares a ``body`` model, the handler may read only the fields it names,
    and a model with ``extra="forbid"`` refuses any other field (``parameter_unknown``).
    """
    try:
        body = req.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"Invalid JSON body: {exc}.", code="invalid_json") from None
    if body is None and not required:
        body = {}
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.", code="invalid_json")
    model = req.route.body if req.route is not None else None
    if model is not None and model.model_config.get("extra") == "forbid":
        reject_unknown(body, param_names(model))
    return declared(body, model, str(req.route))  # type: ignore[no-any-return]


def require_str(body: dict[str, Any], key: str) -> str:
    """A required, non-blank string field."""
    value = body.get(key)
    if value is None:
        raise ApiError(400, f"Missing required param: {key}.", code="parameter_missing", param=key)
    if not isinstance(value, str) or not value.strip():
        raise ApiError(
            400, f"Invalid {key}: expected a non-empty string.", code="parameter_invalid", param=key
        )
    return value


def optional_str(body: dict[str, Any], key: str) -> str | None:
    """An optional string field (``null`` and absent both mean "not given")."""
    if body.get(key) is None:
        return None
    return require_str(body, key)


def positive_int(body: dict[str, Any], key: str) -> int:
    """A required positive integer (amounts are integers in the smallest currency unit)."""
    value = body.get(key)
    # bool is an int subclass; `true` is never an amount.
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        if value is None:
            raise ApiError(
                400, f"Missing required param: {key}.", code="parameter_missing", param=key
            )
        raise ApiError(
            400,
            f"Invalid {key}: expected a positive integer in the smallest currency unit.",
            code="parameter_invalid_integer",
            param=key,
        )
    return value


def currency(body: dict[str, Any], key: str = "currency") -> str:
    """A three-letter ISO currency code, returned lowercase."""
    value = require_str(body, key).lower()
    if len(value) != 3 or not value.isalpha():
        raise ApiError(
            400,
            f"Invalid currency: {value!r}. Use a three-letter ISO code such as 'usd'.",
            code="parameter_invalid",
            param=key,
        )
    return value


def one_of(
    body: dict[str, Any], key: str, allowed: Iterable[str], default: str | None = None
) -> str:
    """A string field restricted to ``allowed``; absent means ``default`` (required if none)."""
    value = require_str(body, key) if default is None else optional_str(body, key)
    if value is None:
        return default or ""
    choices = tuple(allowed)
    if value not in choices:
        raise ApiError(
            400,
            f"Invalid {key}: {value!r}. Expected one of: {', '.join(choices)}.",
            code="parameter_invalid",
            param=key,
        )
    return value


def reject_unknown(body: dict[str, Any], allowed: Iterable[str]) -> None:
    """Refuse parameters the endpoint does not know, naming the ones it does."""
    known = set(allowed)
    unknown = sorted(set(body) - known)
    if unknown:
        raise ApiError(
            400,
            f"Received unknown parameter: {unknown[0]}. Known: {', '.join(sorted(known))}.",
            code="parameter_unknown",
            param=unknown[0],
        )
