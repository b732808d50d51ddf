"""The payments fake: an in-memory Stripe that the official ``stripe`` SDK talks to unchanged.

It speaks Stripe's v1 wire format: form-encoded bodies (``metadata[order]=42``), JSON objects
with ``object``/``id``/``created``/``livemode``, list envelopes, the error envelope
``{"error": {"type", "code", "message", "param"}}`` with Stripe's status codes, secret-key
authentication (Bearer or HTTP basic) and idempotency keys exactly as Stripe documents them.

>>> import httpx
>>> fake = Payments()
>>> charge_id = fake.add_charge(customer=None, amount=2000)
>>> client = httpx.Client(
...     transport=httpx.MockTransport(fake.serve),
...     base_url="https://api.stripe.com",
...     auth=(Payments.DEFAULT_API_KEY, ""),
... )
>>> client.post("/v1/refunds", data={"charge": charge_id, "amount": "500"}).json()["amount"]
500
>>> fake.charge(charge_id)["amount_refunded"]
500
"""

from __future__ import annotations

import base64
import binascii
import copy
import difflib
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import httpx
from pydantic import JsonValue

from chaoskit.core.errors import WorldError
from chaoskit.fakes.base import FakeBackend, FakeRequest, Route, route

__all__ = ["Payments"]

#: Stripe prunes idempotency keys once they are at least this old.
IDEMPOTENCY_TTL: Final = 24 * 60 * 60.0

_Object = dict[str, Any]
_PREFIXES: Final = {"cus": "customer", "ch": "charge", "pi": "payment_intent", "re": "refund"}
_REFUND_REASONS: Final = ("duplicate", "fraudulent", "requested_by_customer")
_SYMBOLS: Final = {"usd": "$", "eur": "€", "gbp": "£"}
_ZERO_DECIMAL: Final = frozenset({"bif", "clp", "jpy", "krw", "pyg", "vnd", "xaf", "xof"})
_KEY_PART = re.compile(r"\[([^\[\]]*)\]")
_KEY_HEAD = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
# The parameters each endpoint accepts; any other is Stripe's `parameter_unknown`.
_COMMON: Final = ("description", "metadata", "receipt_email")
_CONFIRM_PARAMS: Final = frozenset({"payment_method", "return_url", "off_session"})
_CUSTOMER_PARAMS: Final = frozenset({"name", "email", "phone", "description", "metadata"})
_CHARGE_PARAMS: Final = frozenset({"amount", "currency", "source", "customer", "capture", *_COMMON})
_INTENT_PARAMS: Final = frozenset(
    {"amount", "currency", "customer", "confirm", *_CONFIRM_PARAMS, *_COMMON}
    | {"payment_method_types", "automatic_payment_methods"}
)
_REFUND_PARAMS: Final = frozenset({"charge", "payment_intent", "amount", "reason", "metadata"})
_PAGING: Final = frozenset({"limit", "starting_after"})


@dataclass(frozen=True, slots=True)
class _Card:
    """A Stripe test card, reachable as ``tok_<name>`` and ``pm_card_<name>``."""

    brand: str
    last4: str
    decline_code: str | None = None
    message: str = "Your card was declined."

    @property
    def declined(self) -> bool:
        return self.decline_code is not None


# Stripe's documented test tokens and payment methods (docs.stripe.com/testing).
_CARDS: Final = {
    "visa": _Card("visa", "4242"),
    "mastercard": _Card("mastercard", "4444"),
    "amex": _Card("amex", "8431"),
    "chargeDeclined": _Card("visa", "0002", "generic_decline"),
    "chargeDeclinedInsufficientFunds": _Card(
        "visa", "9995", "insufficient_funds", "Your card has insufficient funds."
    ),
    "chargeDeclinedFraudulent": _Card("visa", "0019", "fraudulent"),
}
# What a charge by ``customer`` alone uses: the customer's default card on file.
_CARD_ON_FILE: Final = _CARDS["visa"]


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


@dataclass
class _Books:
    """The fake's state: every Stripe object by type, then by id, in creation order."""

    tables: dict[str, dict[str, _Object]] = field(
        default_factory=lambda: {kind: {} for kind in _PREFIXES.values()}
    )


@dataclass(frozen=True, slots=True)
class _Answer:
    """A stored response: what a replay under the same idempotency key gives back."""

    status: int
    content: bytes
    headers: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, response: httpx.Response) -> _Answer:
        return cls(response.status_code, response.content, tuple(response.headers.items()))

    def replay(self) -> httpx.Response:
        response = httpx.Response(self.status, content=self.content, headers=self.headers)
        response.headers["Idempotent-Replayed"] = "true"
        return response


@dataclass(slots=True)
class _KeyRecord:
    """One idempotency key: in flight until ``answer`` is set, then replayed for 24 hours."""

    path: str
    params: tuple[tuple[str, str], ...]
    started_at: float
    answer: _Answer | None = None

    def expired(self, now: float) -> bool:
        return self.answer is not None and now - self.started_at >= IDEMPOTENCY_TTL


class _Params:
    """A request's parameters, nested as Stripe encodes them, read with Stripe's checks."""

    def __init__(self, values: dict[str, Any]) -> None:
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


class Payments(FakeBackend):
    """A fake Stripe: customers, charges, payment intents and refunds on ``api.stripe.com``.

    Requests need a secret key from :attr:`api_keys` (``Authorization: Bearer sk_…`` or HTTP
    basic with the key as the username). ``POST`` requests honour ``Idempotency-Key`` as Stripe
    does: the first result is stored once execution begins (declines and 500s included) and
    replayed with ``Idempotent-Replayed: true``; the same key with other parameters is a 400
    ``idempotency_error``; a key still in flight is a 409; validation errors are not stored;
    keys expire after 24 hours of virtual time.

    >>> import stripe
    >>> fake = Payments()
    >>> customer_id = fake.add_customer(name="Ada Lovelace", email="ada@example.com")
    >>> charge_id = fake.add_charge(customer=customer_id, amount=4200)
    >>> fake.charge(charge_id)["customer"] == customer_id
    True
    """

    name = "payments"
    default_host = "api.stripe.com"
    #: The key :meth:`__init__` accepts unless given others.
    DEFAULT_API_KEY: Final = "sk_test_chaoskit"

    state: _Books

    def __init__(self, *, host: str | None = None, api_keys: Mapping[str, str] | None = None):
        #: Accepted secret keys, each mapped to the principal recorded on ledger entries.
        self.api_keys: dict[str, str] = dict(api_keys or {self.DEFAULT_API_KEY: "platform"})
        # Idempotency keys live outside `state`: a stale read swaps `state`, never these.
        self._keys: dict[tuple[str, str], _KeyRecord] = {}
        self._keys_lock = threading.Lock()
        self._request_ids_lock = threading.Lock()
        super().__init__(host=host)

    def new_state(self) -> _Books:
        return _Books()

    def reset(self) -> None:
        """Forget everything, idempotency keys included."""
        with self.lock:
            super().reset()
            with self._keys_lock:
                self._keys.clear()

    # -- seeding and reading, for world generators and invariants --------------------------

    def add_customer(self, *, name: str, email: str) -> str:
        """Add a pre-existing customer (no ledger entry) and return its ``cus_…`` id."""
        with self.lock:
            return str(self._new_customer(name=name, email=email)["id"])

    def add_charge(
        self,
        *,
        customer: str | None,
        amount: int,
        currency: str = "usd",
        description: str | None = None,
    ) -> str:
        """Add a succeeded, captured charge and its payment intent (no ledger entries).

        Returns the ``ch_…`` id; the charge's ``payment_intent`` names the intent.
        """
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < 1:
            raise WorldError(
                f"chaoskit: add_charge needs a positive integer amount, got {amount!r}."
            )
        with self.lock:
            if customer is not None:
                self._seeded("customer", customer)
            intent = self._new_intent(
                amount=amount, currency=currency.lower(), customer=customer, description=description
            )
            intent["payment_method"] = "pm_card_visa"
            charge = self._new_charge(intent, _CARDS["visa"])
            self._settle_intent(intent, charge)
            return str(charge["id"])

    def charge(self, charge_id: str) -> dict[str, Any]:
        """A copy of a charge as the API would show it (``amount_refunded``, ``refunded``…)."""
        with self.lock:
            return copy.deepcopy(self._seeded("charge", charge_id))

    def refunds_for(self, charge_id: str) -> list[dict[str, Any]]:
        """Copies of every refund of a charge, oldest first."""
        with self.lock:
            self._seeded("charge", charge_id)
            refunds = self._table("refund").values()
            return [copy.deepcopy(r) for r in refunds if r["charge"] == charge_id]

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

    # -- requests: authentication, then idempotency, then the handler ------------------------

    def handle(self, raw: httpx.Request, route: Route, params: Mapping[str, str]) -> httpx.Response:
        """Authenticate, then run the handler behind Stripe's idempotency layer."""
        req = FakeRequest(raw, params, request_id=self.new_request_id())
        response = self._answer(req, route)
        response.headers["Request-Id"] = req.request_id
        return response

    def dispatch(self, req: FakeRequest, route: Route) -> httpx.Response:
        """Call the handler, turning refusals and crashes into Stripe error responses."""
        return self._run(req, route)[0]

    def new_request_id(self) -> str:
        """A ``req_…`` id, minted without waiting for a request that is executing."""
        # Not under `self.lock`: a request must be able to find its key in flight (and get its
        # 409) while another request holds the lock to execute. Only requests mint `req` ids.
        with self._request_ids_lock:
            return self.new_id("req")

    def _answer(self, req: FakeRequest, route: Route) -> httpx.Response:
        # Authentication reads only `api_keys`, so it too runs without the lock.
        denied = self.authenticate(req)
        if denied is not None:
            return denied
        key = req.headers.get("idempotency-key")
        if req.method != "POST" or not key:
            with self.lock:
                return self.dispatch(req, route)
        return self._idempotent(req, route, key)

    def _idempotent(self, req: FakeRequest, route: Route, key: str) -> httpx.Response:
        """Phase 1 claims the key, phase 2 executes, phase 3 stores; the lock is free between."""
        slot = (req.principal or "", key)
        claimed = self._claim(slot, req)
        if isinstance(claimed, httpx.Response):
            return claimed
        stored: httpx.Response | None = None
        try:
            with self.lock:
                response, began = self._run(req, route)
            response.headers["Idempotency-Key"] = key
            stored = response if began else None
            return response
        finally:
            self._store(slot, claimed, stored)

    def _claim(self, slot: tuple[str, str], req: FakeRequest) -> _KeyRecord | httpx.Response:
        """Mark the key in flight, or answer at once: a replay, a 409 or an idempotency_error."""
        params = tuple(sorted(req.form().items()))
        with self._keys_lock:
            record = self._keys.get(slot)
            if record is None or record.expired(self.now()):
                record = _KeyRecord(req.path, params, started_at=self.now())
                self._keys[slot] = record
                return record
            return self._conflict(record, slot[1], req.path, params)

    def _conflict(
        self, record: _KeyRecord, key: str, path: str, params: tuple[tuple[str, str], ...]
    ) -> httpx.Response:
        if record.answer is None:
            return self.error(
                409,
                "There is currently another in-progress request using this Idempotent Key (that "
                "probably means you submitted twice, and the other request is still going "
                f"through): {key}. Please try again later.",
                code="idempotency_key_in_use",
            )
        other = f"Try using a key other than '{key}' if you meant to execute a different request."
        if record.path != path:
            return self.error(
                400,
                "Keys for idempotent requests can only be used for the same endpoint they were "
                f"first used for ('{path}' vs '{record.path}'). {other}",
                type="idempotency_error",
            )
        if record.params != params:
            return self.error(
                400,
                "Keys for idempotent requests can only be used with the same parameters they "
                f"were first used with. {other}",
                type="idempotency_error",
            )
        return record.answer.replay()

    def _store(
        self, slot: tuple[str, str], record: _KeyRecord, response: httpx.Response | None
    ) -> None:
        """Keep the answer for replays, or free the key when execution never began."""
        with self._keys_lock:
            if self._keys.get(slot) is not record:
                return  # reset() ran while the request was in flight
            if response is None:
                del self._keys[slot]
            else:
                record.answer = _Answer.of(response)

    def _run(self, req: FakeRequest, route: Route) -> tuple[httpx.Response, bool]:
        """The handler's answer, and whether execution began (Stripe stores only those)."""
        try:
            return super().dispatch(req, route), True
        except _Invalid as refusal:
            return self._refusal(refusal), False
        except _Refused as refusal:
            return self._refusal(refusal), True
        except Exception as exc:
            return self._crash(req, exc), True

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

    # -- customers ----------------------------------------------------------------------------

    @route("POST", "/v1/customers")
    def create_customer(self, req: FakeRequest) -> httpx.Response:
        """Create a customer (``name``, ``email``, ``phone``, ``description``, ``metadata``)."""
        p = self._params(req, _CUSTOMER_PARAMS)
        customer = self._new_customer(
            name=p.string("name"),
            email=p.string("email"),
            phone=p.string("phone"),
            description=p.string("description"),
            metadata=p.metadata(),
        )
        self.record(
            req,
            "customer.created",
            customer["id"],
            idempotency_key=_key(req),
            email=customer["email"],
            name=customer["name"],
        )
        return self._object(customer, p)

    @route("GET", "/v1/customers/{id}")
    def retrieve_customer(self, req: FakeRequest) -> httpx.Response:
        """Retrieve a customer by id."""
        return self._retrieve(req, "customer")

    @route("GET", "/v1/customers")
    def list_customers(self, req: FakeRequest) -> httpx.Response:
        """List customers, newest first, optionally by ``email``."""
        return self._list(req, "customer", ("email",))

    # -- charges ------------------------------------------------------------------------------

    @route("POST", "/v1/charges")
    def create_charge(self, req: FakeRequest) -> httpx.Response:
        """Charge a test token (``source``) or a customer's card on file."""
        p = self._params(req, _CHARGE_PARAMS)
        amount, currency = self._amount(p), p.currency()
        source, customer = p.string("source"), p.string("customer")
        if source is None and customer is None:
            raise _Invalid("Must provide source or customer.", code="parameter_missing")
        if not p.boolean("capture", default=True):
            raise _Invalid(_UNMODELLED.format(what="uncaptured charges"), param="capture")
        # A bare charge is built like an intent's charge, from an intent that has no id.
        intent: _Object = {"id": None, "amount": amount, "currency": currency}
        intent |= {"customer": customer, "description": p.string("description")}
        intent["metadata"] = p.metadata()
        if customer is not None:
            self._find("customer", customer, param="customer")
        card = _CARD_ON_FILE if source is None else self._card(source, "tok_", "source")
        charge = self._new_charge(intent, card)
        self._record_charge(req, charge)
        if card.declined:
            return self._declined(card, charge)
        return self._object(charge, p)

    @route("GET", "/v1/charges/{id}")
    def retrieve_charge(self, req: FakeRequest) -> httpx.Response:
        """Retrieve a charge by id."""
        return self._retrieve(req, "charge")

    @route("GET", "/v1/charges")
    def list_charges(self, req: FakeRequest) -> httpx.Response:
        """List charges, newest first, optionally by ``customer`` or ``payment_intent``."""
        return self._list(req, "charge", ("customer", "payment_intent"))

    # -- payment intents ------------------------------------------------------------------------

    @route("POST", "/v1/payment_intents")
    def create_payment_intent(self, req: FakeRequest) -> httpx.Response:
        """Create a payment intent; with ``confirm=true`` confirm it at once."""
        p = self._params(req, _INTENT_PARAMS)
        amount, currency = self._amount(p), p.currency()
        customer, method = p.string("customer"), p.string("payment_method")
        confirm = p.boolean("confirm", default=False)
        if confirm and method is None:
            raise _Invalid(_NO_METHOD, code="parameter_missing", param="payment_method")
        if customer is not None:
            self._find("customer", customer, param="customer")
        card = None if method is None else self._card(method, "pm_card_", "payment_method")
        intent = self._new_intent(
            amount=amount,
            currency=currency,
            customer=customer,
            description=p.string("description"),
            metadata=p.metadata(),
        )
        intent |= {"payment_method": method, "status": _pending_status(method)}
        self._record_intent(req, "payment_intent.created", intent)
        if card is not None and confirm:
            return self._confirm(req, intent, card, p)
        return self._object(intent, p)

    @route("POST", "/v1/payment_intents/{id}/confirm")
    def confirm_payment_intent(self, req: FakeRequest) -> httpx.Response:
        """Confirm a payment intent: ``pm_card_visa`` succeeds and creates a charge."""
        p = self._params(req, _CONFIRM_PARAMS)
        method = p.string("payment_method")
        intent = self._find("payment_intent", req.params["id"], param="intent", status=404)
        if intent["status"] == "succeeded":
            raise _Refused(400, _ALREADY_SUCCEEDED, code="payment_intent_unexpected_state")
        method = method or intent["payment_method"]
        if method is None:
            raise _Refused(400, _NO_METHOD, code="payment_intent_unexpected_state")
        card = self._card(method, "pm_card_", "payment_method")
        intent["payment_method"] = method
        return self._confirm(req, intent, card, p)

    @route("GET", "/v1/payment_intents/{id}")
    def retrieve_payment_intent(self, req: FakeRequest) -> httpx.Response:
        """Retrieve a payment intent by id."""
        return self._retrieve(req, "payment_intent", param="intent")

    @route("GET", "/v1/payment_intents")
    def list_payment_intents(self, req: FakeRequest) -> httpx.Response:
        """List payment intents, newest first, optionally by ``customer``."""
        return self._list(req, "payment_intent", ("customer",))

    def _confirm(
        self, req: FakeRequest, intent: _Object, card: _Card, p: _Params
    ) -> httpx.Response:
        """Charge the intent's card: success settles it, a decline sends it back for another."""
        charge = self._new_charge(intent, card)
        self._record_charge(req, charge)
        if card.declined:
            error = _decline_body(card, charge)
            intent |= {"status": "requires_payment_method", "latest_charge": charge["id"]}
            intent |= {"last_payment_error": error, "payment_method": None}
            return self._declined(card, charge, payment_intent=copy.deepcopy(intent))
        self._settle_intent(intent, charge)
        self._record_intent(req, "payment_intent.confirmed", intent)
        return self._object(intent, p)

    # -- refunds ------------------------------------------------------------------------------

    @route("POST", "/v1/refunds")
    def create_refund(self, req: FakeRequest) -> httpx.Response:
        """Refund a charge (or a payment intent's charge); by default what is left."""
        p = self._params(req, _REFUND_PARAMS)
        charge_id, intent_id = p.string("charge"), p.string("payment_intent")
        if charge_id is None and intent_id is None:
            raise _Invalid(
                "One of the following params should be provided for this request: charge or "
                "payment_intent.",
                code="parameter_missing",
                param="charge",
            )
        amount, reason = p.integer("amount"), p.choice("reason", _REFUND_REASONS)
        metadata = p.metadata()
        charge = self._refundable(charge_id, intent_id)
        amount = self._refund_amount(charge, amount)
        refund = self._new_refund(charge, amount, reason=reason, metadata=metadata)
        self.record(
            req,
            "refund.created",
            refund["id"],
            idempotency_key=_key(req),
            charge=refund["charge"],
            payment_intent=refund["payment_intent"],
            amount=amount,
            currency=refund["currency"],
            reason=reason,
        )
        return self._object(refund, p)

    @route("GET", "/v1/refunds/{id}")
    def retrieve_refund(self, req: FakeRequest) -> httpx.Response:
        """Retrieve a refund by id."""
        return self._retrieve(req, "refund")

    @route("GET", "/v1/refunds")
    def list_refunds(self, req: FakeRequest) -> httpx.Response:
        """List refunds, newest first, optionally by ``charge`` or ``payment_intent``."""
        return self._list(req, "refund", ("charge", "payment_intent"))

    def _refundable(self, charge_id: str | None, intent_id: str | None) -> _Object:
        """The charge a refund request names, directly or through its payment intent."""
        if charge_id is not None:
            charge = self._find("charge", charge_id, param="charge")
            if intent_id is not None and charge["payment_intent"] != intent_id:
                raise _Refused(
                    400,
                    f"Charge {charge_id} does not belong to PaymentIntent {intent_id}.",
                    param="payment_intent",
                )
        else:
            assert intent_id is not None
            intent = self._find("payment_intent", intent_id, param="payment_intent")
            charge = self._table("charge").get(intent["latest_charge"] or "", {})
        if charge.get("status") != "succeeded":
            what = f"Charge {charge_id}" if charge_id else f"PaymentIntent {intent_id}"
            raise _Refused(400, f"{what} has no successful payment to refund.")
        return charge

    def _refund_amount(self, charge: _Object, asked: int | None) -> int:
        remaining = int(charge["amount"]) - int(charge["amount_refunded"])
        if remaining <= 0:
            raise _Refused(
                400,
                f"Charge {charge['id']} has already been refunded.",
                code="charge_already_refunded",
            )
        if asked is not None and asked > remaining:
            currency = str(charge["currency"])
            raise _Refused(
                400,
                f"Refund amount ({_money(asked, currency)}) is greater than unrefunded amount "
                f"on charge ({_money(remaining, currency)})",
                code="amount_too_large",
                param="amount",
            )
        return remaining if asked is None else asked

    # -- building objects -----------------------------------------------------------------------

    def _new_customer(
        self,
        *,
        name: str | None,
        email: str | None,
        phone: str | None = None,
        description: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> _Object:
        customer = self._stamp("customer", "cus", livemode=True)
        customer |= {"balance": 0, "currency": None, "delinquent": False}
        customer |= {"description": description, "email": email, "name": name, "phone": phone}
        customer["metadata"] = metadata or {}
        return customer

    def _new_intent(
        self,
        *,
        amount: int,
        currency: str,
        customer: str | None,
        description: str | None,
        metadata: dict[str, str] | None = None,
    ) -> _Object:
        intent = self._stamp("payment_intent", "pi", livemode=True)
        intent["client_secret"] = f"{intent['id']}_secret_{self.new_id('secret')[7:]}"
        intent |= {"amount": amount, "amount_received": 0, "currency": currency}
        intent |= {"capture_method": "automatic", "confirmation_method": "automatic"}
        intent |= {"customer": customer, "description": description, "last_payment_error": None}
        intent |= {"latest_charge": None, "metadata": metadata or {}, "payment_method": None}
        intent |= {"payment_method_types": ["card"], "status": "requires_payment_method"}
        return intent

    def _new_charge(self, intent: _Object, card: _Card) -> _Object:
        """A charge for ``intent``'s amount (``intent["id"]`` is None for a bare charge)."""
        charge = self._stamp("charge", "ch", livemode=True)
        paid = not card.declined
        amount = int(intent["amount"])
        charge |= {"amount": amount, "amount_captured": amount if paid else 0}
        charge |= {"amount_refunded": 0, "captured": paid, "currency": intent["currency"]}
        charge |= {"customer": intent["customer"], "description": intent.get("description")}
        charge |= {"failure_code": None if paid else "card_declined"}
        charge |= {"failure_message": None if paid else card.message}
        charge |= {"metadata": dict(intent.get("metadata") or {}), "paid": paid}
        charge |= {"payment_intent": intent["id"], "payment_method_details": _card_details(card)}
        charge |= {"refunded": False, "status": "succeeded" if paid else "failed"}
        return charge

    def _new_refund(
        self, charge: _Object, amount: int, *, reason: str | None, metadata: dict[str, str]
    ) -> _Object:
        refund = self._stamp("refund", "re", livemode=False)
        refund |= {"amount": amount, "balance_transaction": None, "charge": charge["id"]}
        refund |= {"currency": charge["currency"], "metadata": metadata}
        refund |= {"payment_intent": charge["payment_intent"], "reason": reason}
        refund |= {"receipt_number": None, "status": "succeeded"}
        charge["amount_refunded"] = int(charge["amount_refunded"]) + amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        return refund

    def _stamp(self, kind: str, prefix: str, *, livemode: bool) -> _Object:
        """A new object's common fields, stored in its table. Refunds carry no ``livemode``."""
        obj: _Object = {"id": self.new_id(prefix), "object": kind, "created": self.timestamp()}
        if livemode:
            obj["livemode"] = False
        self._table(kind)[obj["id"]] = obj
        return obj

    def _settle_intent(self, intent: _Object, charge: _Object) -> None:
        intent |= {"status": "succeeded", "amount_received": intent["amount"]}
        intent |= {"latest_charge": charge["id"], "last_payment_error": None}

    def _record_charge(self, req: FakeRequest, charge: _Object) -> None:
        kind = "charge.created" if charge["paid"] else "charge.failed"
        self.record(
            req,
            kind,
            charge["id"],
            idempotency_key=_key(req),
            amount=charge["amount"],
            currency=charge["currency"],
            customer=charge["customer"],
            payment_intent=charge["payment_intent"],
            status=charge["status"],
        )

    def _record_intent(self, req: FakeRequest, kind: str, intent: _Object) -> None:
        self.record(
            req,
            kind,
            intent["id"],
            idempotency_key=_key(req),
            amount=intent["amount"],
            currency=intent["currency"],
            customer=intent["customer"],
            latest_charge=intent["latest_charge"],
            status=intent["status"],
        )

    def _declined(
        self, card: _Card, charge: _Object, *, payment_intent: _Object | None = None
    ) -> httpx.Response:
        extra: dict[str, JsonValue] = {"decline_code": card.decline_code, "charge": charge["id"]}
        if payment_intent is not None:
            extra["payment_intent"] = payment_intent
        return self.error(402, card.message, code="card_declined", extra=extra)

    # -- reading objects ------------------------------------------------------------------------

    def _table(self, kind: str) -> dict[str, _Object]:
        return self.state.tables[kind]

    def _find(self, kind: str, object_id: str, *, param: str, status: int = 400) -> _Object:
        """An object by id, or Stripe's ``resource_missing`` (404 for a path id)."""
        found = self._table(kind).get(object_id)
        if found is None:
            raise _Refused(
                status, f"No such {kind}: '{object_id}'", code="resource_missing", param=param
            )
        return found

    def _seeded(self, kind: str, object_id: str) -> _Object:
        """An object for the seeding and read helpers; a teaching error when it is unknown."""
        found = self._table(kind).get(object_id)
        if found is None:
            known = list(self._table(kind))
            close = difflib.get_close_matches(object_id, known, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise WorldError(
                f"chaoskit: payments has no {kind} {object_id!r}.{hint} It holds "
                f"{len(known)} {kind}(s); use the id returned by add_{kind}() or by the API."
            )
        return found

    def _card(self, value: str, prefix: str, param: str) -> _Card:
        card = _CARDS.get(value.removeprefix(prefix)) if value.startswith(prefix) else None
        if card is None:
            kind = "token" if prefix == "tok_" else "PaymentMethod"
            raise _Refused(400, f"No such {kind}: '{value}'", code="resource_missing", param=param)
        return card

    def _params(self, req: FakeRequest, allowed: frozenset[str]) -> _Params:
        """The request's parameters; an unknown one is Stripe's ``parameter_unknown``."""
        flat = req.query if req.method == "GET" else req.form()
        values = _nest(flat)
        for name in values:
            if name not in allowed and name != "expand":
                raise _Invalid(
                    f"Received unknown parameter: {name}", code="parameter_unknown", param=name
                )
        return _Params(values)

    def _amount(self, p: _Params) -> int:
        amount = p.integer("amount", required=True)
        currency = str(p.values.get("currency", "")).lower()
        assert amount is not None
        minimum = 50 if currency in _SYMBOLS else 1
        if amount < minimum:
            raise _Invalid(
                f"Amount must be at least {_money(minimum, currency)} {currency}",
                code="amount_too_small",
                param="amount",
            )
        return amount

    def _retrieve(self, req: FakeRequest, kind: str, *, param: str = "id") -> httpx.Response:
        p = self._params(req, frozenset())
        return self._object(self._find(kind, req.params["id"], param=param, status=404), p)

    def _list(self, req: FakeRequest, kind: str, filters: tuple[str, ...]) -> httpx.Response:
        """A page of a table, newest first, as Stripe's list envelope."""
        p = self._params(req, _PAGING | set(filters))
        limit = p.integer("limit") or 10
        if limit > 100:
            raise _Invalid(
                "This value must be less than or equal to 100.",
                code="parameter_invalid_integer",
                param="limit",
            )
        wanted = {f: p.string(f) for f in filters if p.string(f) is not None}
        rows = [o for o in reversed(self._table(kind).values()) if _matches(o, wanted)]
        start = self._page_start(rows, kind, p.string("starting_after"))
        page = [self._expanded(o, _under("data", p.expand)) for o in rows[start : start + limit]]
        body = {"object": "list", "data": page, "has_more": start + limit < len(rows)}
        return self.respond(200, body | {"url": req.path})

    def _page_start(self, rows: list[_Object], kind: str, after: str | None) -> int:
        if after is None:
            return 0
        ids = [row["id"] for row in rows]
        if after not in ids:
            self._find(kind, after, param="starting_after")
            return len(rows)  # exists but filtered out: nothing follows it in this list
        return ids.index(after) + 1

    def _object(self, obj: _Object, p: _Params) -> httpx.Response:
        return self.respond(200, self._expanded(obj, p.expand))

    def _expanded(self, obj: _Object, paths: Iterable[str]) -> _Object:
        """A copy of ``obj`` with the ids named by ``expand`` replaced by their objects."""
        out = copy.deepcopy(obj)
        for path in paths:
            head, _, rest = path.partition(".")
            value = out.get(head)
            if isinstance(value, str) and (target := self._by_id(value)) is not None:
                out[head] = self._expanded(target, [rest] if rest else [])
            elif isinstance(value, dict) and rest:
                out[head] = self._expanded(value, [rest])
        return out

    def _by_id(self, object_id: str) -> _Object | None:
        kind = _PREFIXES.get(object_id.partition("_")[0])
        return None if kind is None else self._table(kind).get(object_id)


_UNMODELLED = (
    "chaoskit: the payments fake does not model {what}; leave the parameter out, or subclass "
    "Payments to add it (see fakes/payments.py)."
)
_NO_METHOD = (
    "You cannot confirm this PaymentIntent because it's missing a payment method. Pass a "
    "payment_method such as 'pm_card_visa'."
)
_ALREADY_SUCCEEDED = (
    "You cannot confirm this PaymentIntent because it has already succeeded after being "
    "previously confirmed."
)


def _empty_message(name: str) -> str:
    return (
        f"You passed an empty string for '{name}'. We assume empty values are an attempt to "
        f"unset a parameter; however '{name}' cannot be unset. You should remove '{name}' from "
        "your request or supply a non-empty value."
    )


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


def _money(amount: int, currency: str) -> str:
    """An amount in minor units as Stripe writes it in messages: ``$25.00``."""
    whole = currency in _ZERO_DECIMAL
    number = str(amount) if whole else f"{amount // 100}.{amount % 100:02d}"
    symbol = _SYMBOLS.get(currency)
    return f"{symbol}{number}" if symbol else f"{number} {currency.upper()}"


def _pending_status(method: str | None) -> str:
    return "requires_payment_method" if method is None else "requires_confirmation"


def _card_details(card: _Card) -> dict[str, Any]:
    return {"type": "card", "card": {"brand": card.brand, "last4": card.last4}}


def _decline_body(card: _Card, charge: _Object) -> dict[str, JsonValue]:
    return {
        "type": "card_error",
        "code": "card_declined",
        "decline_code": card.decline_code,
        "message": card.message,
        "charge": charge["id"],
    }


def _matches(obj: _Object, wanted: Mapping[str, str | None]) -> bool:
    return all(obj.get(name) == value for name, value in wanted.items())


def _under(prefix: str, paths: Iterable[str]) -> list[str]:
    """The expand paths below ``prefix.`` (``data.charge`` → ``charge`` for list items)."""
    return [p.partition(".")[2] for p in paths if p.startswith(prefix + ".")]


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
