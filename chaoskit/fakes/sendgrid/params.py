"""The parameters of each sendgrid route, declared once as SendGrid's v3 API takes them.

``MailSend`` is the body of ``POST /v3/mail/send`` (the fields of SendGrid's published
description the fake reads or accepts); ``MessageQuery`` the query of the Email Activity list.
The API reference and the OpenAPI description document them; the handlers read the body
through them. Fields SendGrid accepts that the fake does not model (attachments, tracking
settings, ``asm``…) are accepted and ignored, as a delivery detail no invariant reads.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from chaoskit.fakes.jsonapi import Fields

__all__ = ["Address", "Content", "MailSend", "MessageQuery", "Personalization"]


class Address(Fields):
    email: str = Field(description="An email address.")
    name: str | None = Field(None, description="A display name.")


class Personalization(Fields):
    """One message of the send: its recipients, and what differs for them."""

    to: list[Address] = Field(description="At least one recipient.")
    cc: list[Address] | None = Field(None, description="Copied recipients (up to 1000).")
    bcc: list[Address] | None = Field(None, description="Blind-copied recipients (up to 1000).")
    subject: str | None = Field(None, description="This message's subject (overrides subject).")
    from_: Address | None = Field(None, alias="from", description="This message's sender.")
    headers: dict[str, str] | None = None
    substitutions: dict[str, str] | None = None
    dynamic_template_data: dict[str, Any] | None = Field(
        None, description="The values of the dynamic template (template_id d-…)."
    )
    custom_args: dict[str, str] | None = Field(None, description="Your own key-value pairs.")
    send_at: int | None = Field(None, description="A Unix time to send at.")


class Content(Fields):
    type: str = Field(description="A MIME type: text/plain or text/html first.")
    value: str = Field(description="The content, at least one character.")


class _Enable(Fields):
    enable: bool | None = None


class MailSettings(Fields):
    sandbox_mode: _Enable | None = Field(
        None, description="enable: true validates the send and delivers nothing (200)."
    )
    bypass_list_management: _Enable | None = None
    footer: dict[str, Any] | None = None


class MailSend(Fields):
    """The body of a Mail Send: personalizations and from are required."""

    personalizations: list[Personalization] = Field(
        description="1 to 1000 messages; at most 1000 recipients in all."
    )
    from_: Address = Field(alias="from", description="The sender: {email, name}.")
    reply_to: Address | None = None
    reply_to_list: list[Address] | None = None
    subject: str | None = Field(
        None, description="Required unless every personalization or the template has one."
    )
    content: list[Content] | None = Field(
        None, description="Required unless template_id is given: [{type, value}]."
    )
    attachments: list[dict[str, Any]] | None = None
    template_id: str | None = Field(None, description="A dynamic template id (d- and 32 hex).")
    headers: dict[str, str] | None = None
    categories: list[str] | None = Field(None, description="Up to 10, each unique.")
    custom_args: dict[str, str] | None = Field(None, description="Your own key-value pairs.")
    send_at: int | None = None
    batch_id: str | None = None
    asm: dict[str, Any] | None = None
    ip_pool_name: str | None = None
    mail_settings: MailSettings | None = None
    tracking_settings: dict[str, Any] | None = None


class MessageQuery(Fields):
    query: str | None = Field(
        None,
        description='Email Activity query: to_email="a@b.test", msg_id="…", subject, '
        "from_email, status, template_id, api_key_id, LIKE, IN, Contains(categories, …), "
        "AND, OR, NOT, parentheses.",
    )
    limit: int | None = Field(None, ge=1, le=1000, description="1 to 1000 (10).")
