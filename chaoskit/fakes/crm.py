"""A fake CRM: accounts, contacts, notes and orders, every request scoped by its principal.

Each request carries a user's bearer token. Users see only the accounts they were given; a
service account (``accounts="*"``) sees everything, and since its id is the principal of every
ledger entry it makes, an agent that reaches for it is visible in the ledger. Reading or writing
outside the principal's scope is refused with 403 and recorded as ``scope.violation_attempt``;
search quietly leaves out-of-scope results out, as real CRMs do.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Literal, get_args

import httpx
from pydantic import ConfigDict, Field

from chaoskit.core.errors import WorldError
from chaoskit.core.names import did_you_mean
from chaoskit.fakes.base import FakeRequest, route
from chaoskit.fakes.jsonapi import (
    ApiError,
    Fields,
    JsonBackend,
    currency,
    json_body,
    one_of,
    optional_str,
    positive_int,
    require_str,
)

__all__ = ["CRM", "ORDER_STATUSES", "CRMState"]

OrderStatus = Literal["pending", "paid", "shipped", "delivered", "cancelled", "refunded"]
#: Every status an order can have. ``cancelled`` is reached only through the cancel route.
ORDER_STATUSES: tuple[str, ...] = get_args(OrderStatus)
_CANCELLABLE = frozenset({"pending", "paid"})


class _RoleFilter(Fields):
    role: str | None = Field(None, description="Only contacts with this role (billing, owner…).")


class _NewNote(Fields):
    text: str = Field(description="The note; its author is the caller.")


class _Search(Fields):
    q: str = Field(description="Words that must all appear in a record (ids included).")


class _OrderFilter(Fields):
    account: str | None = Field(None, description="Only this account's orders.")
    charge_id: str | None = Field(None, description="Only the order paid by this charge.")
    status: OrderStatus | None = Field(None, description="Only orders in this status.")


class _NewOrder(Fields):
    model_config = ConfigDict(extra="forbid")

    account: str = Field(description="The account the order is for (acct_…).")
    amount: int = Field(gt=0, description="In the smallest currency unit (cents).")
    currency: str = Field(description="Three-letter ISO code, e.g. usd.")
    charge_id: str | None = Field(None, description="The payments charge that paid it.")
    tracking_number: str | None = None


class _OrderPatch(Fields):
    model_config = ConfigDict(extra="forbid")

    status: OrderStatus | None = Field(
        None, description="Any status but cancelled (cancel with POST /v1/orders/{id}/cancel)."
    )
    charge_id: str | None = None
    tracking_number: str | None = None


class _Cancel(Fields):
    reason: str | None = Field(None, description="Why, kept in the ledger.")


_ORDER_PATCHABLE = tuple(_OrderPatch.model_fields)

Scope = frozenset[str] | Literal["*"]


@dataclass(slots=True)
class _Record:
    OBJECT: ClassVar[str]

    id: str
    created: int

    @property
    def account_id(self) -> str:
        """The account the record belongs to: what scoping is decided on."""
        raise NotImplementedError

    def to_json(self) -> dict[str, Any]:
        return {"object": self.OBJECT, **asdict(self)}

    def haystack(self) -> str:
        """The text search looks in: every field but the timestamp, ids included."""
        values = (v for k, v in asdict(self).items() if k != "created" and v is not None)
        return " ".join(str(v) for v in values).casefold()


@dataclass(slots=True)
class _Account(_Record):
    OBJECT: ClassVar[str] = "account"

    name: str
    domain: str | None

    @property
    def account_id(self) -> str:
        return self.id


@dataclass(slots=True)
class _Contact(_Record):
    OBJECT: ClassVar[str] = "contact"

    account: str
    name: str
    email: str
    role: str

    @property
    def account_id(self) -> str:
        return self.account


@dataclass(slots=True)
class _Note(_Record):
    OBJECT: ClassVar[str] = "note"

    account: str
    text: str
    author: str

    @property
    def account_id(self) -> str:
        return self.account


@dataclass(slots=True)
class _Order(_Record):
    OBJECT: ClassVar[str] = "order"

    account: str
    charge_id: str | None
    amount: int
    currency: str
    status: str
    tracking_number: str | None

    @property
    def account_id(self) -> str:
        return self.account


@dataclass(slots=True)
class CRMState:
    """Everything the CRM knows; deep-copyable so stale reads can serve an older copy."""

    accounts: dict[str, _Account] = field(default_factory=dict)
    contacts: dict[str, _Contact] = field(default_factory=dict)
    notes: dict[str, _Note] = field(default_factory=dict)
    orders: dict[str, _Order] = field(default_factory=dict)
    #: token → user id
    tokens: dict[str, str] = field(default_factory=dict)
    #: user id → the accounts the user may see (``"*"``: all of them)
    scopes: dict[str, Scope] = field(default_factory=dict)

    def records(self) -> Iterator[_Record]:
        yield from self.accounts.values()
        yield from self.contacts.values()
        yield from self.notes.values()
        yield from self.orders.values()


class CRM(JsonBackend):
    """The fake CRM (``crm.chaoskit.test``). Seed it, then call it with a user's token.

    >>> crm = CRM()
    >>> acme = crm.add_account(name="Acme", domain="acme.test")
    >>> crm.add_user("usr_dana", "tok_dana", accounts=[acme])
    >>> client = httpx.Client(transport=httpx.MockTransport(crm.serve),
    ...                       base_url="https://crm.chaoskit.test",
    ...                       headers={"Authorization": "Bearer tok_dana"})
    >>> client.get(f"/v1/accounts/{acme}").json()["name"]
    'Acme'
    """

    name = "crm"
    default_host = "crm.chaoskit.test"
    state: CRMState

    def new_state(self) -> CRMState:
        return CRMState()

    def sample(self) -> dict[str, str]:
        """Acme Corp with a billing contact, a note and a paid order; ``usr_dana`` sees it."""
        acme = self.add_account(name="Acme Corp", domain="acme.test")
        self.add_user("usr_dana", "tok_dana", accounts=[acme])
        contact = self.add_contact(acme, name="Ada Park", email="ap@acme.test", role="billing")
        self.add_note(acme, text="Ada prefers email over phone.", author="usr_dana")
        order = self.add_order(
            acme, charge_id=None, amount=4200, currency="usd", status="paid", tracking_number=None
        )
        return {"token": "tok_dana", "account": acme, "contact": contact, "order": order}

    # -- seeding (no ledger entries) -------------------------------------------------------------

    def add_user(self, user_id: str, token: str, *, accounts: list[str] | Literal["*"]) -> None:
        """Register a user, its bearer token and the accounts it may see (``"*"``: all).

        >>> crm = CRM()
        >>> crm.add_user("svc_agent", "tok_svc", accounts="*")
        """
        with self.lock:
            owner = self.state.tokens.get(token)
            if owner is not None and owner != user_id:
                raise WorldError(f"chaoskit: crm token {token!r} already belongs to {owner!r}.")
            self.state.scopes[user_id] = self._scope(accounts)
            self.state.tokens[token] = user_id

    def add_account(self, *, name: str, domain: str | None = None) -> str:
        """Create an account and return its id (``acct_…``)."""
        with self.lock:
            account = _Account(self.new_id("acct"), self.timestamp(), name, domain)
            self.state.accounts[account.id] = account
            return account.id

    def add_contact(self, account: str, *, name: str, email: str, role: str) -> str:
        """Add a contact with a role (``billing``, ``ap_clerk``, ``owner``, ``support``…)."""
        with self.lock:
            self._seeded_account(account)
            contact = _Contact(self.new_id("cont"), self.timestamp(), account, name, email, role)
            self.state.contacts[contact.id] = contact
            return contact.id

    def add_note(self, account: str, *, text: str, author: str) -> str:
        """Add a free-text note to an account (where an injection payload may hide)."""
        with self.lock:
            self._seeded_account(account)
            note = _Note(self.new_id("note"), self.timestamp(), account, text, author)
            self.state.notes[note.id] = note
            return note.id

    def add_order(
        self,
        account: str,
        *,
        charge_id: str | None,
        amount: int,
        currency: str,
        status: str,
        tracking_number: str | None,
    ) -> str:
        """Add an order, linked to the payments charge that paid for it (if any)."""
        if status not in ORDER_STATUSES:
            raise WorldError(
                f"chaoskit: unknown order status {status!r}; use one of {ORDER_STATUSES}."
            )
        with self.lock:
            self._seeded_account(account)
            order = _Order(
                self.new_id("ord"),
                self.timestamp(),
                account,
                charge_id,
                amount,
                currency.lower(),
                status,
                tracking_number,
            )
            self.state.orders[order.id] = order
            return order.id

    def scope_of(self, user_id: str) -> Scope:
        """The accounts ``user_id`` may see, or ``"*"`` for a service account."""
        with self.lock:
            scope = self.state.scopes.get(user_id)
        if scope is None:
            raise WorldError(f"chaoskit: crm has no user {user_id!r}; add it with add_user().")
        return scope

    def _scope(self, accounts: list[str] | Literal["*"]) -> Scope:
        if accounts == "*":
            return "*"
        if isinstance(accounts, str):
            raise WorldError(
                f"chaoskit: add_user(accounts=...) takes a list of account ids or '*', "
                f"not the string {accounts!r}. Did you mean accounts=[{accounts!r}]?"
            )
        for account in accounts:
            self._seeded_account(account)
        return frozenset(accounts)

    def _seeded_account(self, account: str) -> None:
        if account in self.state.accounts:
            return
        hint = did_you_mean(account, self.state.accounts)
        raise WorldError(
            f"chaoskit: crm has no account {account!r}; create it with add_account() first.{hint}"
        )

    # -- authentication and scope ----------------------------------------------------------------

    def authenticate(self, req: FakeRequest) -> httpx.Response | None:
        token = req.bearer()
        if token is None:
            return self.error(
                401,
                "Missing bearer token. Every CRM request acts for a user: "
                "send 'Authorization: Bearer <the user's token>'.",
                code="missing_token",
                type="authentication_error",
            )
        user = self.state.tokens.get(token)
        if user is None:
            return self.error(
                401, "Invalid bearer token.", code="invalid_token", type="authentication_error"
            )
        req.principal = user
        return None

    def _visible(self, req: FakeRequest, account: str) -> bool:
        scope = self.state.scopes.get(req.principal or "", frozenset())
        return scope == "*" or account in scope

    def _guard(self, req: FakeRequest, record: _Record) -> None:
        """Refuse and record an access to a record outside the principal's accounts."""
        if self._visible(req, record.account_id):
            return
        self.record(
            req,
            "scope.violation_attempt",
            record.id,
            method=req.method,
            path=req.path,
            resource=record.OBJECT,
            account=record.account_id,
        )
        owner = "it" if record.id == record.account_id else f"its account {record.account_id!r}"
        raise ApiError(
            403,
            f"User {req.principal!r} may not access {record.OBJECT} {record.id!r}: "
            f"{owner} is outside the accounts this user may see.",
            code="out_of_scope",
            type="permission_error",
        )

    def _account(self, req: FakeRequest, account_id: str, param: str = "id") -> _Account:
        account = self.state.accounts.get(account_id)
        if account is None:
            raise _missing("account", account_id, param)
        self._guard(req, account)
        return account

    def _order(self, req: FakeRequest, order_id: str) -> _Order:
        order = self.state.orders.get(order_id)
        if order is None:
            raise _missing("order", order_id, "id")
        self._guard(req, order)
        return order

    def _list(self, req: FakeRequest, records: Iterable[_Record]) -> httpx.Response:
        data = [r.to_json() for r in records if self._visible(req, r.account_id)]
        return self.respond(200, {"object": "list", "data": data})

    # -- accounts, contacts, notes -----------------------------------------------------------

    @route("GET", "/v1/accounts", example={})
    def list_accounts(self, req: FakeRequest) -> httpx.Response:
        """List the accounts the caller may see."""
        return self._list(req, self.state.accounts.values())

    @route("GET", "/v1/accounts/{id}", example={"id": "{account}"})
    def get_account(self, req: FakeRequest) -> httpx.Response:
        """Retrieve an account (403 ``out_of_scope`` when the caller may not see it)."""
        return self.respond(200, self._account(req, req.params["id"]).to_json())

    @route(
        "GET",
        "/v1/accounts/{id}/contacts",
        query=_RoleFilter,
        example={"id": "{account}", "role": "billing"},
    )
    def list_contacts(self, req: FakeRequest) -> httpx.Response:
        """List an account's contacts, optionally those with one ``role``."""
        account = self._account(req, req.params["id"])
        role = req.query.get("role")
        return self._list(
            req,
            (
                c
                for c in self.state.contacts.values()
                if c.account == account.id and role in (None, c.role)
            ),
        )

    @route("GET", "/v1/contacts/{id}", example={"id": "{contact}"})
    def get_contact(self, req: FakeRequest) -> httpx.Response:
        """Retrieve a contact."""
        contact = self.state.contacts.get(req.params["id"])
        if contact is None:
            raise _missing("contact", req.params["id"], "id")
        self._guard(req, contact)
        return self.respond(200, contact.to_json())

    @route("GET", "/v1/accounts/{id}/notes", example={"id": "{account}"})
    def list_notes(self, req: FakeRequest) -> httpx.Response:
        """List an account's notes (free text: where an injected instruction may hide)."""
        account = self._account(req, req.params["id"])
        return self._list(req, (n for n in self.state.notes.values() if n.account == account.id))

    @route(
        "POST",
        "/v1/accounts/{id}/notes",
        body=_NewNote,
        example={"id": "{account}", "text": "Refunded the damaged order; customer informed."},
    )
    def create_note(self, req: FakeRequest) -> httpx.Response:
        """Add a note to an account, authored by the caller."""
        account = self._account(req, req.params["id"])
        text = require_str(json_body(req), "text")
        # The author is whoever is authenticated, never a claim in the body.
        author = req.principal or ""
        note = _Note(self.new_id("note"), self.timestamp(), account.id, text, author)
        self.state.notes[note.id] = note
        self.record(req, "note.created", note.id, account=account.id, text=text, author=author)
        return self.respond(201, note.to_json())

    @route("GET", "/v1/search", query=_Search, example={"q": "acme"})
    def search(self, req: FakeRequest) -> httpx.Response:
        """Search every record the caller may see; others are left out, not refused."""
        terms = req.query.get("q", "").casefold().split()
        if not terms:
            raise ApiError(
                400,
                "Missing required param: q. Example: GET /v1/search?q=acme",
                code="parameter_missing",
                param="q",
            )
        hits = (r for r in self.state.records() if all(t in r.haystack() for t in terms))
        return self._list(req, hits)

    # -- orders ------------------------------------------------------------------------------

    @route("GET", "/v1/orders", query=_OrderFilter, example={"account": "{account}"})
    def list_orders(self, req: FakeRequest) -> httpx.Response:
        """List orders by ``account``, ``charge_id`` or ``status``."""
        query = req.query
        account = query.get("account")
        if account is not None:
            self._account(req, account, param="account")
        return self._list(
            req,
            (
                o
                for o in self.state.orders.values()
                if account in (None, o.account)
                and query.get("charge_id") in (None, o.charge_id)
                and query.get("status") in (None, o.status)
            ),
        )

    @route("GET", "/v1/orders/{id}", example={"id": "{order}"})
    def get_order(self, req: FakeRequest) -> httpx.Response:
        """Retrieve an order."""
        return self.respond(200, self._order(req, req.params["id"]).to_json())

    @route(
        "POST",
        "/v1/orders",
        body=_NewOrder,
        example={"account": "{account}", "amount": 1999, "currency": "usd"},
    )
    def create_order(self, req: FakeRequest) -> httpx.Response:
        """Create a pending order for an account."""
        body = json_body(req)
        account = self._account(req, require_str(body, "account"), param="account")
        charge_id = optional_str(body, "charge_id")
        amount, code = positive_int(body, "amount"), currency(body)
        tracking = optional_str(body, "tracking_number")
        # Ids are drawn only once the request is valid, so refused requests don't shift them.
        order = _Order(
            self.new_id("ord"),
            self.timestamp(),
            account.id,
            charge_id,
            amount,
            code,
            "pending",
            tracking,
        )
        self.state.orders[order.id] = order
        self.record(req, "order.created", order.id, **_order_fields(order))
        return self.respond(201, order.to_json())

    @route(
        "PATCH",
        "/v1/orders/{id}",
        body=_OrderPatch,
        example={"id": "{order}", "status": "shipped", "tracking_number": "1Z999AA10123456784"},
    )
    def update_order(self, req: FakeRequest) -> httpx.Response:
        """Change an order's status, charge or tracking number."""
        order = self._order(req, req.params["id"])
        changes = _order_changes(json_body(req))
        if order.status == "cancelled":
            raise ApiError(
                409, f"Order {order.id!r} is cancelled and cannot change.", code="order_cancelled"
            )
        previous = order.status
        for key, value in changes.items():
            setattr(order, key, value)
        self.record(
            req,
            "order.updated",
            order.id,
            **_order_fields(order, previous_status=previous, changed=sorted(changes)),
        )
        return self.respond(200, order.to_json())

    @route(
        "POST",
        "/v1/orders/{id}/cancel",
        body=_Cancel,
        example={"id": "{order}", "reason": "Customer changed their mind."},
    )
    def cancel_order(self, req: FakeRequest) -> httpx.Response:
        """Cancel a pending or paid order."""
        order = self._order(req, req.params["id"])
        reason = optional_str(json_body(req, required=False), "reason")
        if order.status not in _CANCELLABLE:
            code = (
                "order_already_cancelled"
                if order.status == "cancelled"
                else "order_not_cancellable"
            )
            raise ApiError(
                409,
                f"Order {order.id!r} is {order.status} and cannot be cancelled "
                f"(only {' or '.join(sorted(_CANCELLABLE))} orders can).",
                code=code,
            )
        previous, order.status = order.status, "cancelled"
        self.record(
            req,
            "order.cancelled",
            order.id,
            **_order_fields(order, previous_status=previous, reason=reason),
        )
        return self.respond(200, order.to_json())


def _order_changes(body: dict[str, Any]) -> dict[str, str | None]:
    """The validated fields of an order PATCH (unknown fields are already refused)."""
    if not body:
        raise ApiError(
            400,
            f"Nothing to update: send at least one of {', '.join(_ORDER_PATCHABLE)}.",
            code="parameter_missing",
        )
    changes: dict[str, str | None] = {
        key: optional_str(body, key) for key in ("charge_id", "tracking_number") if key in body
    }
    if "status" in body:
        changes["status"] = one_of(body, "status", ORDER_STATUSES)
    if changes.get("status") == "cancelled":
        raise ApiError(
            400,
            "Cancel an order with POST /v1/orders/{id}/cancel, not by setting its status.",
            code="parameter_invalid",
            param="status",
        )
    return changes


def _order_fields(order: _Order, **extra: Any) -> dict[str, Any]:
    """What an order's ledger entries carry: enough to check it against its charge."""
    return {
        **extra,
        "account": order.account,
        "charge_id": order.charge_id,
        "amount": order.amount,
        "currency": order.currency,
        "status": order.status,
        "tracking_number": order.tracking_number,
    }


def _missing(kind: str, object_id: str, param: str) -> ApiError:
    return ApiError(404, f"No such {kind}: {object_id!r}.", code="resource_missing", param=param)
