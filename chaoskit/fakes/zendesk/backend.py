"""The ``Zendesk`` backend: Zendesk Support's tickets, comments, users and search.

Its handlers validate, mutate, record and respond; the wire format, the records, the search
language and the idempotency keys live in the modules beside it.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Mapping
from typing import Any, ClassVar, Final
from urllib.parse import urlencode

import httpx
from pydantic import BaseModel, Field, JsonValue, field_validator

from chaoskit.core.agent import Credential
from chaoskit.core.errors import WorldError
from chaoskit.fakes.base import FakeBackend, FakeRequest, Route, route
from chaoskit.fakes.jsonapi import ApiError, json_body
from chaoskit.fakes.zendesk.idempotency import IdempotencyKeys
from chaoskit.fakes.zendesk.params import (
    CommentList,
    SearchQuery,
    TicketBody,
    TicketChangeBody,
    TicketList,
    UserBody,
    UserSearch,
)
from chaoskit.fakes.zendesk.records import (
    PRIORITIES,
    ROLES,
    STATUSES,
    TYPES,
    Comment,
    Ticket,
    User,
    ZendeskState,
)
from chaoskit.fakes.zendesk.search import parse
from chaoskit.fakes.zendesk.wire import (
    ZendeskError,
    basic_credentials,
    basic_header,
    error_body,
    invalid,
    not_found,
    whole_seconds,
)

__all__ = ["DEFAULT_SUBDOMAIN", "Zendesk", "ZendeskOptions"]

#: The account a world's Zendesk is, unless a scenario's ``[zendesk]`` table names another.
DEFAULT_SUBDOMAIN: Final = "chaoskit"
#: Requests per minute of the account's plan, as ``X-Rate-Limit`` says.
RATE_LIMIT: Final = 700
_UNAUTHORIZED: Final = "Couldn't authenticate you"
_REASONS: Final = {
    500: ("InternalServerError", "Something went wrong on our side. Please try again."),
    502: ("BadGateway", "The server received an invalid response. Please try again."),
    503: ("ServiceUnavailable", "The service is temporarily unavailable. Please try again."),
    504: ("GatewayTimeout", "The server took too long to respond. Please try again."),
}


class ZendeskOptions(BaseModel):
    """A scenario's ``[zendesk]`` table: which account (``{subdomain}.zendesk.com``) it is."""

    subdomain: str = Field(
        DEFAULT_SUBDOMAIN, description="The account: requests go to {subdomain}.zendesk.com."
    )

    @field_validator("subdomain")
    @classmethod
    def _a_host_label(cls, value: str) -> str:
        if not value or not all(c.isalnum() or c == "-" for c in value) or value[0] == "-":
            raise ValueError(f"a subdomain is letters, digits and '-' (not first), got {value!r}")
        return value.lower()


class Zendesk(FakeBackend):
    """A fake Zendesk Support account on ``{subdomain}.zendesk.com`` (``chaoskit`` by default).

    Requests authenticate with an API token as zenpy sends it (HTTP basic,
    ``{email}/token:{token}``; :meth:`add_token` registers one for an agent) or as an OAuth
    ``Bearer`` token. Ticket creation honours ``Idempotency-Key`` as Zendesk documents it (see
    :mod:`~chaoskit.fakes.zendesk.idempotency`); ``external_id`` is stored, listed and
    searchable but dedupes nothing.

    >>> from zenpy import Zenpy  # doctest: +SKIP
    >>> from zenpy.lib.api_objects import Comment, Ticket  # doctest: +SKIP
    >>> zenpy = Zenpy(**task.credentials["zendesk"])  # inside a world  # doctest: +SKIP
    >>> zenpy.tickets.create(Ticket(subject="Refund", comment=Comment(body="…"))).ticket.id
    ... # doctest: +SKIP
    1
    """

    name = "zendesk"
    default_host = f"{DEFAULT_SUBDOMAIN}.zendesk.com"
    auth_schemes = ("basic", "bearer")
    Options: ClassVar[type[BaseModel] | None] = ZendeskOptions
    #: zenpy reads these two: in server mode they send it to the served port, unchanged.
    sdk_environment: ClassVar[Mapping[str, str]] = {
        "ZENPY_FORCE_NETLOC": "{netloc}",
        "ZENPY_FORCE_SCHEME": "{scheme}",
    }
    state: ZendeskState

    def __init__(self, *, subdomain: str = DEFAULT_SUBDOMAIN, host: str | None = None) -> None:
        self.subdomain = ZendeskOptions(subdomain=subdomain).subdomain
        #: API tokens, each mapped to the principal whose agent it authenticates by default.
        self.tokens: dict[str, str] = {}
        self._keys = IdempotencyKeys()
        self._minute: tuple[int, int] = (0, 0)
        self._minute_lock = threading.Lock()
        super().__init__(host=host or f"{self.subdomain}.zendesk.com")

    def new_state(self) -> ZendeskState:
        return ZendeskState()

    def apply_options(self, options: Any) -> None:
        """Take a scenario's ``[zendesk]`` table: its subdomain names the host."""
        if isinstance(options, ZendeskOptions) and options.subdomain != self.subdomain:
            self.subdomain = options.subdomain
            self.host = f"{options.subdomain}.zendesk.com"

    def reset(self) -> None:
        """Forget everything: records, tokens, idempotency keys, the minute's request count."""
        with self.lock:
            super().reset()
            self.tokens.clear()
            self._keys.clear()
            self._minute = (0, 0)

    @classmethod
    def route_path(cls, path: str) -> str:
        """Zendesk serves every path with or without ``.json``; routes name it without."""
        return path.removesuffix(".json")

    # -- seeding, for world generators and tests ----------------------------------------------

    def add_token(self, token: str, principal: str) -> None:
        """Register an API token and make ``principal`` an agent of the account (email
        ``{name}@{subdomain}.test``), the user the token acts as with its own email."""
        with self.lock:
            self.tokens[token] = principal
            if self._agent(principal) is None:
                name = principal.split("_", 1)[-1] or principal
                self._add_user(
                    name=name, email=self.agent_email(principal), role="agent", principal=principal
                )

    def add_end_user(self, *, name: str, email: str) -> int:
        """Add an end user (a customer who may request tickets); returns the user's id."""
        with self.lock:
            existing = self._user_by_email(email)
            if existing is not None:
                return existing.id
            return self._add_user(name=name, email=email, role="end-user").id

    def seed_world(self, world: Mapping[str, Any]) -> None:
        """Mirror a generated world: every customer's contact is an end user who may request
        tickets (the world's users are agents already, by :meth:`add_token`). No ledger
        entries."""
        for contact in world.get("contacts", ()):
            self.add_end_user(name=str(contact["name"]), email=str(contact["email"]))

    def agent_email(self, principal: str) -> str:
        """The email the agent acting for ``principal`` signs in with."""
        return f"{principal.split('_', 1)[-1] or principal}@{self.subdomain}.test".lower()

    def credential(self, principal_token: str) -> Credential:
        """zenpy's three arguments: the subdomain, the acting agent's email, the API token."""
        principal = self.tokens.get(principal_token, "usr_agent")
        return {
            "subdomain": self.subdomain,
            "email": self.agent_email(principal),
            "token": principal_token,
        }

    def authorization(self, credential: Credential) -> str | None:
        """HTTP basic of ``{email}/token:{token}``, as zenpy sends it."""
        if isinstance(credential, str):
            return None
        return basic_header(credential["email"], credential["token"])

    def sample(self) -> dict[str, str]:
        """Dana, an agent with token ``tok_dana``, and a ticket Ada asked for."""
        self.add_token("tok_dana", "usr_dana")
        self.add_end_user(name="Ada Lovelace", email="ada@acme.test")
        auth = {"Authorization": basic_header(self.agent_email("usr_dana"), "tok_dana")}
        body = {
            "ticket": {
                "subject": "Double charge on order 1042",
                "comment": {"body": "I was charged twice for the same order."},
                "requester": {"email": "ada@acme.test"},
                "external_id": "refund-ord-1042",
            }
        }
        ticket = self.request("POST", "/api/v2/tickets", json=body, headers=auth).json()
        return {
            "token": "tok_dana",
            "ticket": str(ticket["ticket"]["id"]),
            "user": str(ticket["ticket"]["requester_id"]),
        }

    # -- reading, for invariants and tests -------------------------------------------------------

    def tickets(self) -> list[dict[str, Any]]:
        """Every ticket as the API shows it, oldest first."""
        with self.lock:
            return [self._ticket_json(t) for t in self.state.tickets.values()]

    def comments_of(self, ticket_id: int) -> list[dict[str, Any]]:
        """A ticket's comments as the API shows them, oldest first."""
        with self.lock:
            return [c.to_json() for c in self._comments(ticket_id)]

    # -- Zendesk's answers ------------------------------------------------------------------------

    def authenticate(self, req: FakeRequest) -> httpx.Response | None:
        """An API token (basic ``{email}/token:{token}``) or an OAuth bearer token."""
        header = req.headers.get("authorization", "")
        agent = self._by_token(header)
        if agent is None:
            return self.respond(
                401,
                error_body(_UNAUTHORIZED),
                headers={"WWW-Authenticate": 'Basic realm="Web Password"'},
            )
        req.principal = agent.principal
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
    ) -> httpx.Response:
        """An error as Zendesk writes one: ``{"error", "description"}``, and ``details`` for a
        field (``param``)."""
        details: dict[str, list[dict[str, JsonValue]]] | None = None
        if param is not None:
            details = {param: [{"description": message, "error": "InvalidValue"}]}
        name = code or type or _REASONS.get(status, ("InvalidEndpoint", ""))[0]
        return self.respond(status, error_body(name, message, details), headers=headers)

    def fault_response(self, status: int, *, retry_after: float | None = None) -> httpx.Response:
        """Zendesk's 429 (``APIRateLimitExceeded``, ``Retry-After`` in whole seconds) or 5xx."""
        headers = {"X-Rate-Limit": str(RATE_LIMIT), "X-Rate-Limit-Remaining": "0"}
        if retry_after is not None:
            headers["Retry-After"] = whole_seconds(retry_after)
        if status == 429:
            headers.setdefault("Retry-After", "60")
            body = error_body(
                "APIRateLimitExceeded", "Number of allowed API requests per minute exceeded"
            )
            return self.respond(429, body, headers=headers)
        error, description = _REASONS.get(status, _REASONS[500])
        return self.respond(status, error_body(error, description), headers=headers)

    def not_found(self, raw: httpx.Request) -> httpx.Response:
        """Zendesk's answer for a path it does not serve (the fake lists what it does)."""
        known = ", ".join(str(r) for r in self.routes())
        response = self.respond(
            404,
            error_body(
                "InvalidEndpoint",
                f"Not found. chaoskit: the zendesk fake does not serve {raw.method} "
                f"{raw.url.path}; it serves: {known}.",
            ),
        )
        response.headers["Request-Id"] = self.new_request_id()
        return response

    def handle(self, raw: httpx.Request, route: Route, params: Mapping[str, str]) -> httpx.Response:
        """Authenticate and run the handler, with the account's rate-limit headers."""
        response = super().handle(raw, route, params)
        response.headers["X-Rate-Limit"] = str(RATE_LIMIT)
        response.headers["X-Rate-Limit-Remaining"] = str(self._remaining())
        return response

    def dispatch(self, req: FakeRequest, route: Route) -> httpx.Response:
        """Call the handler, turning a refusal into Zendesk's error body."""
        try:
            return super().dispatch(req, route)
        except ZendeskError as exc:
            return self.respond(exc.status, error_body(exc.error, exc.description, exc.details))
        except ApiError as exc:  # a malformed body, refused by json_body()
            return self.respond(exc.status, error_body("BadRequest", exc.message))

    # -- tickets ----------------------------------------------------------------------------------

    @route(
        "POST",
        "/api/v2/tickets",
        body=TicketBody,
        example={
            "ticket": {
                "subject": "Refund for a damaged order",
                "comment": {"body": "The parcel arrived damaged; please refund it."},
                "requester": {"email": "ada@acme.test", "name": "Ada Lovelace"},
                "priority": "high",
                "external_id": "refund-ord-2077",
            }
        },
    )
    def create_ticket(self, req: FakeRequest) -> httpx.Response:
        """Create a ticket; ``Idempotency-Key`` makes a retry replay it (for two hours)."""
        body = json_body(req)
        key = req.headers.get("idempotency-key") or None
        if key is not None:
            replayed = self._keys.replay(key, dict(body), self.now())
            if replayed is not None:
                return replayed
        response = self._create_ticket(req, _object(body, "ticket"), key)
        if key is not None:
            self._keys.store(key, dict(body), self.now(), response)
        return response

    @route("GET", "/api/v2/tickets", query=TicketList, example={"external_id": "refund-ord-1042"})
    def list_tickets(self, req: FakeRequest) -> httpx.Response:
        """List tickets (by ``external_id``); offset or cursor paging."""
        query = req.query
        external_id = query.get("external_id")
        found = [
            t
            for t in self.state.tickets.values()
            if external_id is None or t.external_id == external_id
        ]
        found = _sorted(found, query.get("sort_by") or "id", query.get("sort_order"))
        return self._page(req, "tickets", [self._ticket_json(t) for t in found])

    @route("GET", "/api/v2/tickets/{id}", example={"id": "{ticket}"})
    def show_ticket(self, req: FakeRequest) -> httpx.Response:
        """Show a ticket."""
        return self.respond(200, {"ticket": self._ticket_json(self._ticket(req.params["id"]))})

    @route(
        "PUT",
        "/api/v2/tickets/{id}",
        body=TicketChangeBody,
        example={
            "id": "{ticket}",
            "ticket": {
                "status": "pending",
                "comment": {"body": "Refund issued: 5-10 business days.", "public": True},
            },
        },
    )
    def update_ticket(self, req: FakeRequest) -> httpx.Response:
        """Update a ticket; a ``comment`` adds a public comment or a private note."""
        ticket = self._ticket(req.params["id"])
        change = _object(json_body(req), "ticket")
        if ticket.status == "closed":
            raise invalid("status", "Status: closed prevents ticket update", "ClosedTicket")
        fields = self._ticket_fields(change)
        comment = _comment(change.get("comment"), required=False)
        events = self._apply(req, ticket, fields)
        if comment is not None:
            events.append(self._add_comment(req, ticket, *comment))
        if events:
            ticket.updated = self.timestamp()
        return self.respond(200, self._with_audit(req, ticket, events))

    @route("GET", "/api/v2/tickets/{id}/comments", query=CommentList, example={"id": "{ticket}"})
    def list_comments(self, req: FakeRequest) -> httpx.Response:
        """List a ticket's comments, public and private, oldest first."""
        ticket = self._ticket(req.params["id"])
        comments = [c.to_json() for c in self._comments(ticket.id)]
        if req.query.get("sort_order") == "desc":
            comments.reverse()
        return self._page(req, "comments", comments)

    # -- users ------------------------------------------------------------------------------------

    @route("GET", "/api/v2/users/me", example={})
    def show_me(self, req: FakeRequest) -> httpx.Response:
        """Show the authenticated agent."""
        agent = self._agent(req.principal or "")
        assert agent is not None  # authenticate() found it
        return self.respond(200, {"user": agent.to_json(self._base())})

    @route("GET", "/api/v2/users/search", query=UserSearch, example={"query": "ada@acme.test"})
    def search_users(self, req: FakeRequest) -> httpx.Response:
        """Search users by ``query`` (an email, words of a name) or ``external_id``."""
        query, external_id = req.query.get("query"), req.query.get("external_id")
        if not query and not external_id:
            raise ZendeskError(400, "InvalidParameter", "query or external_id is required")
        users = [
            u
            for u in self.state.users.values()
            if (external_id is None or u.external_id == external_id)
            and (not query or _user_matches(u, query))
        ]
        return self._page(req, "users", [u.to_json(self._base()) for u in users])

    @route(
        "POST",
        "/api/v2/users/create_or_update",
        body=UserBody,
        example={"user": {"name": "Grace Hopper", "email": "grace@acme.test"}},
    )
    def create_or_update_user(self, req: FakeRequest) -> httpx.Response:
        """Create a user, or update the one with this ``external_id`` or ``email`` (200)."""
        fields = _object(json_body(req), "user")
        found = self._existing_user(fields)
        if found is None:
            user = self._new_user(req, fields)
            return self.respond(201, {"user": user.to_json(self._base())})
        self._update_user(found, fields)
        return self.respond(200, {"user": found.to_json(self._base())})

    @route("GET", "/api/v2/users/{id}", example={"id": "{user}"})
    def show_user(self, req: FakeRequest) -> httpx.Response:
        """Show a user."""
        user = self.state.users.get(_int_id(req.params["id"]))
        if user is None:
            raise not_found()
        return self.respond(200, {"user": user.to_json(self._base())})

    # -- search -----------------------------------------------------------------------------------

    @route(
        "GET",
        "/api/v2/search",
        query=SearchQuery,
        example={"query": "type:ticket status<solved refund"},
    )
    def search(self, req: FakeRequest) -> httpx.Response:
        """Search tickets and users: words, ``type:``, ``status:``, ``requester:``… (see docs)."""
        query = req.query
        text = query.get("query")
        if not text:
            raise ZendeskError(400, "InvalidParameter", "query is required")
        parsed = parse(text, query.get("filter[type]"))
        me = self._agent(req.principal or "")
        tickets = parsed.tickets(self.state, me.id if me else None, self._comment_bodies)
        tickets = _sorted(tickets, query.get("sort_by") or "id", query.get("sort_order"))
        users = parsed.users(self.state)
        results = [self._ticket_json(t) | {"result_type": "ticket"} for t in tickets]
        results += [u.to_json(self._base()) | {"result_type": "user"} for u in users]
        page = self._offset_page(req, "results", results)
        return self.respond(200, page | {"facets": None})

    # -- helpers: tickets -------------------------------------------------------------------------

    def _create_ticket(
        self, req: FakeRequest, fields: Mapping[str, Any], key: str | None
    ) -> httpx.Response:
        comment = _comment(fields.get("comment"), required=True)
        assert comment is not None
        body, public = comment
        checked = self._ticket_fields(fields)
        requester = self._requester(req, fields)
        now = self.timestamp()
        agent = self._acting(req)
        subject = checked.get("subject") or body.strip().splitlines()[0][:150]
        ticket = Ticket(
            id=self.state.new_id("ticket"),
            subject=subject,
            description=body,
            requester_id=requester.id,
            submitter_id=agent.id,
            status=checked.get("status") or ("open" if checked.get("assignee_id") else "new"),
            priority=checked.get("priority"),
            type=checked.get("type"),
            external_id=checked.get("external_id"),
            tags=checked.get("tags") or [],
            created=now,
            updated=now,
            assignee_id=checked.get("assignee_id"),
        )
        self.state.tickets[ticket.id] = ticket
        event = self._add_comment(req, ticket, body, public, record=False)
        self.record(
            req,
            "ticket.created",
            str(ticket.id),
            idempotency_key=key,
            external_id=ticket.external_id,
            requester=requester.email,
            subject=ticket.subject,
            priority=ticket.priority,
            status=ticket.status,
            public=public,
        )
        audit = self._with_audit(req, ticket, [{"type": "Create"}, event])
        location = {"Location": f"{self._base()}/api/v2/tickets/{ticket.id}.json"}
        return self.respond(201, audit, headers=location)

    def _ticket_fields(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """The ticket fields of a create or update, checked; only those given."""
        checked: dict[str, Any] = {}
        for name, allowed in (("status", STATUSES), ("priority", PRIORITIES), ("type", TYPES)):
            value = fields.get(name)
            if value is not None:
                if value not in allowed:
                    raise invalid(name, f"{name.capitalize()}: {value} is not valid")
                checked[name] = value
        for name in ("subject", "external_id"):
            value = fields.get(name)
            if value is not None:
                if not isinstance(value, str):
                    raise invalid(name, f"{name.capitalize()}: is invalid")
                checked[name] = value
        tags = fields.get("tags")
        if tags is not None:
            if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
                raise invalid("tags", "Tags: must be a list of strings")
            checked["tags"] = [t.lower() for t in tags]
        assignee = fields.get("assignee_id")
        if assignee is not None:
            user = self.state.users.get(assignee) if isinstance(assignee, int) else None
            if user is None or user.role == "end-user":
                raise invalid("assignee", f"Assignee: {assignee} is not an agent")
            checked["assignee_id"] = assignee
        return checked

    def _apply(
        self, req: FakeRequest, ticket: Ticket, fields: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        """Change what differs; a status change is a ledger effect. Returns the audit events."""
        events: list[dict[str, Any]] = []
        for name, value in fields.items():
            previous = getattr(ticket, name)
            if previous == value:
                continue
            setattr(ticket, name, value)
            events.append(
                {"type": "Change", "field_name": name, "value": value, "previous_value": previous}
            )
            if name == "status":
                self.record(
                    req,
                    "ticket.status_changed",
                    str(ticket.id),
                    previous_status=previous,
                    status=value,
                    external_id=ticket.external_id,
                )
        return events

    def _add_comment(
        self, req: FakeRequest, ticket: Ticket, body: str, public: bool, *, record: bool = True
    ) -> dict[str, Any]:
        comment = Comment(
            id=self.state.new_id("comment"),
            ticket_id=ticket.id,
            audit_id=self.state.next_ids["audit"],
            author_id=self._acting(req).id,
            body=body,
            public=public,
            created=self.timestamp(),
        )
        self.state.comments[comment.id] = comment
        if record:
            self.record(
                req,
                "comment.created",
                str(comment.id),
                ticket=str(ticket.id),
                body=body,
                public=public,
                external_id=ticket.external_id,
            )
        return comment.to_json()

    def _with_audit(
        self, req: FakeRequest, ticket: Ticket, events: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """``{"ticket", "audit"}``: what a create or an update answers (zenpy's TicketAudit)."""
        audit_id = self.state.new_id("audit")
        audit = {
            "id": audit_id,
            "ticket_id": ticket.id,
            "created_at": self._ticket_json(ticket)["updated_at"],
            "author_id": self._acting(req).id,
            "metadata": {"system": {}, "custom": {}},
            "via": {"channel": "api", "source": {"from": {}, "to": {}, "rel": None}},
            "events": [{"id": audit_id * 10 + i, **e} for i, e in enumerate(events)],
        }
        return {"ticket": self._ticket_json(ticket), "audit": audit}

    def _ticket(self, raw_id: str) -> Ticket:
        ticket = self.state.tickets.get(_int_id(raw_id))
        if ticket is None:
            raise not_found()
        return ticket

    def _ticket_json(self, ticket: Ticket) -> dict[str, Any]:
        public = any(c.public for c in self._comments(ticket.id))
        return ticket.to_json(self._base(), public=public)

    def _comments(self, ticket_id: int) -> list[Comment]:
        return [c for c in self.state.comments.values() if c.ticket_id == ticket_id]

    def _comment_bodies(self, ticket_id: int) -> list[str]:
        return [c.body for c in self._comments(ticket_id)]

    # -- helpers: users ---------------------------------------------------------------------------

    def _add_user(
        self,
        *,
        name: str,
        email: str | None,
        role: str,
        principal: str | None = None,
        external_id: str | None = None,
        phone: str | None = None,
        tags: list[str] | None = None,
    ) -> User:
        now = self.timestamp()
        user = User(
            id=self.state.new_id("user"),
            name=name,
            email=email.lower() if email else None,
            role=role,
            created=now,
            updated=now,
            external_id=external_id,
            phone=phone,
            tags=tags or [],
            principal=principal,
        )
        self.state.users[user.id] = user
        return user

    def _requester(self, req: FakeRequest, fields: Mapping[str, Any]) -> User:
        """Who asked: ``requester_id``, ``requester.email`` (created if new) or the agent."""
        requester_id = fields.get("requester_id")
        if requester_id is not None:
            user = self.state.users.get(requester_id) if isinstance(requester_id, int) else None
            if user is None:
                raise invalid("requester", f"Requester: {requester_id} is not a user")
            return user
        requester = fields.get("requester")
        if requester is None:
            return self._acting(req)
        email = requester.get("email") if isinstance(requester, dict) else None
        if not isinstance(email, str) or "@" not in email:
            raise invalid("requester", "Requester: Email is invalid", "InvalidFormat")
        found = self._user_by_email(email)
        if found is not None:
            return found
        name = requester.get("name") or email.split("@")[0]
        user = self._add_user(name=str(name), email=email, role="end-user")
        self.record(req, "user.created", str(user.id), email=user.email, external_id=None)
        return user

    def _existing_user(self, fields: Mapping[str, Any]) -> User | None:
        external_id, email = fields.get("external_id"), fields.get("email")
        if external_id is not None:
            for user in self.state.users.values():
                if user.external_id == external_id:
                    return user
        return self._user_by_email(email) if isinstance(email, str) else None

    def _new_user(self, req: FakeRequest, fields: Mapping[str, Any]) -> User:
        name = fields.get("name")
        if not isinstance(name, str) or not name.strip():
            raise invalid("name", "Name: is too short (minimum one character)", "BlankValue")
        role = _role(fields.get("role"))
        email = fields.get("email")
        if email is not None and (not isinstance(email, str) or "@" not in email):
            raise invalid("email", f"Email: {email} is not properly formatted", "InvalidFormat")
        user = self._add_user(
            name=name,
            email=email,
            role=role,
            external_id=fields.get("external_id"),
            phone=fields.get("phone"),
            tags=fields.get("tags"),
        )
        self.record(
            req, "user.created", str(user.id), email=user.email, external_id=user.external_id
        )
        return user

    def _update_user(self, user: User, fields: Mapping[str, Any]) -> None:
        for name in ("name", "email", "external_id", "phone"):
            value = fields.get(name)
            if isinstance(value, str):
                setattr(user, name, value)
        if fields.get("role") is not None:
            user.role = _role(fields.get("role"))
        user.updated = self.timestamp()

    def _user_by_email(self, email: str) -> User | None:
        wanted = email.lower()
        return next((u for u in self.state.users.values() if u.email == wanted), None)

    def _agent(self, principal: str) -> User | None:
        return next((u for u in self.state.users.values() if u.principal == principal), None)

    def _acting(self, req: FakeRequest) -> User:
        agent = self._agent(req.principal or "")
        if agent is None:  # a request made without authenticate(): not through a world
            raise WorldError(f"chaoskit: no agent of the zendesk fake acts for {req.principal!r}.")
        return agent

    def _by_token(self, authorization: str) -> User | None:
        """The agent an ``Authorization`` header authenticates, if any."""
        scheme, _, rest = authorization.strip().partition(" ")
        if scheme.lower() == "bearer":
            principal = self.tokens.get(rest.strip())
            return None if principal is None else self._agent(principal)
        pair = basic_credentials(authorization)
        if pair is None or not pair[0].endswith("/token") or pair[1] not in self.tokens:
            return None  # passwords are refused, as Zendesk now refuses them for the API
        user = self._user_by_email(pair[0].removesuffix("/token"))
        return user if user is not None and user.role != "end-user" else None

    # -- helpers: paging --------------------------------------------------------------------------

    def _base(self) -> str:
        return f"https://{self.host}"

    def _page(self, req: FakeRequest, key: str, items: list[dict[str, Any]]) -> httpx.Response:
        query = req.query
        if query.get("page[size]") is not None or query.get("page[after]") is not None:
            return self.respond(200, self._cursor_page(req, key, items))
        return self.respond(200, self._offset_page(req, key, items))

    def _offset_page(
        self, req: FakeRequest, key: str, items: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """``{key: [...], "next_page", "previous_page", "count"}``: Zendesk's offset paging."""
        query = req.query
        page = _positive(query.get("page"), "page", 1)
        size = min(_positive(query.get("per_page"), "per_page", 100), 100)
        chunk = items[(page - 1) * size : page * size]
        more = page * size < len(items)
        return {
            key: chunk,
            "next_page": self._link(req, {"page": str(page + 1)}) if more else None,
            "previous_page": self._link(req, {"page": str(page - 1)}) if page > 1 else None,
            "count": len(items),
        }

    def _cursor_page(
        self, req: FakeRequest, key: str, items: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """``{key: [...], "meta": {"has_more", "after_cursor", …}, "links": {…}}``."""
        query = req.query
        size = min(_positive(query.get("page[size]"), "page[size]", 100), 100)
        start = _cursor_index(query.get("page[after]"))
        chunk = items[start : start + size]
        more = start + size < len(items)
        after = _cursor(start + size) if more else None
        before = _cursor(start) if start else None
        return {
            key: chunk,
            "meta": {"has_more": more, "after_cursor": after, "before_cursor": before},
            "links": {
                "next": self._link(req, {"page[after]": after}) if after else None,
                "prev": self._link(req, {"page[before]": before}) if before else None,
            },
        }

    def _link(self, req: FakeRequest, changes: Mapping[str, str]) -> str:
        params = dict(req.raw.url.params) | dict(changes)
        params.pop("page[before]" if "page[after]" in changes else "page[after]", None)
        return f"{self._base()}{req.path}?{urlencode(params, safe='[]:')}"

    def _remaining(self) -> int:
        """Requests left in this virtual minute (``X-Rate-Limit-Remaining``)."""
        minute = int(self.now() // 60)
        with self._minute_lock:
            at, used = self._minute
            used = used + 1 if at == minute else 1
            self._minute = (minute, used)
        return max(RATE_LIMIT - used, 0)


# -- small pure helpers -----------------------------------------------------------------------


def _object(body: Mapping[str, Any], key: str) -> dict[str, Any]:
    """The resource object a body wraps (``{"ticket": {…}}``), or a 400 naming it."""
    value = body.get(key)
    if not isinstance(value, dict):
        raise ZendeskError(
            400,
            "InvalidParameter",
            f"The request body must be a JSON object with a {key!r} object "
            f'(e.g. {{"{key}": {{…}}}}).',
        )
    return value


def _comment(value: Any, *, required: bool) -> tuple[str, bool] | None:
    """A ``comment`` object's body and public flag, checked."""
    if value is None:
        if required:
            raise invalid("description", "Description: cannot be blank", "BlankValue")
        return None
    body = value.get("body") if isinstance(value, dict) else None
    if not isinstance(body, str) or not body.strip():
        raise invalid("description", "Description: cannot be blank", "BlankValue")
    public = value.get("public", True)
    if not isinstance(public, bool):
        raise invalid("comment", "Comment: public must be true or false")
    return body, public


def _role(value: Any) -> str:
    if value is None:
        return "end-user"
    if value not in ROLES:
        raise invalid("role", f"Role: {value} is not valid")
    return str(value)


def _user_matches(user: User, query: str) -> bool:
    words = query.lower().split()
    texts = f"{user.name} {user.email or ''}".lower()
    return all(word in texts for word in words)


def _int_id(raw: str) -> int:
    """A path id; anything but digits names nothing, as in Zendesk."""
    if not raw.isdigit():
        raise not_found()
    return int(raw)


def _positive(value: str | None, name: str, default: int) -> int:
    if value is None:
        return default
    if not value.isdigit() or int(value) < 1:
        raise ZendeskError(400, "InvalidPaginationParameter", f"{name} must be a positive integer")
    return int(value)


def _cursor(index: int) -> str:
    return base64.urlsafe_b64encode(f"i:{index}".encode()).decode().rstrip("=")


def _cursor_index(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        return int(text.removeprefix("i:"))
    except ValueError:
        raise ZendeskError(
            400, "InvalidPaginationParameter", "page[after] is not a cursor this API gave"
        ) from None


def _sorted(tickets: list[Ticket], by: str, order: str | None) -> list[Ticket]:
    keys = {
        "id": lambda t: t.id,
        "created_at": lambda t: (t.created, t.id),
        "updated_at": lambda t: (t.updated, t.id),
        "status": lambda t: (STATUSES.index(t.status), t.id),
        "priority": lambda t: (PRIORITIES.index(t.priority) if t.priority else 9, t.id),
        "ticket_type": lambda t: (t.type or "", t.id),
    }
    return sorted(tickets, key=keys.get(by, keys["id"]), reverse=order == "desc")
