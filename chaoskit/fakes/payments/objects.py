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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import httpx
from pydantic import JsonValue

from chaoskit.core.errors import WorldError
from chaoskit.fakes.base import FakeRequest, declared, param_names
from chaoskit.fakes.payments.params import PAGING, Expand
from chaoskit.fakes.payments.wire import (
    _Invalid,
    _key,
    _nest,
    _Object,
    _Params,
    _Refused,
    _StripeWire,
)

_PREFIXES: Final = {"cus": "customer", "ch": "charge", "pi": "payment_intent", "re": "refund"}
_SYMBOLS: Final = {"usd": "$", "eur": "€", "gbp": "£"}
_ZERO_DECIMAL: Final = frozenset({"bif", "clp", "jpy", "krw", "pyg", "vnd", "xaf", "xof"})


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

    def _params(self, req: FakeRequest) -> _Params:
        """The request's parameters, as its route declares them (``query`` on GET, ``body``
        otherwise); an undeclared one is Stripe's ``parameter_unknown``."""
        route = req.route
        declared_model = (
            None if route is None else route.query if req.method == "GET" else route.body
        )
        # A route of a subclass that declares nothing takes `expand` alone.
        model = declared_model or Expand
        flat = req.query if req.method == "GET" else req.form()
        values = _nest(flat)
        allowed = param_names(model)
        for name in values:
            if name not in allowed:
                raise _Invalid(
                    f"Received unknown parameter: {name}", code="parameter_unknown", param=name
                )
        return _Params(declared(values, model, str(route)))

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


def _money(amount: int, currency: str) -> str:
    """An amount in minor units as Stripe writes it in messages: ``$25.00``."""
    whole = currency in _ZERO_DECIMAL
    number = str(amount) if whole else f"{amount // 100}.{amount % 100:02d}"
    symbol = _SYMBOLS.get(currency)
    return f"{symbol}{number}" if symbol else f"{number} {currency.upper()}"


def _card_details(card: _Card) -> dict[str, Any]:
    return {"type": "card", "card": {"brand": card.brand, "last4": card.last4}}


def _matches(obj: _Object, wanted: Mapping[str, str | None]) -> bool:
    return all(obj.get(name) == value for name, value in wanted.items())


def _under(prefix: str, paths: Iterable[str]) -> list[str]:
    """The expand paths below ``prefix.`` (``data.charge`` → ``charge`` for list items)."""
    return [p.partition(".")[2] for p in paths if p.startswith(prefix + ".")]
