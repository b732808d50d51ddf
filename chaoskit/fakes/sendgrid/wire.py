"""SendGrid's v3 wire format, as the sendgrid fake speaks it.

Every error is SendGrid's envelope ``{"errors": [{"message", "field", "help"}]}``: ``field``
names what was wrong (``personalizations.0.to.0.email``) or is ``null``, ``help`` links the
documentation of a validation error or is ``null``. A validation answer lists every problem of
the request at once, as SendGrid's does. Keys are ``Authorization: Bearer SG.…`` with scopes
(``mail.send``, ``messages.read``); a 429 carries ``X-RateLimit-Limit``, ``-Remaining`` and
``-Reset`` (a Unix time), and no ``Retry-After``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

import httpx
from pydantic import JsonValue

from chaoskit.fakes.base import FakeRequest, Route
from chaoskit.fakes.jsonapi import JsonBackend

__all__ = ["ApiKey", "Problem", "Rejected", "SendGridWire", "invalid", "is_address"]

#: Where a validation error's ``help`` points (SendGrid's Mail Send errors page).
HELP = "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html#message.{anchor}"
#: What SendGrid reports as the period's request limit in ``X-RateLimit-Limit``.
RATE_LIMIT = 600
_ADDRESS = re.compile(r"^[^@\s\"<>,;]+@[^@\s\"<>,;]+\.[A-Za-z0-9-]{2,}$")

_UNAUTHORIZED = "The provided authorization grant is invalid, expired, or revoked"
_SERVER_MESSAGES = {503: "service unavailable", 504: "gateway timeout"}


@dataclass(frozen=True)
class ApiKey:
    """An API key's name (the principal its calls are recorded for) and its scopes."""

    name: str
    scopes: frozenset[str]


class Problem:
    """One entry of SendGrid's ``errors`` array."""

    __slots__ = ("field", "help", "message")

    def __init__(self, message: str, field: str | None = None, help: str | None = None) -> None:
        self.message = message
        self.field = field
        self.help = help

    def to_json(self) -> dict[str, JsonValue]:
        return {"message": self.message, "field": self.field, "help": self.help}


class Rejected(Exception):
    """A refusal raised inside a handler: a status and SendGrid's list of problems."""

    def __init__(self, status: int, problems: list[Problem]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.status = status
        self.problems = problems


def invalid(message: str, field: str, anchor: str) -> Problem:
    """A validation problem, its ``help`` linking SendGrid's explanation of it."""
    return Problem(message, field, HELP.format(anchor=anchor))


def is_address(value: object) -> bool:
    """Whether ``value`` is an email address SendGrid would accept."""
    return isinstance(value, str) and _ADDRESS.match(value) is not None


class SendGridWire(JsonBackend):
    """What every SendGrid answer shares: the key and its scopes, the error envelope."""

    #: Accepted API keys: each names the principal its sends are recorded for, and its scopes.
    api_keys: dict[str, ApiKey]

    def authenticate(self, req: FakeRequest) -> httpx.Response | None:
        """Accept a known key as a Bearer token; its name is the request's principal."""
        if not req.headers.get("authorization", "").strip():
            return self.error(401, "authorization required")
        key = self._key(req)
        if key is None:
            return self.error(401, _UNAUTHORIZED)
        req.principal = key.name
        return None

    def dispatch(self, req: FakeRequest, route: Route) -> httpx.Response:
        try:
            return super().dispatch(req, route)
        except Rejected as refusal:
            return self.errors(refusal.status, refusal.problems)

    def require_scope(self, req: FakeRequest, scope: str) -> None:
        """Refuse with SendGrid's 403 unless the request's key has ``scope``."""
        key = self._key(req)
        if key is None or scope not in key.scopes:
            raise Rejected(403, [Problem("access forbidden")])

    def errors(
        self, status: int, problems: list[Problem], *, headers: Mapping[str, str] | None = None
    ) -> httpx.Response:
        """SendGrid's error envelope with every problem found."""
        return self.respond(status, {"errors": [p.to_json() for p in problems]}, headers=headers)

    def error(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        type: str | None = None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """One error in SendGrid's envelope (``param`` is its ``field``; there are no codes)."""
        return self.errors(status, [Problem(message, param)], headers=headers)

    def fault_response(self, status: int, *, retry_after: float | None = None) -> httpx.Response:
        """SendGrid's 429 with its rate-limit headers, or its 5xx, for an injected fault."""
        if status == 429:
            wait = 1.0 if retry_after is None else retry_after
            return self.error(429, "too many requests", headers=self.rate_limit_headers(wait))
        return self.error(status, _SERVER_MESSAGES.get(status, "internal server error"))

    def rate_limit_headers(self, wait: float) -> dict[str, str]:
        """The period's limit, nothing left, and when it resets: ``wait`` seconds from now."""
        return {
            "X-RateLimit-Limit": str(RATE_LIMIT),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(math.ceil(self._clock.time() + wait)),
        }

    def not_found(self, raw: httpx.Request) -> httpx.Response:
        known = ", ".join(str(r) for r in self.routes())
        response = self.error(
            404, f"resource not found ({raw.method} {raw.url.path}; {self.name} serves: {known})"
        )
        response.headers["Request-Id"] = self.new_request_id()
        return response

    def _key(self, req: FakeRequest) -> ApiKey | None:
        scheme, _, token = req.headers.get("authorization", "").strip().partition(" ")
        return self.api_keys.get(token.strip()) if scheme.lower() == "bearer" else None
