"""The Stripe objects of the payments fake: customers, charges, payment intents, refunds.

Each object carries ``object``, ``id`` (``cus_…``, ``ch_…``, ``pi_…``, ``re_…``), ``created``
and, refunds apart, ``livemode``, and lives in its type's table in creation order. Charges are
paid with Stripe's documented test cards (``tok_visa``, ``pm_card_visa``, the declining
``…chargeDeclined…`` ones); lists are Stripe's list envelope, newest first, paged by ``limit``
and ``starting_after``; ``expand`` replaces ids by the objects they name.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import httpx
from pydantic import JsonValue

from chaoskit.core.errors import WorldError
from chaoskit.fakes.base import FakeRequest, Route, declared, param_names
from chaoskit.fakes.payments.params import PAGING, Expand
from chaoskit.fakes.payments.reading import check_expand, created_filter, page_window
from chaoskit.fakes.payments.wire import (
    _indexed,
    _Invalid,
    _key,
    _nest,
    _Object,
    _pairs,
    _Params,
    _Refused,
    _StripeWire,
)

_COLLECTIONS: Final = {
    "customers": "customer",
    "charges": "charge",
    "payment_intents": "payment_intent",
    "refunds": "refund",
}
_PREFIXES: Final = {"cus": "customer", "ch": "charge", "pi": "payment_intent", "re": "refund"}
_SYMBOLS: Final = {"usd": "$", "eur": "€", "gbp": "£"}
_ZERO_DECIMAL: Final = frozenset({"bif", "clp", "jpy", "krw", "pyg", "vnd", "xaf", "xof"})
# Fields Stripe always returns that stay null here (Connect, Radar reviews, shipping…).
_CHARGE_NULLS: Final = (
    "application",
    "application_fee",
    "application_fee_amount",
    "failure_balance_transaction",
    "on_behalf_of",
    "review",
    "shipping",
    "source_transfer",
    "statement_descriptor",
    "statement_descriptor_suffix",
    "transfer_data",
    "transfer_group",
)
_INTENT_NULLS: Final = (
    "application",
    "application_fee_amount",
    "automatic_payment_methods",
    "canceled_at",
    "cancellation_reason",
    "customer_account",
    "excluded_payment_method_types",
    "managed_payments",
    "next_action",
    "on_behalf_of",
    "payment_method_configuration_details",
    "processing",
    "review",
    "setup_future_usage",
    "shipping",
    "source",
    "statement_descriptor",
    "statement_descriptor_suffix",
    "transfer_data",
    "transfer_group",
)
_INVOICE_SETTINGS: Final = (
    "custom_fields",
    "default_payment_method",
    "footer",
    "rendering_options",
)
_CARD_OPTIONS: Final = {
    "installments": None,
    "mandate_options": None,
    "network": None,
    "request_three_d_secure": "automatic",
}
_EXP_YEAR: Final = 2034


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


@dataclass
class _Books:
    """The fake's state: every Stripe object by type, then by id, in creation order."""

    tables: dict[str, dict[str, _Object]] = field(
        default_factory=lambda: {kind: {} for kind in _PREFIXES.values()}
    )


class _StripeObjects(_StripeWire):
    """The fake's state: building, storing, finding and showing Stripe objects."""

    state: _Books

    def new_state(self) -> _Books:
        return _Books()

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
        customer |= {"address": None, "balance": 0, "currency": None, "default_source": None}
        customer |= {"delinquent": False, "description": description, "discount": None}
        customer |= {"email": email, "invoice_prefix": _invoice_prefix(customer["id"])}
        customer["invoice_settings"] = dict.fromkeys(_INVOICE_SETTINGS)
        customer |= {"metadata": metadata or {}, "name": name, "next_invoice_sequence": 1}
        customer |= {"phone": phone, "preferred_locales": [], "shipping": None}
        customer |= {"tax_exempt": "none", "test_clock": None}
        return customer

    def _new_intent(
        self,
        *,
        amount: int,
        currency: str,
        customer: str | None,
        description: str | None,
        metadata: dict[str, str] | None = None,
        receipt_email: str | None = None,
    ) -> _Object:
        intent = self._stamp("payment_intent", "pi", livemode=True)
        intent["client_secret"] = f"{intent['id']}_secret_{self.new_id('secret')[7:]}"
        intent |= {"amount": amount, "amount_capturable": 0, "amount_details": {"tip": {}}}
        intent |= {"amount_received": 0, "currency": currency, "customer": customer}
        intent |= {"capture_method": "automatic", "confirmation_method": "automatic"}
        intent |= {"description": description, "last_payment_error": None}
        intent |= {"latest_charge": None, "metadata": metadata or {}, "payment_method": None}
        intent |= {"payment_method_options": {"card": dict(_CARD_OPTIONS)}}
        intent |= {"payment_method_types": ["card"], "receipt_email": receipt_email}
        intent |= {"status": "requires_payment_method"}
        intent |= dict.fromkeys(_INTENT_NULLS)
        return intent

    def _new_charge(self, intent: _Object, card: _Card, *, source: bool = False) -> _Object:
        """A charge for ``intent``'s amount (``intent["id"]`` is None for a bare charge).

        A bare charge pays with a card ``source`` (a token, or the customer's card on file),
        shown on the charge as Stripe shows it; an intent's charge with its payment method.
        """
        charge = self._stamp("charge", "ch", livemode=True)
        paid = not card.declined
        amount = int(intent["amount"])
        method = str(intent.get("payment_method") or self.new_id("card"))
        charge |= {"amount": amount, "amount_captured": amount if paid else 0}
        charge |= {"amount_refunded": 0, "billing_details": _billing_details()}
        charge |= {"balance_transaction": self.new_id("txn") if paid else None}
        charge |= {"calculated_statement_descriptor": "CHAOSKIT", "captured": paid}
        charge |= {"currency": intent["currency"], "customer": intent["customer"]}
        charge |= {"description": intent.get("description"), "disputed": False}
        charge |= {"failure_code": None if paid else "card_declined"}
        charge |= {"failure_message": None if paid else card.message}
        charge |= {"fraud_details": {}, "metadata": dict(intent.get("metadata") or {})}
        charge |= {"outcome": _outcome(card), "paid": paid, "payment_intent": intent["id"]}
        charge |= {"payment_method": method, "payment_method_details": _card_details(card)}
        charge |= {"receipt_email": intent.get("receipt_email"), "receipt_number": None}
        charge["receipt_url"] = f"https://pay.stripe.com/receipts/payment/{charge['id']}"
        charge |= {"refunded": False, "refunds": _refund_list(charge["id"])}
        charge |= {"source": _card_source(method, card, intent) if source else None}
        charge |= {"status": "succeeded" if paid else "failed"}
        charge |= dict.fromkeys(_CHARGE_NULLS)
        return charge

    def _new_refund(
        self, charge: _Object, amount: int, *, reason: str | None, metadata: dict[str, str]
    ) -> _Object:
        refund = self._stamp("refund", "re", livemode=False)
        refund |= {"amount": amount, "balance_transaction": self.new_id("txn")}
        refund |= {"charge": charge["id"], "currency": charge["currency"]}
        refund |= {"customer": charge["customer"], "customer_account": None}
        refund |= {"destination_details": _refund_destination(), "metadata": metadata}
        refund |= {"payment_intent": charge["payment_intent"]}
        refund |= {"payment_method": charge["payment_method"], "reason": reason}
        refund |= {"receipt_number": None, "source_transfer_reversal": None}
        refund |= {"status": "succeeded", "transfer_reversal": None}
        charge["amount_refunded"] = int(charge["amount_refunded"]) + amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        # Newest first, as the embedded list shows them.
        charge["refunds"]["data"].insert(0, copy.deepcopy(refund))
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

    def _params(self, req: FakeRequest) -> _Params:
        """The request's parameters, as its route declares them (``query`` on GET, ``body``
        otherwise); an undeclared one is Stripe's ``parameter_unknown``, an ``expand`` path
        the answer cannot take is refused before anything runs."""
        route = req.route
        declared_model = (
            None if route is None else route.query if req.method == "GET" else route.body
        )
        # A route of a subclass that declares nothing takes `expand` alone.
        model = declared_model or Expand
        values = _nest(_indexed(_pairs(req)))
        allowed = param_names(model)
        for name in values:
            if name not in allowed:
                raise _Invalid(
                    f"Received unknown parameter: {name}", code="parameter_unknown", param=name
                )
        p = _Params(declared(values, model, str(route)))
        answers = _answer_kind(route)
        if answers is not None:
            check_expand(answers[0], p.expand, listing=answers[1])
        return p

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
        p = self._params(req)
        return self._object(self._find(kind, req.params["id"], param=param, status=404), p)

    def _list(self, req: FakeRequest, kind: str) -> httpx.Response:
        """A page of a table, newest first, as Stripe's list envelope, by the route's filters."""
        p = self._params(req)
        filters = sorted(set(p.values.names) - PAGING)
        limit = p.integer("limit") or 10
        if limit > 100:
            raise _Invalid(
                "This value must be less than or equal to 100.",
                code="parameter_invalid_integer",
                param="limit",
            )
        after, before = p.string("starting_after"), p.string("ending_before")
        if after is not None and before is not None:
            raise _Invalid(
                "You may only specify one of these parameters: ending_before, starting_after.",
                param="ending_before",
            )
        created = created_filter(p.values.get("created"))
        wanted = {f: p.string(f) for f in filters if p.string(f) is not None}
        rows = [
            o
            for o in reversed(self._table(kind).values())
            if _matches(o, wanted) and created.admits(int(o["created"]))
        ]
        start, end, more = page_window(
            rows,
            after=self._cursor(rows, kind, after, "starting_after"),
            before=self._cursor(rows, kind, before, "ending_before"),
            limit=limit,
        )
        page = [self._expanded(o, _under("data", p.expand)) for o in rows[start:end]]
        body = {"object": "list", "data": page, "has_more": more}
        return self.respond(200, body | {"url": req.path})

    def _cursor(self, rows: list[_Object], kind: str, cursor: str | None, param: str) -> int | None:
        """A cursor's place in the filtered list; one filtered out borders nothing here."""
        if cursor is None:
            return None
        ids = [row["id"] for row in rows]
        if cursor in ids:
            return ids.index(cursor)
        self._find(kind, cursor, param=param)
        return len(rows) if param == "starting_after" else 0

    def _object(self, obj: _Object, p: _Params) -> httpx.Response:
        return self.respond(200, self._expanded(obj, p.expand))

    def _expanded(self, obj: _Object, paths: Iterable[str]) -> _Object:
        """A copy of ``obj`` with the ids named by ``expand`` replaced by their objects (the
        paths were checked by :func:`~chaoskit.fakes.payments.reading.check_expand`)."""
        out = copy.deepcopy(obj)
        for path in paths:
            head, _, rest = path.partition(".")
            value = out.get(head)
            if isinstance(value, str) and (target := self._by_id(value)) is not None:
                out[head] = self._expanded(target, [rest] if rest else [])
            elif isinstance(value, dict) and value.get("object") == "list" and rest:
                items = _under("data", [rest])
                value["data"] = [self._expanded(item, items) for item in value["data"]]
            elif isinstance(value, dict) and rest:
                out[head] = self._expanded(value, [rest])
        return out

    def _by_id(self, object_id: str) -> _Object | None:
        kind = _PREFIXES.get(object_id.partition("_")[0])
        return None if kind is None else self._table(kind).get(object_id)


def _money(amount: int, currency: str) -> str:
    """An amount in minor units as Stripe writes it in messages: ``$25.00``."""
    whole = currency in _ZERO_DECIMAL
    number = str(amount) if whole else f"{amount // 100}.{amount % 100:02d}"
    symbol = _SYMBOLS.get(currency)
    return f"{symbol}{number}" if symbol else f"{number} {currency.upper()}"


def _card_details(card: _Card) -> dict[str, Any]:
    details: dict[str, Any] = {"brand": card.brand, "country": "US", "exp_month": 12}
    details["exp_year"] = _EXP_YEAR
    details |= {"funding": "credit", "last4": card.last4, "network": card.brand}
    return {"type": "card", "card": details}


def _card_source(card_id: str, card: _Card, intent: _Object) -> dict[str, Any]:
    """The card a bare charge paid with, as its ``source`` shows it."""
    brand = {"visa": "Visa", "mastercard": "MasterCard", "amex": "American Express"}[card.brand]
    source: dict[str, Any] = {"id": card_id, "object": "card", "brand": brand, "country": "US"}
    source |= {"customer": intent["customer"], "exp_month": 12, "exp_year": _EXP_YEAR}
    return source | {"funding": "credit", "last4": card.last4, "metadata": {}}


def _outcome(card: _Card) -> dict[str, Any]:
    """What the card network said: authorized, or the issuer's decline and its reason."""
    outcome: dict[str, Any] = {"advice_code": None, "network_advice_code": None}
    outcome |= {"network_decline_code": None, "risk_level": "normal", "risk_score": 20}
    if not card.declined:
        return outcome | {
            "network_status": "approved_by_network",
            "reason": None,
            "seller_message": "Payment complete.",
            "type": "authorized",
        }
    return outcome | {
        "network_status": "declined_by_network",
        "reason": card.decline_code,
        "seller_message": "The bank did not return any further details with this decline.",
        "type": "issuer_declined",
    }


def _billing_details() -> dict[str, Any]:
    address = dict.fromkeys(("city", "country", "line1", "line2", "postal_code", "state"))
    return {"address": address} | dict.fromkeys(("email", "name", "phone", "tax_id"))


def _refund_list(charge_id: str) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [],
        "has_more": False,
        "url": f"/v1/charges/{charge_id}/refunds",
    }


def _refund_destination() -> dict[str, Any]:
    card = {"reference_status": "pending", "reference_type": "acquirer_reference_number"}
    return {"card": card | {"type": "refund"}, "type": "card"}


def _invoice_prefix(customer_id: str) -> str:
    """Eight characters derived from the customer, as Stripe prefixes its invoice numbers."""
    return hashlib.blake2b(customer_id.encode(), digest_size=4).hexdigest().upper()


def _answer_kind(route: Route | None) -> tuple[str, bool] | None:
    """The kind of object a route answers with, and whether in a list (for ``expand``).

    ``/v1/payment_intents/{id}/confirm`` answers a payment intent; ``GET /v1/refunds`` a list
    of refunds. A subclass's route under another path is not checked.
    """
    if route is None:
        return None
    parts = route.template.split("/")
    kind = _COLLECTIONS.get(parts[2]) if len(parts) > 2 else None
    if kind is None:
        return None
    return kind, route.method == "GET" and len(parts) == 3


def _matches(obj: _Object, wanted: Mapping[str, str | None]) -> bool:
    return all(obj.get(name) == value for name, value in wanted.items())


def _under(prefix: str, paths: Iterable[str]) -> list[str]:
    """The expand paths below ``prefix.`` (``data.charge`` → ``charge`` for list items)."""
    return [p.partition(".")[2] for p in paths if p.startswith(prefix + ".")]
