"""The ``SendGrid`` backend: Mail Send and the Email Activity reads on ``api.sendgrid.com``.

Its handlers check the key's scope, validate, record and respond; SendGrid's wire format lives
in :mod:`~chaoskit.fakes.sendgrid.wire`, the Mail Send rules in
:mod:`~chaoskit.fakes.sendgrid.mail` and the activity query language in
:mod:`~chaoskit.fakes.sendgrid.activity`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Final

import httpx
from pydantic import Field, JsonValue

from chaoskit.core.models import FrozenModel
from chaoskit.fakes.base import FakeRequest, declared, route
from chaoskit.fakes.sendgrid.activity import parse
from chaoskit.fakes.sendgrid.mail import Envelope, Mail, read_mail
from chaoskit.fakes.sendgrid.params import MailSend, MessageQuery
from chaoskit.fakes.sendgrid.wire import ApiKey, Problem, Rejected, SendGridWire

__all__ = ["SendGrid", "SendGridOptions", "SendGridState"]

#: What SendGrid caps a Mail Send request at (the whole JSON body, attachments included).
MAX_REQUEST_BYTES: Final = 30 * 1024 * 1024
_SCOPES: Final = ("mail.send", "messages.read")
_ORIGIN_IP, _OUTBOUND_IP = "192.0.2.10", "198.51.100.25"  # documentation ranges (RFC 5737)
#: The reference's example send (and :meth:`SendGrid.sample`'s).
_EXAMPLE: Final[dict[str, JsonValue]] = {
    "personalizations": [{"to": [{"email": "ap@acme.test", "name": "Accounts Payable"}]}],
    "from": {"email": "billing@shop.test", "name": "Shop Billing"},
    "subject": "Your refund",
    "content": [{"type": "text/plain", "value": "We refunded $42.00 to your card."}],
    "categories": ["refunds"],
}


class SendGridOptions(FrozenModel):
    """A scenario's ``[sendgrid]`` table: what the task's key may do, how big a send may be.

    .. code-block:: toml

        [sendgrid]
        scopes = ["messages.read"]   # a key without mail.send: every send is a 403
        max_request_bytes = 1048576  # a smaller 413 limit than SendGrid's 30 MB
    """

    scopes: tuple[str, ...] = Field(
        default=_SCOPES, description="The scopes of the key the task gets."
    )
    max_request_bytes: int = Field(default=MAX_REQUEST_BYTES, ge=1)


@dataclass(slots=True)
class SendGridState:
    """Every activity row by ``msg_id``, oldest first; deep-copyable for stale reads."""

    rows: dict[str, dict[str, Any]] = field(default_factory=dict)


class SendGrid(SendGridWire):
    """A fake SendGrid v3: ``POST /v3/mail/send`` and the Email Activity API.

    A send needs a key with the ``mail.send`` scope (``Authorization: Bearer SG.…``); it is
    validated as SendGrid does (every problem listed in one 400), answered 202 with an empty
    body and ``X-Message-Id``, and recorded as one ``mail.sent`` ledger entry per
    personalization, with its ``to``, ``cc``, ``bcc`` and ``recipients`` as fields. In sandbox
    mode (``mail_settings.sandbox_mode.enable``) it is validated, answered 200 and not sent.
    Every recipient of a send is one Email Activity row (``messages.read`` scope).

    >>> from sendgrid import SendGridAPIClient  # doctest: +SKIP
    >>> from sendgrid.helpers.mail import Mail  # doctest: +SKIP
    >>> with World([SendGrid()]) as world:  # doctest: +SKIP
    ...     SendGridAPIClient(SendGrid.DEFAULT_API_KEY).send(
    ...         Mail("billing@shop.test", "ap@acme.test", "Your refund", "It is on its way."))
    >>> [e.fields["to"] for e in world.ledger("sendgrid")]  # doctest: +SKIP
    [['ap@acme.test']]
    """

    name = "sendgrid"
    default_host = "api.sendgrid.com"
    Options = SendGridOptions
    #: The SDK reads ``SENDGRID_API_KEY``; an agent in another process passes
    #: ``host=os.environ["SENDGRID_HOST"]`` to ``SendGridAPIClient`` in server mode.
    sdk_environment: ClassVar[Mapping[str, str]] = {
        "SENDGRID_API_KEY": "{credential}",
        "SENDGRID_HOST": "{url}",
    }
    #: The key a task is handed (``task.credentials["sendgrid"]``), with both scopes.
    DEFAULT_API_KEY: Final = "SG.chaoskit-test-key.sendgrid-fake-key-for-tests-only"
    state: SendGridState

    def __init__(
        self, *, host: str | None = None, api_keys: Mapping[str, Sequence[str]] | None = None
    ) -> None:
        keys = api_keys or {self.DEFAULT_API_KEY: _SCOPES}
        self.api_keys = {key: ApiKey("platform", frozenset(scopes)) for key, scopes in keys.items()}
        self.max_request_bytes = MAX_REQUEST_BYTES
        super().__init__(host=host)

    def new_state(self) -> SendGridState:
        return SendGridState()

    def credential(self, principal_token: str) -> str:
        """The account's API key: mail is sent by the platform, not by the user."""
        return self.DEFAULT_API_KEY

    def apply_options(self, options: SendGridOptions) -> None:
        with self.lock:
            self.api_keys[self.DEFAULT_API_KEY] = ApiKey("platform", frozenset(options.scopes))
            self.max_request_bytes = options.max_request_bytes

    def sample(self) -> dict[str, str]:
        """One send to ``ap@acme.test``, whose activity row the examples read."""
        sent = self.request(
            "POST",
            "/v3/mail/send",
            json=_EXAMPLE,
            headers={"Authorization": f"Bearer {self.DEFAULT_API_KEY}"},
        )
        message = sent.headers["X-Message-Id"]
        return {"msg_id": next(m for m in self.state.rows if m.startswith(message))}

    # -- reading, for invariants and tests ------------------------------------------------------

    def activity(self, *, to: str | None = None) -> list[dict[str, Any]]:
        """Copies of the activity rows (one per recipient), oldest first, optionally ``to``."""
        with self.lock:
            rows = self.state.rows.values()
            return [copy.deepcopy(r) for r in rows if to in (None, r["to_email"])]

    # -- mail send ------------------------------------------------------------------------------

    @route("POST", "/v3/mail/send", body=MailSend, example=_EXAMPLE)
    def send(self, req: FakeRequest) -> httpx.Response:
        """Send mail: 202 with ``X-Message-Id``; in sandbox mode 200, and nothing is sent."""
        self.require_scope(req, "mail.send")
        if len(req.raw.content) > self.max_request_bytes:
            raise Rejected(413, [Problem("content too large")])
        mail = read_mail(_body(req))
        if mail.sandbox:
            return httpx.Response(200)
        message_id = self._message_id()
        for index, envelope in enumerate(mail.envelopes):
            self._deliver(req, message_id, index, mail, envelope)
        return httpx.Response(202, headers={"X-Message-Id": message_id})

    def _deliver(
        self, req: FakeRequest, message_id: str, index: int, mail: Mail, envelope: Envelope
    ) -> None:
        """One personalization: an activity row per recipient, one ``mail.sent`` entry."""
        ids: list[JsonValue] = []
        for n, address in enumerate(envelope.recipients):
            msg_id = f"{message_id}.filterdrecv-{index}-{n}.0"
            self.state.rows[msg_id] = self._row(msg_id, address, mail, envelope)
            ids.append(msg_id)
        self.record(
            req,
            "mail.sent",
            str(ids[0]),
            to=list(envelope.to),
            cc=list(envelope.cc),
            bcc=list(envelope.bcc),
            recipients=list(envelope.recipients),
            sender=envelope.sender,
            subject=envelope.subject,
            template_id=mail.template_id,
            categories=list(mail.categories),
            custom_args={**mail.custom_args, **envelope.custom_args},
            dynamic_template_data=envelope.dynamic_template_data,
            body=mail.body,
            x_message_id=message_id,
            msg_ids=ids,
        )

    def _row(self, msg_id: str, address: str, mail: Mail, envelope: Envelope) -> dict[str, Any]:
        when = datetime.fromtimestamp(self.timestamp(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        events = [
            _event("processed", when, ""),
            _event("delivered", when, "mx." + address.rpartition("@")[2]),
        ]
        return {
            "from_email": envelope.sender,
            "msg_id": msg_id,
            "subject": envelope.subject,
            "to_email": address,
            "status": "delivered",
            "opens_count": 0,
            "clicks_count": 0,
            "last_event_time": when,
            "template_id": mail.template_id or "",
            "asm_group_id": 0,
            "teammate": "",
            "api_key_id": self.DEFAULT_API_KEY.split(".")[1],
            "events": events,
            "originating_ip": _ORIGIN_IP,
            "categories": list(mail.categories),
            # A string in SendGrid's description: the custom args as one JSON object.
            "unique_args": json.dumps({**mail.custom_args, **envelope.custom_args}),
            "outbound_ip": _OUTBOUND_IP,
            "outbound_ip_type": "shared",
        }

    def _message_id(self) -> str:
        """A 22-character id like SendGrid's ``X-Message-Id``, deterministic per seed."""
        return (self.new_id("x") + self.new_id("x")).replace("x_", "")[:22]

    # -- email activity -------------------------------------------------------------------------

    @route(
        "GET",
        "/v3/messages",
        query=MessageQuery,
        example={"query": 'to_email="ap@acme.test"', "limit": 10},
    )
    def list_messages(self, req: FakeRequest) -> httpx.Response:
        """Filter the Email Activity with a query (``to_email="…"``), newest first."""
        self.require_scope(req, "messages.read")
        query, limit = req.query.get("query"), _limit(req.query.get("limit"))
        keep = parse(query) if query else None
        rows = [r for r in reversed(self.state.rows.values()) if keep is None or keep(r)]
        return self.respond(200, {"messages": [_summary(r) for r in rows[:limit]]})

    @route("GET", "/v3/messages/{msg_id}", example={"msg_id": "{msg_id}"})
    def get_message(self, req: FakeRequest) -> httpx.Response:
        """One message's details: template, key, categories, custom args, events."""
        self.require_scope(req, "messages.read")
        row = self.state.rows.get(req.params["msg_id"])
        if row is None:
            raise Rejected(404, [Problem("not found", "message_id")])
        return self.respond(200, row)


_SUMMARY = (
    "from_email",
    "msg_id",
    "subject",
    "to_email",
    "status",
    "opens_count",
    "clicks_count",
    "last_event_time",
)


def _summary(row: Mapping[str, Any]) -> dict[str, Any]:
    return {key: row[key] for key in _SUMMARY}


def _event(name: str, when: str, mx_server: str) -> dict[str, Any]:
    return {
        "event_name": name,
        "processed": when,
        "bounce_type": "",
        "http_user_agent": "",
        "mx_server": mx_server,
    }


def _body(req: FakeRequest) -> Any:
    """The JSON object body, guarded by the route's declared fields; else SendGrid's 400."""
    try:
        body = json.loads(req.raw.content) if req.raw.content else None
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        raise Rejected(400, [Problem("Bad Request")])
    return declared(body, MailSend, str(req.route))


def _limit(raw: str | None) -> int:
    if raw is None:
        return 10
    try:
        value = int(float(raw))
    except ValueError:
        value = 0
    if not 1 <= value <= 1000:
        raise Rejected(
            400, [Problem("limit must be an integer greater than 0 and at most 1000", "limit")]
        )
    return value
