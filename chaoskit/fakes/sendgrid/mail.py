"""A Mail Send body read with SendGrid's rules: every problem found, or the messages to send.

:func:`read_mail` checks what SendGrid checks before it accepts a send (a sender, 1 to 1000
personalizations each with a ``to``, valid and unique addresses, at most 1000 recipients in
all, a subject and content unless a template provides them, at most 10 categories…) and
collects every problem, as SendGrid lists them all in one 400. What passes becomes a
:class:`Mail`: one :class:`Envelope` per personalization, with its recipients and subject.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from chaoskit.fakes.sendgrid.wire import Problem, Rejected, invalid, is_address

__all__ = ["MAX_RECIPIENTS", "Envelope", "Mail", "read_mail"]

#: SendGrid's limits on one send: personalizations, recipients in all, categories.
MAX_PERSONALIZATIONS = 1000
MAX_RECIPIENTS = 1000
MAX_CATEGORIES = 10
_KINDS = ("to", "cc", "bcc")
_TEMPLATE_ID = re.compile(
    r"^(d-[0-9a-fA-F]{32}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$"
)


@dataclass(frozen=True)
class Envelope:
    """One personalization: who receives it (lower-cased addresses) and its subject."""

    to: tuple[str, ...]
    cc: tuple[str, ...]
    bcc: tuple[str, ...]
    subject: str
    sender: str
    dynamic_template_data: dict[str, Any]
    custom_args: dict[str, str]

    @property
    def recipients(self) -> tuple[str, ...]:
        return (*self.to, *self.cc, *self.bcc)


@dataclass(frozen=True)
class Mail:
    """A send that passed validation."""

    sender: str
    envelopes: tuple[Envelope, ...]
    body: str
    template_id: str | None
    categories: tuple[str, ...]
    sandbox: bool
    reply_to: str | None = None
    custom_args: dict[str, str] = field(default_factory=dict)


def read_mail(body: Mapping[str, Any]) -> Mail:
    """The send ``body`` asks for, or :class:`Rejected` (400) listing every problem in it."""
    problems: list[Problem] = []
    sender = _sender(body.get("from"), "from", problems)
    reply_to = _reply_to(body.get("reply_to"), problems)
    template_id = _template_id(body.get("template_id"), problems)
    subject = body.get("subject") if isinstance(body.get("subject"), str) else None
    envelopes = _envelopes(body.get("personalizations"), sender, subject or "", problems)
    if template_id is None:
        _require_subject(subject, body.get("personalizations"), problems)
    text = _content(body.get("content"), template_id, problems)
    categories = _categories(body.get("categories"), problems)
    custom_args = _custom_args(body.get("custom_args"), "custom_args", problems)
    sandbox = _sandbox(body.get("mail_settings"), problems)
    if problems:
        raise Rejected(400, problems)
    return Mail(
        sender=sender or "",
        envelopes=envelopes,
        body=text,
        template_id=template_id,
        categories=categories,
        sandbox=sandbox,
        reply_to=reply_to,
        custom_args=custom_args,
    )


def _sender(value: Any, where: str, problems: list[Problem]) -> str | None:
    email = value.get("email") if isinstance(value, dict) else None
    if email is None:
        problems.append(
            invalid(
                f"The {where} object must be provided for every email send. It is an object "
                "that requires the email parameter, but may also contain a name parameter. "
                'e.g. {"email" : "example@example.com"}  or {"email" : "example@example.com", '
                '"name" : "Example Recipient"}.',
                f"{where}.email",
                where,
            )
        )
        return None
    if not is_address(email):
        problems.append(
            invalid(f"The {where} email does not contain a valid address.", f"{where}.email", where)
        )
        return None
    return str(email).lower()


def _reply_to(value: Any, problems: list[Problem]) -> str | None:
    if value is None:
        return None
    email = value.get("email") if isinstance(value, dict) else None
    if not is_address(email):
        problems.append(
            invalid(
                "The reply_to email does not contain a valid address.",
                "reply_to.email",
                "reply_to",
            )
        )
        return None
    return str(email).lower()


def _template_id(value: Any, problems: list[Problem]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _TEMPLATE_ID.match(value):
        problems.append(
            invalid(
                f"The template_id must be a valid GUID, you provided '{value}'.",
                "template_id",
                "template_id",
            )
        )
        return None
    return value


def _envelopes(
    value: Any, sender: str | None, subject: str, problems: list[Problem]
) -> tuple[Envelope, ...]:
    if not isinstance(value, list) or not value:
        problems.append(
            invalid(
                "The personalizations field is required and must have at least one "
                "personalization.",
                "personalizations",
                "personalizations",
            )
        )
        return ()
    if len(value) > MAX_PERSONALIZATIONS:
        problems.append(
            invalid(
                f"The personalization block is limited to {MAX_PERSONALIZATIONS} "
                f"personalizations per API request. You have provided {len(value)} "
                "personalizations. Please consider splitting this into multiple requests and "
                "resending your request.",
                "personalizations",
                "personalizations",
            )
        )
        return ()
    envelopes = [
        _envelope(i, item, sender or "", subject, problems) for i, item in enumerate(value)
    ]
    if sum(len(e.recipients) for e in envelopes) > MAX_RECIPIENTS:
        problems.append(
            invalid(
                f"There is a limit of {MAX_RECIPIENTS} total recipients (to + cc + bcc) per "
                "request.",
                "personalizations",
                "personalizations",
            )
        )
    return tuple(envelopes)


def _envelope(
    index: int, item: Any, sender: str, subject: str, problems: list[Problem]
) -> Envelope:
    where = f"personalizations.{index}"
    item = item if isinstance(item, dict) else {}
    if not isinstance(item.get("to"), list) or not item["to"]:
        problems.append(
            invalid(
                "The to array is required for all personalization objects, and must have at "
                "least one email object with a valid email address.",
                f"{where}.to",
                "personalizations.to",
            )
        )
    found: dict[str, tuple[str, ...]] = {}
    seen: set[str] = set()
    duplicate = False
    for kind in _KINDS:
        found[kind] = _addresses(item.get(kind), f"{where}.{kind}", problems)
        for address in found[kind]:
            if address in seen and not duplicate:
                duplicate = True
                problems.append(
                    invalid(
                        "Each email address in the personalization block should be unique "
                        "between to, cc, and bcc. We found the first duplicate instance of "
                        f"[{address}] in the {where}.{kind} field.",
                        where,
                        "personalizations",
                    )
                )
            seen.add(address)
    own_from = item.get("from")
    if own_from is not None:
        sender = _sender(own_from, f"{where}.from", problems) or sender
    own_subject = item.get("subject")
    return Envelope(
        to=found["to"],
        cc=found["cc"],
        bcc=found["bcc"],
        subject=own_subject if isinstance(own_subject, str) and own_subject else subject,
        sender=sender,
        dynamic_template_data=_object(item.get("dynamic_template_data")),
        custom_args=_custom_args(item.get("custom_args"), f"{where}.custom_args", problems),
    )


def _addresses(value: Any, where: str, problems: list[Problem]) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        problems.append(invalid(f"The {where} field must be an array.", where, "personalizations"))
        return ()
    out: list[str] = []
    for j, entry in enumerate(value):
        email = entry.get("email") if isinstance(entry, dict) else None
        if not is_address(email):
            problems.append(
                invalid(
                    "Does not contain a valid address.", f"{where}.{j}.email", "personalizations"
                )
            )
            continue
        out.append(str(email).lower())
    return tuple(out)


def _require_subject(subject: str | None, personalizations: Any, problems: list[Problem]) -> None:
    if subject:
        return
    items = personalizations if isinstance(personalizations, list) else []
    if items and all(isinstance(p, dict) and p.get("subject") for p in items):
        return
    problems.append(
        invalid(
            "The subject is required. You can get around this requirement if you use a "
            "template with a subject defined or if every personalization has a subject "
            "defined.",
            "subject",
            "subject",
        )
    )


def _content(value: Any, template_id: str | None, problems: list[Problem]) -> str:
    """The text of the send (plain text first), checking each content block."""
    if value is None or value == []:
        if template_id is None:
            problems.append(
                invalid(
                    "Unless a valid template_id is provided, the content parameter is "
                    "required. There must be at least one defined content block. We typically "
                    "suggest both text/plain and text/html blocks are included, but only one "
                    "block is required.",
                    "content",
                    "content",
                )
            )
        return ""
    blocks = value if isinstance(value, list) else [value]
    texts: list[tuple[str, str]] = []
    for i, block in enumerate(blocks):
        block = block if isinstance(block, dict) else {}
        for key in ("type", "value"):
            if not isinstance(block.get(key), str) or not block[key]:
                problems.append(
                    invalid(
                        f"The content {key} must be a string at least one character in length.",
                        f"content.{i}.{key}",
                        "content",
                    )
                )
        if isinstance(block.get("value"), str):
            texts.append((str(block.get("type", "")), block["value"]))
    plain = [text for kind, text in texts if kind == "text/plain"]
    return (plain or [text for _, text in texts] or [""])[0]


def _categories(value: Any, problems: list[Problem]) -> tuple[str, ...]:
    if value is None:
        return ()
    names = [v for v in value if isinstance(v, str)] if isinstance(value, list) else []
    if not isinstance(value, list) or len(names) != len(value):
        problems.append(
            invalid("The categories must be an array of strings.", "categories", "categories")
        )
    elif len(value) > MAX_CATEGORIES:
        problems.append(
            invalid(
                f"Too many categories. You may have no more than {MAX_CATEGORIES} categories "
                "per request.",
                "categories",
                "categories",
            )
        )
    elif len(set(value)) != len(value):
        problems.append(invalid("The categories must be unique.", "categories", "categories"))
    return tuple(names)


def _custom_args(value: Any, where: str, problems: list[Problem]) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        problems.append(
            invalid(
                "The custom_args must be an object whose values are strings.", where, "custom_args"
            )
        )
        return {}
    return {str(k): v for k, v in value.items()}


def _sandbox(value: Any, problems: list[Problem]) -> bool:
    settings = value.get("sandbox_mode") if isinstance(value, dict) else None
    if settings is None:
        return False
    enable = settings.get("enable") if isinstance(settings, dict) else None
    if enable is not None and not isinstance(enable, bool):
        problems.append(
            invalid(
                "The sandbox_mode enable value must be a boolean.",
                "mail_settings.sandbox_mode.enable",
                "mail_settings",
            )
        )
        return False
    return bool(enable)


def _object(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}
