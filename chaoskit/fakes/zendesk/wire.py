"""Zendesk's wire format, as the zendesk fake speaks it.

JSON envelopes named after the resource (``{"ticket": …}``, ``{"tickets": […], "count": …}``),
Zendesk's error bodies (``{"error": "RecordNotFound", "description": "Not found"}``, a 422
``RecordInvalid`` with ``details`` per field, the bare ``{"error": "Couldn't authenticate
you"}`` of a 401), ISO 8601 UTC timestamps, and API-token authentication: HTTP basic with
``{email}/token`` as the username and the token as the password, as zenpy sends it (an OAuth
``Bearer`` token works too).
"""

from __future__ import annotations

import base64
import binascii
import math
import time
from collections.abc import Mapping

from pydantic import JsonValue

__all__ = [
    "ZendeskError",
    "basic_credentials",
    "basic_header",
    "error_body",
    "invalid",
    "iso",
    "not_found",
    "whole_seconds",
]


class ZendeskError(Exception):
    """An error answer raised inside a handler: Zendesk's ``error`` name, its description and,
    for a 422, what was wrong with each field."""

    def __init__(
        self,
        status: int,
        error: str,
        description: str | None = None,
        *,
        details: Mapping[str, list[dict[str, JsonValue]]] | None = None,
    ) -> None:
        super().__init__(description or error)
        self.status = status
        self.error = error
        self.description = description
        self.details = details


def not_found() -> ZendeskError:
    """Zendesk's 404, word for word: it never says which record."""
    return ZendeskError(404, "RecordNotFound", "Not found")


def invalid(field: str, description: str, error: str = "InvalidValue") -> ZendeskError:
    """A 422 ``RecordInvalid`` naming the field (``details[field]``) and what is wrong."""
    return ZendeskError(
        422,
        "RecordInvalid",
        "Record validation errors",
        details={field: [{"description": description, "error": error}]},
    )


def error_body(
    error: str,
    description: str | None = None,
    details: Mapping[str, list[dict[str, JsonValue]]] | None = None,
) -> dict[str, JsonValue]:
    """``{"error", "description", "details"}``, leaving out what is not given."""
    body: dict[str, JsonValue] = {"error": error}
    if description is not None:
        body["description"] = description
    if details is not None:
        body["details"] = {k: [dict(item) for item in v] for k, v in details.items()}
    return body


def basic_credentials(authorization: str) -> tuple[str, str] | None:
    """The username and password of an HTTP basic ``Authorization`` header, if it is one."""
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def basic_header(email: str, token: str) -> str:
    """The ``Authorization`` value of API-token authentication: basic ``{email}/token:{token}``."""
    raw = f"{email}/token:{token}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def iso(timestamp: float) -> str:
    """A Unix time as Zendesk writes times: ISO 8601, UTC, whole seconds, ``Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(timestamp)))


def whole_seconds(seconds: float) -> str:
    """A ``Retry-After`` as Zendesk sends it, whole seconds rounded up: zenpy reads it with
    ``int()``, which a fraction would crash."""
    return str(max(1, math.ceil(seconds)))
