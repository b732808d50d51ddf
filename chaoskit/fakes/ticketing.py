"""A fake ticketing system: tickets, comments and status changes, with **no** idempotency.

This is the downstream that cannot protect the agent from itself: an ``Idempotency-Key`` header
is ignored, so a retried create is a second ticket. A careful client tags its tickets with an
``external_id`` and checks ``GET /v1/tickets?external_id=…`` before creating another one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, get_args

import httpx
from pydantic import Field

from chaoskit.fakes.base import FakeRequest, route
from chaoskit.fakes.jsonapi import (
    ApiError,
    Fields,
    TokenAuthBackend,
    json_body,
    one_of,
    optional_str,
    require_str,
)

__all__ = ["PRIORITIES", "STATUSES", "Ticketing", "TicketingState"]

Status = Literal["new", "open", "pending", "solved", "closed"]
Priority = Literal["low", "normal", "high", "urgent"]
STATUSES: tuple[str, ...] = get_args(Status)
PRIORITIES: tuple[str, ...] = get_args(Priority)


class _NewTicket(Fields):
    subject: str = Field(description="One line: what the ticket is about.")
    body: str = Field(description="The ticket's first message.")
    requester: str = Field(description="Who asked: an email address or a user id.")
    priority: Priority = "normal"
    external_id: str | None = Field(
        None,
        description="Your own id for the ticket. Nothing here dedupes a retried create: look "
        "for it with GET /v1/tickets?external_id=… before creating another.",
    )


class _TicketFilter(Fields):
    external_id: str | None = Field(None, description="Only tickets with this external_id.")
    requester: str | None = Field(None, description="Only tickets of this requester.")
    status: Status | None = Field(None, description="Only tickets in this status.")


class _StatusChange(Fields):
    status: Status = Field(description="The new status; a closed ticket cannot change.")


class _NewComment(Fields):
    body: str = Field(description="The comment's text.")
    public: bool = Field(True, description="Whether the requester sees it.")
    author: str | None = Field(None, description="Default: the caller's principal.")


@dataclass(slots=True)
class _Ticket:
    id: str
    created: int
    subject: str
    body: str
    requester: str
    priority: str
    status: str
    external_id: str | None
    created_by: str | None

    def to_json(self) -> dict[str, Any]:
        return {"object": "ticket", **asdict(self)}


@dataclass(slots=True)
class _Comment:
    id: str
    created: int
    ticket: str
    body: str
    author: str | None
    public: bool

    def to_json(self) -> dict[str, Any]:
        return {"object": "comment", **asdict(self)}


@dataclass(slots=True)
class TicketingState:
    """Tickets and their comments; deep-copyable for stale reads."""

    tickets: dict[str, _Ticket] = field(default_factory=dict)
    comments: dict[str, _Comment] = field(default_factory=dict)


class Ticketing(TokenAuthBackend):
    """The fake ticketing system (``tickets.chaoskit.test``).

    >>> tickets = Ticketing()
    >>> client = httpx.Client(transport=httpx.MockTransport(tickets.serve),
    ...                       base_url="https://tickets.chaoskit.test")
    >>> client.post("/v1/tickets", json={"subject": "Refund", "body": "…",
    ...                                  "requester": "ap@acme.test"}).status_code
    201
    """

    name = "ticketing"
    default_host = "tickets.chaoskit.test"
    state: TicketingState

    def new_state(self) -> TicketingState:
        return TicketingState()

    def sample(self) -> dict[str, str]:
        """A token for ``usr_dana`` and one ticket she filed."""
        self.add_token("tok_dana", "usr_dana")
        ticket = self.request(
            "POST",
            "/v1/tickets",
            json={
                "subject": "Double charge on order 1042",
                "body": "I was charged twice for the same order.",
                "requester": "ap@acme.test",
                "external_id": "refund-ord-1042",
            },
            headers={"Authorization": "Bearer tok_dana"},
        )
        return {"token": "tok_dana", "ticket": ticket.json()["id"]}

    def _ticket(self, ticket_id: str) -> _Ticket:
        ticket = self.state.tickets.get(ticket_id)
        if ticket is None:
            raise ApiError(
                404, f"No such ticket: {ticket_id!r}.", code="resource_missing", param="id"
            )
        return ticket

    @route(
        "POST",
        "/v1/tickets",
        body=_NewTicket,
        example={
            "subject": "Refund for a damaged order",
            "body": "The parcel arrived damaged; please refund it.",
            "requester": "ap@acme.test",
            "priority": "high",
            "external_id": "refund-ord-2077",
        },
    )
    def create_ticket(self, req: FakeRequest) -> httpx.Response:
        """Open a ticket; a retried create is a second ticket (no idempotency)."""
        # No idempotency on purpose: `Idempotency-Key` is never read, a retry is a new ticket.
        body = json_body(req)
        subject, text = require_str(body, "subject"), require_str(body, "body")
        requester = require_str(body, "requester")
        priority = one_of(body, "priority", PRIORITIES, default="normal")
        external_id = optional_str(body, "external_id")
        # Ids are drawn only once the request is valid, so refused requests don't shift them.
        ticket = _Ticket(
            id=self.new_id("tkt"),
            created=self.timestamp(),
            subject=subject,
            body=text,
            requester=requester,
            priority=priority,
            status="new",
            external_id=external_id,
            created_by=req.principal,
        )
        self.state.tickets[ticket.id] = ticket
        fields = {k: v for k, v in ticket.to_json().items() if k not in ("object", "id")}
        self.record(req, "ticket.created", ticket.id, **fields)
        return self.respond(201, ticket.to_json())

    @route("GET", "/v1/tickets", query=_TicketFilter, example={"external_id": "refund-ord-1042"})
    def list_tickets(self, req: FakeRequest) -> httpx.Response:
        """List tickets, oldest first, by ``external_id``, ``requester`` or ``status``."""
        query = req.query
        data = [
            t.to_json()
            for t in self.state.tickets.values()
            if query.get("external_id") in (None, t.external_id)
            and query.get("requester") in (None, t.requester)
            and query.get("status") in (None, t.status)
        ]
        return self.respond(200, {"object": "list", "data": data})

    @route("GET", "/v1/tickets/{id}", example={"id": "{ticket}"})
    def get_ticket(self, req: FakeRequest) -> httpx.Response:
        """Retrieve a ticket by id."""
        return self.respond(200, self._ticket(req.params["id"]).to_json())

    @route(
        "PATCH",
        "/v1/tickets/{id}",
        body=_StatusChange,
        example={"id": "{ticket}", "status": "solved"},
    )
    def update_ticket(self, req: FakeRequest) -> httpx.Response:
        """Change a ticket's status; the same status again changes nothing."""
        ticket = self._ticket(req.params["id"])
        status = one_of(json_body(req), "status", STATUSES)
        if ticket.status == "closed":
            raise ApiError(
                409, f"Ticket {ticket.id!r} is closed and cannot change.", code="ticket_closed"
            )
        # Setting the status it already has is a no-op, not an effect.
        if status != ticket.status:
            previous, ticket.status = ticket.status, status
            self.record(
                req, "ticket.status_changed", ticket.id, previous_status=previous, status=status
            )
        return self.respond(200, ticket.to_json())

    @route(
        "POST",
        "/v1/tickets/{id}/comments",
        body=_NewComment,
        example={"id": "{ticket}", "body": "Refund issued: re_…, 5-10 business days."},
    )
    def create_comment(self, req: FakeRequest) -> httpx.Response:
        """Comment on a ticket (no idempotency: a retry is a second comment)."""
        ticket = self._ticket(req.params["id"])
        body = json_body(req)
        public = body.get("public", True)
        if not isinstance(public, bool):
            raise ApiError(400, "Invalid public: expected true or false.", code="parameter_invalid")
        text = require_str(body, "body")
        author = optional_str(body, "author") or req.principal
        comment = _Comment(self.new_id("cmt"), self.timestamp(), ticket.id, text, author, public)
        self.state.comments[comment.id] = comment
        self.record(
            req,
            "comment.created",
            comment.id,
            ticket=ticket.id,
            body=comment.body,
            author=comment.author,
            public=public,
        )
        return self.respond(201, comment.to_json())

    @route("GET", "/v1/tickets/{id}/comments", example={"id": "{ticket}"})
    def list_comments(self, req: FakeRequest) -> httpx.Response:
        """List a ticket's comments, oldest first."""
        ticket = self._ticket(req.params["id"])
        data = [c.to_json() for c in self.state.comments.values() if c.ticket == ticket.id]
        return self.respond(200, {"object": "list", "data": data})
