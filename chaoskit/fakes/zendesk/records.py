"""The records a Zendesk account holds, and their JSON as the Support API shows them.

Every field zenpy's ``Ticket``, ``User``, ``Comment`` and ``Audit`` objects declare is present
(``tests/data/zendesk_fields.json`` lists them); fields the fake does not model keep
Zendesk's empty values (``null``, ``[]``, ``false``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal, get_args

from chaoskit.fakes.zendesk.wire import iso

__all__ = [
    "PRIORITIES",
    "ROLES",
    "STATUSES",
    "TYPES",
    "Comment",
    "Ticket",
    "User",
    "ZendeskState",
]

Status = Literal["new", "open", "pending", "hold", "solved", "closed"]
Priority = Literal["urgent", "high", "normal", "low"]
TicketType = Literal["problem", "incident", "question", "task"]
Role = Literal["end-user", "agent", "admin"]
STATUSES: Final[tuple[str, ...]] = get_args(Status)
PRIORITIES: Final[tuple[str, ...]] = get_args(Priority)
TYPES: Final[tuple[str, ...]] = get_args(TicketType)
ROLES: Final[tuple[str, ...]] = get_args(Role)

_API_VIA: Final = {"channel": "api", "source": {"from": {}, "to": {}, "rel": None}}


@dataclass(slots=True)
class User:
    """A person in the account: an end user who asks, or an agent (or admin) who answers."""

    id: int
    name: str
    email: str | None
    role: str
    created: float
    updated: float
    external_id: str | None = None
    phone: str | None = None
    tags: list[str] = field(default_factory=list)
    #: The chaoskit principal an agent acts for (``usr_…``), ``None`` for end users.
    principal: str | None = None

    def to_json(self, base: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": f"{base}/api/v2/users/{self.id}.json",
            "name": self.name,
            "email": self.email,
            "created_at": iso(self.created),
            "updated_at": iso(self.updated),
            "time_zone": "UTC",
            "iana_time_zone": "Etc/UTC",
            "phone": self.phone,
            "shared_phone_number": None,
            "photo": None,
            "locale_id": 1,
            "locale": "en-US",
            "organization_id": None,
            "role": self.role,
            "verified": True,
            "external_id": self.external_id,
            "tags": list(self.tags),
            "alias": None,
            "active": True,
            "shared": False,
            "shared_agent": False,
            "last_login_at": None,
            "two_factor_auth_enabled": False,
            "signature": None,
            "details": "",
            "notes": "",
            "role_type": None,
            "custom_role_id": None,
            "moderator": self.role != "end-user",
            "ticket_restriction": None if self.role != "end-user" else "requested",
            "only_private_comments": False,
            "restricted_agent": False,
            "suspended": False,
            "default_group_id": None,
            "report_csv": False,
            "chat_only": False,
            "user_fields": {},
        }


@dataclass(slots=True)
class Comment:
    """A comment on a ticket: public (the requester sees it) or a private internal note."""

    id: int
    ticket_id: int
    audit_id: int
    author_id: int
    body: str
    public: bool
    created: float

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "Comment",
            "author_id": self.author_id,
            "body": self.body,
            "html_body": f'<div class="zd-comment"><p>{_escape(self.body)}</p></div>',
            "plain_body": self.body,
            "public": self.public,
            "attachments": [],
            "audit_id": self.audit_id,
            "via": _API_VIA,
            "created_at": iso(self.created),
            "metadata": {"system": {}, "custom": {}},
        }


@dataclass(slots=True)
class Ticket:
    """A ticket: who asked, about what, and where it stands."""

    id: int
    subject: str
    description: str
    requester_id: int
    submitter_id: int
    status: str
    priority: str | None
    type: str | None
    external_id: str | None
    tags: list[str]
    created: float
    updated: float
    assignee_id: int | None = None

    def to_json(self, base: str, *, public: bool) -> dict[str, Any]:
        return {
            "url": f"{base}/api/v2/tickets/{self.id}.json",
            "id": self.id,
            "external_id": self.external_id,
            "via": _API_VIA,
            "created_at": iso(self.created),
            "updated_at": iso(self.updated),
            "generated_timestamp": int(self.updated),
            "type": self.type,
            "subject": self.subject,
            "raw_subject": self.subject,
            "description": self.description,
            "priority": self.priority,
            "status": self.status,
            "recipient": None,
            "requester_id": self.requester_id,
            "submitter_id": self.submitter_id,
            "assignee_id": self.assignee_id,
            "organization_id": None,
            "group_id": None,
            "brand_id": None,
            "collaborator_ids": [],
            "follower_ids": [],
            "email_cc_ids": [],
            "forum_topic_id": None,
            "problem_id": None,
            "has_incidents": False,
            "is_public": public,
            "due_at": None,
            "tags": list(self.tags),
            "custom_fields": [],
            "fields": [],
            "satisfaction_rating": None,
            "sharing_agreement_ids": [],
            "custom_status_id": None,
            "followup_ids": [],
            "ticket_form_id": None,
            "allow_channelback": False,
            "allow_attachments": True,
            "from_messaging_channel": False,
        }


@dataclass(slots=True)
class ZendeskState:
    """Users, tickets and comments, by id; deep-copyable for stale reads."""

    users: dict[int, User] = field(default_factory=dict)
    tickets: dict[int, Ticket] = field(default_factory=dict)
    comments: dict[int, Comment] = field(default_factory=dict)
    #: The next id of each kind: Zendesk numbers tickets from 1, the rest from large ids.
    next_ids: dict[str, int] = field(
        default_factory=lambda: {
            "ticket": 1,
            "user": 3_610_000,
            "comment": 9_100_000,
            "audit": 8_200_000,
        }
    )

    def new_id(self, kind: Literal["ticket", "user", "comment", "audit"]) -> int:
        value = self.next_ids[kind]
        self.next_ids[kind] = value + 1
        return value


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
