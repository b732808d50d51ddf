"""The ``Payments`` backend: Stripe's customer, charge, payment-intent and refund routes.

Its handlers validate, mutate, record and respond; the wire format, the idempotency layer and
the objects' state and rules live in the modules below it (:mod:`~chaoskit.fakes.payments.wire`,
:mod:`~chaoskit.fakes.payments.idempotency`, :mod:`~chaoskit.fakes.payments.objects`).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, ClassVar, Final, get_args

import httpx
from pydantic import JsonValue

from chaoskit.core.errors import WorldError
from chaoskit.fakes.base import FakeRequest, route
from chaoskit.fakes.payments.idempotency import _Idempotent
from chaoskit.fakes.payments.objects import (
    _CARD_ON_FILE,
    _CARDS,
    _Card,
    _money,
    _StripeObjects,
)
from chaoskit.fakes.payments.params import (
    ChargeFilter,
    Confirm,
    CustomerFilter,
    Expand,
    NewCharge,
    NewCustomer,
    NewPaymentIntent,
    NewRefund,
    PaymentIntentFilter,
    PaymentsOptions,
    RefundFilter,
    RefundReason,
)
from chaoskit.fakes.payments.wire import _Invalid, _key, _Object, _Params, _Refused

__all__ = ["Payments"]

_REFUND_REASONS: Final[tuple[str, ...]] = get_args(RefundReason)


class Payments(_StripeObjects, _Idempotent):
    """A fake Stripe: customers, charges, payment intents and refunds on ``api.stripe.com``.

    Requests need a secret key from :attr:`api_keys` (``Authorization: Bearer sk_…`` or HTTP
    basic with the key as the username). ``POST`` requests honour ``Idempotency-Key`` as Stripe
    does: the first result is stored once execution begins (declines and 500s included) and
    replayed with ``Idempotent-Replayed: true``; the same key with other parameters is a 400
    ``idempotency_error``; a key still in flight is a 409; validation errors are not stored;
    keys expire after 24 hours of virtual time; keys over 255 characters are refused.
    ``commit_latency`` (virtual seconds, also a scenario's ``[payments] commit_latency``) keeps
    a keyed request's answer invisible that long after it began: a request reusing its key
    meanwhile, concurrent or a client's retry, gets Stripe's 409 ``idempotency_key_in_use``.

    >>> import stripe
    >>> fake = Payments()
    >>> customer_id = fake.add_customer(name="Ada Lovelace", email="ada@example.com")
    >>> charge_id = fake.add_charge(customer=customer_id, amount=4200)
    >>> fake.charge(charge_id)["customer"] == customer_id
    True
    """

    name = "payments"
    default_host = "api.stripe.com"
    #: The stripe SDKs read no variable: the agent sets ``stripe.api_base`` (Python) or
    #: ``host``/``port``/``protocol`` (Node) from ``STRIPE_API_BASE``.
    sdk_environment: ClassVar[Mapping[str, str]] = {
        "STRIPE_API_BASE": "{url}",
        "STRIPE_API_KEY": "{credential}",
    }
    body_encoding = "form"
    auth_schemes = ("bearer", "basic")
    #: The key :meth:`__init__` accepts unless given others.
    DEFAULT_API_KEY: Final = "sk_test_chaoskit"

    def credential(self, principal_token: str) -> str:
        """The platform's secret key: payments are made by the platform, not the user."""
        return self.DEFAULT_API_KEY

    Options = PaymentsOptions

    def __init__(
        self,
        *,
        host: str | None = None,
        api_keys: Mapping[str, str] | None = None,
        commit_latency: float = 0.0,
    ):
        #: Accepted secret keys, each mapped to the principal recorded on ledger entries.
        self.api_keys: dict[str, str] = dict(api_keys or {self.DEFAULT_API_KEY: "platform"})
        super().__init__(host=host, commit_latency=commit_latency)

    def apply_options(self, options: PaymentsOptions) -> None:
        """A scenario's ``[payments]`` table: ``commit_latency = 2.0``."""
        self.set_commit_latency(options.commit_latency)

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

    def sample(self) -> dict[str, str]:
        """Ada's customer, a paid $42.00 charge refunded $5.00, and an unconfirmed intent."""
        customer = self.add_customer(name="Ada Lovelace", email="ada@example.com")
        charge = self.add_charge(customer=customer, amount=4200, description="Order 1042")
        auth = {"Authorization": f"Bearer {self.DEFAULT_API_KEY}"}
        refund = self.request(
            "POST", "/v1/refunds", data={"charge": charge, "amount": "500"}, headers=auth
        )
        pending = self.request(
            "POST",
            "/v1/payment_intents",
            data={"amount": "1999", "currency": "usd", "customer": customer},
            headers=auth,
        )
        return {
            "customer": customer,
            "charge": charge,
            "payment_intent": str(self.charge(charge)["payment_intent"]),
            "refund": refund.json()["id"],
            "unconfirmed_intent": pending.json()["id"],
        }

    # -- customers ----------------------------------------------------------------------------

    @route(
        "POST",
        "/v1/customers",
        body=NewCustomer,
        example={"name": "Grace Hopper", "email": "grace@example.com"},
    )
    def create_customer(self, req: FakeRequest) -> httpx.Response:
        """Create a customer (``name``, ``email``, ``phone``, ``description``, ``metadata``)."""
        p = self._params(req)
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

    @route("GET", "/v1/customers/{id}", query=Expand, example={"id": "{customer}"})
    def retrieve_customer(self, req: FakeRequest) -> httpx.Response:
        """Retrieve a customer by id."""
        return self._retrieve(req, "customer")

    @route("GET", "/v1/customers", query=CustomerFilter, example={"email": "ada@example.com"})
    def list_customers(self, req: FakeRequest) -> httpx.Response:
        """List customers, newest first, optionally by ``email``."""
        return self._list(req, "customer")

    # -- charges ------------------------------------------------------------------------------

    @route(
        "POST",
        "/v1/charges",
        body=NewCharge,
        example={
            "amount": 2500,
            "currency": "usd",
            "source": "tok_visa",
            "metadata": {"order": "1042"},
        },
    )
    def create_charge(self, req: FakeRequest) -> httpx.Response:
        """Charge a test token (``source``) or a customer's card on file."""
        p = self._params(req)
        amount, currency = self._amount(p), p.currency()
        source, customer = p.string("source"), p.string("customer")
        if source is None and customer is None:
            raise _Invalid("Must provide source or customer.", code="parameter_missing")
        if not p.boolean("capture", default=True):
            raise _Invalid(_UNMODELLED.format(what="uncaptured charges"), param="capture")
        # A bare charge is built like an intent's charge, from an intent that has no id.
        intent: _Object = {"id": None, "amount": amount, "currency": currency}
        intent |= {"customer": customer, "description": p.string("description")}
        intent |= {"metadata": p.metadata(), "receipt_email": p.string("receipt_email")}
        if customer is not None:
            self._find("customer", customer, param="customer")
        card = _CARD_ON_FILE if source is None else self._card(source, "tok_", "source")
        charge = self._new_charge(intent, card, source=True)
        self._record_charge(req, charge)
        if card.declined:
            return self._declined(card, charge)
        return self._object(charge, p)

    @route("GET", "/v1/charges/{id}", query=Expand, example={"id": "{charge}"})
    def retrieve_charge(self, req: FakeRequest) -> httpx.Response:
        """Retrieve a charge by id."""
        return self._retrieve(req, "charge")

    @route("GET", "/v1/charges", query=ChargeFilter, example={"customer": "{customer}", "limit": 3})
    def list_charges(self, req: FakeRequest) -> httpx.Response:
        """List charges, newest first, optionally by ``customer`` or ``payment_intent``."""
        return self._list(req, "charge")

    # -- payment intents ------------------------------------------------------------------------

    @route(
        "POST",
        "/v1/payment_intents",
        body=NewPaymentIntent,
        example={
            "amount": 4200,
            "currency": "usd",
            "customer": "{customer}",
            "payment_method": "pm_card_visa",
            "confirm": True,
        },
    )
    def create_payment_intent(self, req: FakeRequest) -> httpx.Response:
        """Create a payment intent; with ``confirm=true`` confirm it at once."""
        p = self._params(req)
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
            receipt_email=p.string("receipt_email"),
        )
        intent |= {"payment_method": method, "status": _pending_status(method)}
        self._record_intent(req, "payment_intent.created", intent)
        if card is not None and confirm:
            return self._confirm(req, intent, card, p)
        return self._object(intent, p)

    @route(
        "POST",
        "/v1/payment_intents/{id}/confirm",
        body=Confirm,
        example={"id": "{unconfirmed_intent}", "payment_method": "pm_card_visa"},
    )
    def confirm_payment_intent(self, req: FakeRequest) -> httpx.Response:
        """Confirm a payment intent: ``pm_card_visa`` succeeds and creates a charge."""
        p = self._params(req)
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

    @route("GET", "/v1/payment_intents/{id}", query=Expand, example={"id": "{payment_intent}"})
    def retrieve_payment_intent(self, req: FakeRequest) -> httpx.Response:
        """Retrieve a payment intent by id."""
        return self._retrieve(req, "payment_intent", param="intent")

    @route(
        "GET", "/v1/payment_intents", query=PaymentIntentFilter, example={"customer": "{customer}"}
    )
    def list_payment_intents(self, req: FakeRequest) -> httpx.Response:
        """List payment intents, newest first, optionally by ``customer``."""
        return self._list(req, "payment_intent")

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

    @route(
        "POST",
        "/v1/refunds",
        body=NewRefund,
        example={"charge": "{charge}", "amount": 500, "reason": "requested_by_customer"},
    )
    def create_refund(self, req: FakeRequest) -> httpx.Response:
        """Refund a charge (or a payment intent's charge); by default what is left."""
        p = self._params(req)
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

    @route("GET", "/v1/refunds/{id}", query=Expand, example={"id": "{refund}"})
    def retrieve_refund(self, req: FakeRequest) -> httpx.Response:
        """Retrieve a refund by id."""
        return self._retrieve(req, "refund")

    @route("GET", "/v1/refunds", query=RefundFilter, example={"charge": "{charge}"})
    def list_refunds(self, req: FakeRequest) -> httpx.Response:
        """List refunds, newest first, optionally by ``charge`` or ``payment_intent``."""
        return self._list(req, "refund")

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


_UNMODELLED = (
    "chaoskit: the payments fake does not model {what}; leave the parameter out, or subclass "
    "Payments to add it (see fakes/payments/backend.py)."
)
_NO_METHOD = (
    "You cannot confirm this PaymentIntent because it's missing a payment method. Pass a "
    "payment_method such as 'pm_card_visa'."
)
_ALREADY_SUCCEEDED = (
    "You cannot confirm this PaymentIntent because it has already succeeded after being "
    "previously confirmed."
)


def _pending_status(method: str | None) -> str:
    return "requires_payment_method" if method is None else "requires_confirmation"


def _decline_body(card: _Card, charge: _Object) -> dict[str, JsonValue]:
    return {
        "type": "card_error",
        "code": "card_declined",
        "decline_code": card.decline_code,
        "message": card.message,
        "charge": charge["id"],
    }
