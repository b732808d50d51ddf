"""HubSpot's wire format, as the hubspot fake speaks it.

The error envelope ``{"status": "error", "message", "correlationId", "category"}`` (with
``errors``, ``context`` and ``links`` where HubSpot gives them), private-app token
authentication with scopes, the 429 of HubSpot's rate limiter (``policyName`` and the
``X-HubSpot-RateLimit-*`` headers), and the ISO 8601 timestamps of CRM objects.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final, Literal

import httpx
from pydantic import JsonValue

from chaoskit.fakes.base import FakeRequest, declared

#: The scopes a private app may be granted that the fake knows, read and write per object.
KNOWN_SCOPES: Final[tuple[str, ...]] = (
    "crm.objects.companies.read",
    "crm.objects.companies.write",
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.objects.deals.read",
    "crm.objects.deals.write",
)

#: At most this many inputs in one batch call.
BATCH_MAX: Final = 100

RateLimitPolicy = Literal["TEN_SECONDLY_ROLLING", "DAILY"]

_SCOPES_DOC: Final = "https://developers.hubspot.com/scopes"
_AUTH_DOC: Final = "https://developers.hubspot.com/docs/methods/auth/oauth-overview"
#: A private app's limits on the free and starter tiers: per ten seconds and per day.
_TEN_SECONDLY_MAX: Final = 100
_DAILY_MAX: Final = 250_000


class HubSpotError(Exception):
    """An error answer raised inside a handler, in HubSpot's envelope."""

    def __init__(
        self,
        status: int,
        category: str,
        message: str,
        *,
        errors: Sequence[Mapping[str, JsonValue]] | None = None,
        context: Mapping[str, list[str]] | None = None,
        links: Mapping[str, str] | None = None,
        sub_category: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.category = category
        self.message = message
        self.errors = list(errors or [])
        self.context = dict(context or {})
        self.links = dict(links or {})
        self.sub_category = sub_category

    def body(self, correlation_id: str) -> dict[str, JsonValue]:
        body: dict[str, JsonValue] = {
            "status": "error",
            "message": self.message,
            "correlationId": correlation_id,
        }
        if self.sub_category is not None:
            body["subCategory"] = self.sub_category
        if self.context:
            body["context"] = {k: list(v) for k, v in self.context.items()}
        if self.errors:
            body["errors"] = [dict(e) for e in self.errors]
        if self.links:
            body["links"] = dict(self.links)
        body["category"] = self.category
        return body


def invalid_properties(problems: Sequence[tuple[str, str, str]]) -> HubSpotError:
    """HubSpot's 400 for property values it refuses: ``(name, error, message)`` each."""
    details = [
        {"isValid": False, "message": message, "error": error, "name": name}
        for name, error, message in problems
    ]
    return HubSpotError(
        400,
        "VALIDATION_ERROR",
        f"Property values were not valid: {json.dumps(details, separators=(',', ':'))}",
    )


def validation(message: str, *, where: str | None = None) -> HubSpotError:
    """A 400 ``VALIDATION_ERROR`` about the request's shape."""
    errors = [{"message": message, **({"in": where} if where else {})}]
    return HubSpotError(400, "VALIDATION_ERROR", message, errors=errors)


def not_found(kind: str, object_id: str) -> HubSpotError:
    return HubSpotError(
        404, "OBJECT_NOT_FOUND", f"resource not found: no {kind} with id {object_id}"
    )


def missing_scopes(required: Sequence[str]) -> HubSpotError:
    return HubSpotError(
        403,
        "MISSING_SCOPES",
        "This app hasn't been granted all required scopes to make this call. Read more about "
        f"required scopes here: {_SCOPES_DOC}.",
        errors=[
            {
                "message": "One or more of the following scopes are required.",
                "context": {"requiredGranularScopes": list(required)},
            }
        ],
        links={"scopes": _SCOPES_DOC},
    )


def unauthenticated() -> HubSpotError:
    return HubSpotError(
        401,
        "INVALID_AUTHENTICATION",
        "Authentication credentials not found. This API supports OAuth 2.0 authentication and "
        f"you can find more details at {_AUTH_DOC}",
    )


def correlation_id(request_id: str) -> str:
    """A UUID for an answer, derived from its request id: same run, same ids."""
    return str(uuid.UUID(bytes=hashlib.blake2b(request_id.encode(), digest_size=16).digest()))


def private_app_token(principal_token: str) -> str:
    """The private-app access token the world hands out for a principal's token."""
    digest = hashlib.blake2b(principal_token.encode(), digest_size=16).hexdigest()
    return f"pat-na1-{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:]}"


def json_response(
    status: int, body: Any, *, headers: Mapping[str, str] | None = None
) -> httpx.Response:
    return httpx.Response(
        status,
        content=json.dumps(body, separators=(",", ":")).encode(),
        headers={"Content-Type": "application/json;charset=utf-8", **(headers or {})},
    )


def rate_limited(
    request_id: str, policy: RateLimitPolicy, retry_after: float | None
) -> httpx.Response:
    """HubSpot's 429: ``errorType``, ``policyName`` and its rate-limit headers."""
    window = "daily" if policy == "DAILY" else "ten_secondly_rolling"
    body = {
        "status": "error",
        "message": f"You have reached your {window} limit.",
        "errorType": "RATE_LIMIT",
        "correlationId": correlation_id(request_id),
        "policyName": policy,
        "requestId": correlation_id(request_id + ":request"),
        "category": "RATE_LIMITS",
    }
    headers = {
        "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
        "X-HubSpot-RateLimit-Max": str(_TEN_SECONDLY_MAX),
        "X-HubSpot-RateLimit-Remaining": "0" if policy != "DAILY" else str(_TEN_SECONDLY_MAX),
        "X-HubSpot-RateLimit-Daily": str(_DAILY_MAX),
        "X-HubSpot-RateLimit-Daily-Remaining": "0" if policy == "DAILY" else str(_DAILY_MAX - 1),
    }
    if retry_after is not None:
        headers["Retry-After"] = _seconds(retry_after)
    return json_response(429, body, headers=headers)


def server_error(request_id: str, status: int) -> httpx.Response:
    body = HubSpotError(status, "INTERNAL_ERROR", "internal error").body(correlation_id(request_id))
    return json_response(status, body)


def iso(timestamp: float) -> str:
    """Unix seconds as HubSpot writes them: ``2026-01-05T09:30:00.000Z``."""
    moment = datetime.fromtimestamp(timestamp, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _seconds(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


# -- reading requests --------------------------------------------------------------------------


def json_object(req: FakeRequest) -> Any:
    try:
        body = req.json()
    except (ValueError, UnicodeDecodeError) as exc:
        raise validation(f"Invalid input JSON: {exc}") from None
    if not isinstance(body, dict):
        raise validation("The request body must be a JSON object.")
    model = req.route.body if req.route is not None else None
    return declared(body, model, str(req.route))


def batch_inputs(body: Mapping[str, Any]) -> list[Any]:
    given = body.get("inputs")
    if not isinstance(given, list):
        raise validation("inputs must be a list.", where="inputs")
    if len(given) > BATCH_MAX:
        raise validation(f"Too many inputs: {len(given)} (at most {BATCH_MAX}).", where="inputs")
    return given


def property_names(raw: object) -> list[str] | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or not all(isinstance(n, str) for n in raw):
        raise validation("properties must be a list of property names.", where="properties")
    return raw or None


def query_list(req: FakeRequest, name: str) -> list[str]:
    """A repeated or comma-separated query parameter (checked against the route's model)."""
    if name not in req.query:
        return []
    values = req.raw.url.params.get_list(name)
    return [v for value in values for v in value.split(",") if v]


def flag(req: FakeRequest, name: str) -> bool:
    return str(req.query.get(name, "false")).lower() == "true"


def whole_number(
    req: FakeRequest, name: str, default: int, most: int | None, *, default_zero: bool = False
) -> int:
    raw = req.query.get(name)
    if raw is None:
        return default
    if not str(raw).isdigit() or (not default_zero and int(raw) < 1) or (most and int(raw) > most):
        bound = f"up to {most}" if most else "from paging.next.after"
        raise validation(f"{name} must be a whole number {bound}, got {raw!r}.", where=name)
    return int(raw)


def next_page(after: int) -> dict[str, Any]:
    return {"next": {"after": str(after), "link": f"?after={after}"}}
