"""The parameters of each zendesk route, declared once as the Support API takes them.

Bodies are JSON objects wrapped in the resource's name (``{"ticket": {…}}``); unknown fields
are ignored, as Zendesk ignores them. The handlers read their parameters through these models,
and the API reference (``chaoskit fakes zendesk``) documents them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CommentList",
    "NewComment",
    "SearchQuery",
    "TicketBody",
    "TicketChangeBody",
    "TicketList",
    "UserBody",
    "UserSearch",
]

Status = Literal["new", "open", "pending", "hold", "solved", "closed"]
Priority = Literal["urgent", "high", "normal", "low"]


class _Fields(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class NewComment(_Fields):
    body: str = Field(description="The comment's text.")
    public: bool = Field(True, description="false: a private note the requester never sees.")


class Requester(_Fields):
    email: str = Field(description="Found by email, or created as an end user.")
    name: str | None = Field(None, description="The new end user's name.")


class NewTicket(_Fields):
    subject: str | None = Field(None, description="Default: the comment's first line.")
    comment: NewComment = Field(description="The first comment: the ticket's description.")
    requester: Requester | None = Field(None, description="Who asked, by email.")
    requester_id: int | None = Field(None, description="Who asked, by user id.")
    external_id: str | None = Field(
        None,
        description="Your own id for the ticket; find it again with GET "
        "/api/v2/tickets?external_id=… (Zendesk does not dedupe by it).",
    )
    priority: Priority | None = None
    status: Status | None = Field(None, description="Default: new (open with an assignee).")
    type: Literal["problem", "incident", "question", "task"] | None = None
    tags: list[str] | None = None
    assignee_id: int | None = None


class TicketBody(_Fields):
    ticket: NewTicket


class TicketChange(_Fields):
    subject: str | None = None
    status: Status | None = Field(None, description="A closed ticket cannot change.")
    priority: Priority | None = None
    type: Literal["problem", "incident", "question", "task"] | None = None
    tags: list[str] | None = None
    external_id: str | None = None
    assignee_id: int | None = None
    comment: NewComment | None = Field(None, description="Adds a comment (public or private).")


class TicketChangeBody(_Fields):
    ticket: TicketChange


class _Pages(_Fields):
    page: int | None = Field(None, ge=1, description="Offset paging: the page, from 1.")
    per_page: int | None = Field(None, ge=1, le=100, description="Offset paging: up to 100.")
    page_size: int | None = Field(
        None, alias="page[size]", ge=1, le=100, description="Cursor paging: up to 100."
    )
    page_after: str | None = Field(
        None, alias="page[after]", description="Cursor paging: meta.after_cursor of the last."
    )


class TicketList(_Pages):
    external_id: str | None = Field(None, description="Only the tickets with this external_id.")
    sort_by: Literal["id", "created_at", "updated_at", "status"] | None = None
    sort_order: Literal["asc", "desc"] | None = None


class CommentList(_Pages):
    sort_order: Literal["asc", "desc"] | None = None
    include_inline_images: bool | None = Field(None, description="Accepted; no attachments.")


class NewUser(_Fields):
    name: str | None = Field(None, description="Required to create a user.")
    email: str | None = Field(None, description="With external_id, how an existing user is found.")
    external_id: str | None = None
    role: Literal["end-user", "agent", "admin"] | None = None
    phone: str | None = None
    tags: list[str] | None = None


class UserBody(_Fields):
    user: NewUser


class UserSearch(_Pages):
    query: str | None = Field(None, description="An email, a name, or words of them.")
    external_id: str | None = None


class SearchQuery(_Pages):
    query: str = Field(
        description="Words and qualifiers: type:ticket|user, status:open (or status<solved), "
        "priority:, requester:<email|id|me>, assignee:, external_id:, tags:, subject:, "
        'description:, email:, name:, role:; "quoted phrases", -negation.'
    )
    filter_type: Literal["ticket", "user"] | None = Field(
        None, alias="filter[type]", description="As zenpy sends type=…"
    )
    sort_by: Literal["created_at", "updated_at", "priority", "status", "ticket_type"] | None = None
    sort_order: Literal["asc", "desc"] | None = None
