"""Stripe's v1 wire format, as the payments fake speaks it.

Form-encoded bodies with bracketed keys (``metadata[order]=42``, ``expand[0]=customer``),
nested back into objects and read with Stripe's parameter checks; the error envelope
``{"error": {"type", "code", "message", "param"}}`` with Stripe's status codes (and
``doc_url`` when there is a code); secret-key authentication (Bearer or HTTP basic); and the
``Request-Id`` (``req_…``) every answer carries.
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

import httpx
from pydantic import JsonValue

from chaoskit.fakes.base import Declared, FakeBackend, FakeRequest

_Object = dict[str, Any]
_KEY_PART = re.compile(r"\[([^\[\]]*)\]")
_KEY_HEAD = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


class _Refused(Exception):
    """An error answer raised from inside a handler; execution had begun, so it is stored."""

    def __init__(
        self, status: int, message: str, *, code: str | None = None, param: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param


class _Invalid(_Refused):
    """Parameters that failed validation: no endpoint began, so Stripe stores nothing."""

    def __init__(self, message: str, *, code: str | None = None, param: str | None = None) -> None:
        super().__init__(400, message, code=code, param=param)


class _Params:
    """A request's parameters, nested as Stripe encodes them, read with Stripe's checks."""

    def __init__(self, values: Declared) -> None:
        self.values = values

    @property
    def expand(self) -> list[str]:
        value = self.values.get("expand", [])
        return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []

    def string(self, name: str, *, required: bool = False) -> str | None:
        value = self.values.get(name)
        if value is None and required:
            raise _Invalid(f"Missing required param: {name}.", code="parameter_missing", param=name)
        if value == "" and required:
            raise _Invalid(_empty_message(name), code="parameter_invalid_empty", param=name)
        if value is not None and not isinstance(value, str):
            raise _Invalid(f"Invalid string: {name} must be a string.", param=name)
        return value or None

    def integer(self, name: str, *, required: bool = False, minimum: int = 1) -> int | None:
        raw = self.string(name, required=required)
        if raw is None:
            return None
        try:
            value = int(raw)
        except ValueError:
            raise _Invalid(
                f"Invalid integer: {raw}", code="parameter_invalid_integer", param=name
            ) from None
        if value < minimum:
            raise _Invalid(
                f"This value must be greater than or equal to {minimum}.",
                code="parameter_invalid_integer",
                param=name,
            )
        return value

    def boolean(self, name: str, *, default: bool) -> bool:
        raw = self.string(name)
        if raw is None:
            return default
        if raw not in ("true", "false"):
            raise _Invalid(f"Invalid boolean: {raw}", param=name)
        return raw == "true"

    def choice(self, name: str, allowed: tuple[str, ...]) -> str | None:
        value = self.string(name)
        if value is not None and value not in allowed:
            options = ", ".join(allowed[:-1]) + f", or {allowed[-1]}"
            raise _Invalid(f"Invalid {name}: must be one of {options}", param=name)
        return value

    def currency(self) -> str:
        value = (self.string("currency", required=True) or "").lower()
        if not re.fullmatch(r"[a-z]{3}", value):
            raise _Invalid(f"Invalid currency: {value}.", param="currency")
        return value

    def metadata(self) -> dict[str, str]:
        value = self.values.get("metadata")
        if value is None or value == "":
            return {}
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise _Invalid("Invalid object: metadata values must be strings.", param="metadata")
        return {str(k): str(v) for k, v in value.items()}


class _StripeWire(FakeBackend):
    """What every Stripe answer shares: authentication, the error envelope, request ids."""

    #: Accepted secret keys, each mapped to the principal recorded on ledger entries (set by
    #: :class:`~chaoskit.fakes.payments.Payments`).
    api_keys: dict[str, str]

    def __init__(self, *, host: str | None = None) -> None:
        self._request_ids_lock = threading.Lock()
        super().__init__(host=host)

    # -- Stripe's answers -------------------------------------------------------------------

    def authenticate(self, req: FakeRequest) -> httpx.Response | None:
        """Accept a known secret key, as Bearer token or basic-auth username."""
        key = _api_key(req.headers.get("authorization", ""))
        if key is None:
            return self._unauthorized(
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                "YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, "
                "or we can help at https://support.stripe.com/."
            )
        principal = self.api_keys.get(key)
        if principal is None:
            return self._unauthorized(f"Invalid API Key provided: {_mask(key)}")
        req.principal = principal
        return None

    def error(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        type: str | None = None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, JsonValue] | None = None,
    ) -> httpx.Response:
        """An error in Stripe's envelope, with ``doc_url`` when there is a code."""
        body: dict[str, JsonValue] = {"message": message, "type": type or _error_type(status)}
        if code is not None:
            body["code"] = code
            body["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
        if param is not None:
            body["param"] = param
        body.update(extra or {})
        return self.respond(status, {"error": body}, headers=headers)

    def fault_response(self, status: int, *, retry_after: float | None = None) -> httpx.Response:
        """Stripe's 429 (``code: rate_limit``) or 5xx (``api_error``) for an injected fault."""
        headers = {} if retry_after is None else {"Retry-After": _seconds(retry_after)}
        if status == 429:
            # Nothing ran, so a retry is safe; Stripe's SDKs obey this header.
            headers["Stripe-Should-Retry"] = "true"
            return self.error(
                429,
                "Request rate limit exceeded. Learn more about rate limits here "
                "https://stripe.com/docs/rate-limits.",
                code="rate_limit",
                headers=headers,
            )
        return self.error(status, "An unknown error occurred", headers=headers)

    def new_request_id(self) -> str:
        """A ``req_…`` id, minted without waiting for a request that is executing."""
        # Not under `self.lock`: a request must be able to find its key in flight (and get its
        # 409) while another request holds the lock to execute. Only requests mint `req` ids.
        with self._request_ids_lock:
            return self.new_id("req")

    def _refusal(self, refusal: _Refused) -> httpx.Response:
        return self.error(refusal.status, refusal.message, code=refusal.code, param=refusal.param)

    def _crash(self, req: FakeRequest, exc: Exception) -> httpx.Response:
        # Stripe stores its own 500s under the key and asks SDKs not to retry them.
        return self.error(
            500,
            f"chaoskit: the payments fake raised {type(exc).__name__}: {exc} while answering "
            f"{req.method} {req.path}. This is a bug in the fake; please report it with this "
            "message.",
            headers={"Stripe-Should-Retry": "false"},
        )

    def _unauthorized(self, message: str) -> httpx.Response:
        return self.error(401, message, headers={"WWW-Authenticate": 'Basic realm="Stripe"'})


def _empty_message(name: str) -> str:
    return (
        f"You passed an empty string for '{name}'. We assume empty values are an attempt to "
        f"unset a parameter; however '{name}' cannot be unset. You should remove '{name}' from "
        "your request or supply a non-empty value."
    )


def _pairs(req: FakeRequest) -> list[tuple[str, str]]:
    """The request's parameters as sent, repeated keys kept: the query on ``GET``, the form
    body otherwise."""
    if req.method == "GET":
        return list(req.raw.url.params.multi_items())
    body = req.raw.content.decode("utf-8", errors="replace")
    return parse_qsl(body, keep_blank_values=True)


def _indexed(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Flat parameters with arrays indexed: Stripe takes ``expand[]=a&expand[]=b`` (what
    curl users and most SDKs send) as well as stripe-python's ``expand[0]=a``."""
    counts: dict[str, int] = {}
    flat: dict[str, str] = {}
    for key, value in pairs:
        if key.endswith("[]"):
            base = key[:-2]
            counts[base] = counts.get(base, 0) + 1
            key = f"{base}[{counts[base] - 1}]"
        flat[key] = value
    return flat


def _key(req: FakeRequest) -> str | None:
    return req.headers.get("idempotency-key") or None


def _api_key(authorization: str) -> str | None:
    """The secret key of a Bearer header, or the username of a basic-auth header."""
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() == "bearer":
        return token or None
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(token, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.partition(":")[0] or None


def _mask(key: str) -> str:
    """A key as Stripe echoes it: its prefix and last four characters, the rest starred."""
    prefix = key[:8] if re.match(r"^[a-z]{2}_(test|live)_", key) else ""
    hidden = max(len(key) - len(prefix) - 4, 0)
    return prefix + "*" * hidden + key[len(prefix) + hidden :]


def _error_type(status: int) -> str:
    if status == 402:
        return "card_error"
    return "api_error" if status >= 500 else "invalid_request_error"


def _seconds(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


def _nest(flat: Mapping[str, str]) -> dict[str, Any]:
    """Stripe's bracketed form keys, nested: ``metadata[a]=1`` → ``{"metadata": {"a": "1"}}``.

    Arrays arrive indexed (``expand[0]=x``), as stripe-python's ``_api_encode`` sends them, and
    come back as lists.
    """
    root: dict[str, Any] = {}
    for key, value in flat.items():
        head = _KEY_HEAD.match(key)
        parts = [head.group(1), *_KEY_PART.findall(head.group(2))] if head else [key]
        node = root
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[parts[-1]] = value
    return {k: _listify(v) for k, v in root.items()}


def _listify(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    items = {k: _listify(v) for k, v in value.items()}
    if items and all(k.isdigit() for k in items):
        return [items[k] for k in sorted(items, key=int)]
    return items
