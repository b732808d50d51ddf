"""A fake transactional email service: an outbox, nothing is ever delivered.

A message goes to an address (``to``) or to a CRM contact (``contact_id``, resolved through the
directory the world seeds with :meth:`Email.add_recipient`). Every accepted message is an
``email.sent`` ledger entry; the outbox is what "did the agent really email the customer?" and
"did an injected instruction exfiltrate data?" are decided on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import httpx
from pydantic import Field

from chaoskit.core.errors import WorldError
from chaoskit.fakes.base import FakeRequest, route
from chaoskit.fakes.jsonapi import (
    ApiError,
    Fields,
    TokenAuthBackend,
    json_body,
    optional_str,
    require_str,
)

__all__ = ["Email", "EmailState"]


@dataclass(slots=True)
class _Message:
    id: str
    created: int
    to: str
    contact_id: str | None
    subject: str
    body: str
    template: str | None
    sent_by: str | None
    status: str = "sent"

    def to_json(self) -> dict[str, Any]:
        return {"object": "message", **asdict(self)}


@dataclass(slots=True)
class EmailState:
    """The outbox and the contact directory; deep-copyable for stale reads."""

    messages: dict[str, _Message] = field(default_factory=dict)
    #: contact id → email address
    directory: dict[str, str] = field(default_factory=dict)


class _NewMessage(Fields):
    to: str | None = Field(None, description="An email address; or give contact_id instead.")
    contact_id: str | None = Field(
        None, description="A CRM contact id (cont_…), sent to the contact's address."
    )
    subject: str = Field(description="The subject line.")
    body: str | None = Field(None, description="The text; required unless a template is given.")
    template: str | None = Field(None, description="A template name, standing in for the body.")


class _MessageFilter(Fields):
    to: str | None = Field(None, description="Only messages to this address.")


class Email(TokenAuthBackend):
    """The fake email service (``mail.chaoskit.test``).

    >>> mail = Email()
    >>> client = httpx.Client(transport=httpx.MockTransport(mail.serve),
    ...                       base_url="https://mail.chaoskit.test")
    >>> client.post("/v1/messages", json={"to": "ap@acme.test", "subject": "Refund issued",
    ...                                   "body": "Your refund is on its way."}).status_code
    202
    >>> [e.fields["to"] for e in mail.ledger.entries("email.sent")]
    ['ap@acme.test']
    """

    name = "email"
    default_host = "mail.chaoskit.test"
    state: EmailState

    def new_state(self) -> EmailState:
        return EmailState()

    def sample(self) -> dict[str, str]:
        """A token for ``usr_dana``, a contact in the directory and one message sent."""
        self.add_token("tok_dana", "usr_dana")
        self.add_recipient("cont_ap", email="ap@acme.test")
        sent = self.request(
            "POST",
            "/v1/messages",
            json={"to": "ap@acme.test", "subject": "Invoice", "body": "Your invoice is attached."},
            headers={"Authorization": "Bearer tok_dana"},
        )
        return {"token": "tok_dana", "contact": "cont_ap", "message": sent.json()["id"]}

    def add_recipient(self, contact_id: str, *, email: str) -> None:
        """Let ``contact_id`` (a CRM contact id) be used in place of an address."""
        if not _is_address(email):
            raise WorldError(f"chaoskit: {email!r} is not an email address (for {contact_id!r}).")
        with self.lock:
            self.state.directory[contact_id] = email

    @route(
        "POST",
        "/v1/messages",
        body=_NewMessage,
        example={
            "contact_id": "{contact}",
            "subject": "Your refund",
            "body": "We refunded $42.00 to your card.",
        },
    )
    def send(self, req: FakeRequest) -> httpx.Response:
        """Send a message to an address (``to``) or a CRM contact (``contact_id``)."""
        body = json_body(req)
        contact_id = optional_str(body, "contact_id")
        to = self._recipient(optional_str(body, "to"), contact_id)
        subject, template = require_str(body, "subject"), optional_str(body, "template")
        # A template can stand in for the body; without one there must be something to send.
        text = optional_str(body, "body") if template else require_str(body, "body")
        message = _Message(
            self.new_id("msg"),
            self.timestamp(),
            to,
            contact_id,
            subject,
            text or "",
            template,
            req.principal,
        )
        self.state.messages[message.id] = message
        self.record(
            req,
            "email.sent",
            message.id,
            to=to,
            subject=subject,
            template=template,
            contact_id=contact_id,
            body=message.body,
        )
        return self.respond(202, message.to_json())

    def _recipient(self, to: str | None, contact_id: str | None) -> str:
        if (to is None) == (contact_id is None):
            raise ApiError(
                400,
                "Send a message either to an address ('to') or to a contact ('contact_id'), "
                "exactly one of the two.",
                code="parameter_missing" if to is None else "parameter_invalid",
                param="to",
            )
        if to is not None:
            if not _is_address(to):
                raise ApiError(
                    400,
                    f"Invalid to: {to!r} is not an email address.",
                    code="invalid_address",
                    param="to",
                )
            return to
        address = self.state.directory.get(contact_id or "")
        if address is None:
            raise ApiError(
                404,
                f"No such contact: {contact_id!r}.",
                code="resource_missing",
                param="contact_id",
            )
        return address

    @route("GET", "/v1/messages", query=_MessageFilter, example={"to": "ap@acme.test"})
    def list_messages(self, req: FakeRequest) -> httpx.Response:
        """List sent messages, oldest first, optionally those ``to`` one address."""
        to = req.query.get("to")
        data = [m.to_json() for m in self.state.messages.values() if to in (None, m.to)]
        return self.respond(200, {"object": "list", "data": data})

    @route("GET", "/v1/messages/{id}", example={"id": "{message}"})
    def get_message(self, req: FakeRequest) -> httpx.Response:
        """Retrieve a sent message by id."""
        message = self.state.messages.get(req.params["id"])
        if message is None:
            raise ApiError(
                404,
                f"No such message: {req.params['id']!r}.",
                code="resource_missing",
                param="id",
            )
        return self.respond(200, message.to_json())


def _is_address(value: str) -> bool:
    local, at, domain = value.rpartition("@")
    return bool(at and local and "." in domain and " " not in value)
