"""Zendesk's search query language, as far as the fake understands it, and no further.

``GET /api/v2/search?query=…`` takes words and qualifiers: ``type:ticket`` or ``type:user``,
``status:open`` (and ``status<solved``, ``status>new``: statuses are ordered new, open,
pending, hold, solved, closed), ``priority:``, ``requester:`` (an email, a user id or ``me``),
``assignee:``, ``external_id:``, ``tags:`` (or ``tag:``), ``subject:``, ``description:``, and
for users ``email:``, ``name:``, ``role:``; ``"quoted phrases"``; ``-`` in front negates.
A bare word matches a ticket's subject, description and comments, or a user's name and email,
case-insensitively. Anything else (dates such as ``created>2024-01-01``, ``organization:``,
custom fields) is refused with a 400 that says so, rather than quietly matching nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final

from chaoskit.fakes.zendesk.records import STATUSES, Ticket, User, ZendeskState
from chaoskit.fakes.zendesk.wire import ZendeskError

__all__ = ["QUALIFIERS", "Query", "parse"]

_TICKET_QUALIFIERS: Final = (
    "status",
    "priority",
    "requester",
    "assignee",
    "external_id",
    "tags",
    "tag",
    "subject",
    "description",
    "ticket_type",
)
_USER_QUALIFIERS: Final = ("email", "name", "role", "external_id", "tags", "tag")
#: Every qualifier the fake's search understands (``type`` picks tickets or users).
QUALIFIERS: Final = tuple(dict.fromkeys(("type", *_TICKET_QUALIFIERS, *_USER_QUALIFIERS)))
_TERM = re.compile(r'(-?)(?:(\w+)([:<>]))?("[^"]*"|\S+)')


@dataclass(frozen=True, slots=True)
class _Term:
    negated: bool
    field: str | None
    op: str
    value: str

    def __str__(self) -> str:
        head = f"{self.field}{self.op}" if self.field else ""
        return f"{'-' if self.negated else ''}{head}{self.value}"


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed query: the result types it asks for and its terms."""

    types: tuple[str, ...]
    terms: tuple[_Term, ...]

    def tickets(
        self, state: ZendeskState, me: int | None, comments: Callable[[int], Iterable[str]]
    ) -> list[Ticket]:
        """The tickets every term matches."""
        if "ticket" not in self.types:
            return []
        found = []
        for ticket in state.tickets.values():
            texts = [ticket.subject, ticket.description, *comments(ticket.id)]
            if all(_ticket_term(t, ticket, state, me, texts) != t.negated for t in self.terms):
                found.append(ticket)
        return found

    def users(self, state: ZendeskState) -> list[User]:
        """The users every term matches."""
        if "user" not in self.types:
            return []
        return [
            user
            for user in state.users.values()
            if all(_user_term(t, user) != t.negated for t in self.terms)
        ]


def parse(query: str, filter_type: str | None = None) -> Query:
    """Parse ``query``; an unsupported qualifier or operator is a 400 naming what is."""
    terms: list[_Term] = []
    types: set[str] = set()
    for negated, name, op, raw in _TERM.findall(query):
        value = raw[1:-1] if raw.startswith('"') and raw.endswith('"') else raw
        term = _Term(bool(negated), name.lower() or None, op, value)
        if term.field == "type":
            types.add(_type(term))
            continue
        _check(term)
        terms.append(term)
    if filter_type is not None:  # zenpy's type=… sends filter[type] and type: alike
        types = {filter_type}
    chosen = tuple(sorted(types)) or ("ticket", "user")
    for term in terms:
        _check_applies(term, chosen)
    return Query(chosen, tuple(terms))


def _type(term: _Term) -> str:
    value = term.value.lower()
    if term.op != ":" or term.negated or value not in ("ticket", "user"):
        raise _unsupported(
            f"'{term}': the zendesk fake searches type:ticket and type:user (not organizations "
            "or groups), without negation"
        )
    return value


def _check(term: _Term) -> None:
    if term.field is None:
        return
    if term.field not in QUALIFIERS:
        raise _unsupported(
            f"the qualifier '{term.field}{term.op}' (in '{term}') is not one the zendesk fake "
            f"understands; it understands: {', '.join(q + ':' for q in QUALIFIERS)}"
        )
    if term.op != ":" and term.field != "status":
        raise _unsupported(f"'{term}': only status takes < and > here; use {term.field}:")
    if term.field == "status" and term.value.lower() not in STATUSES:
        raise _unsupported(f"'{term}': a status is one of {', '.join(STATUSES)}")


def _check_applies(term: _Term, types: tuple[str, ...]) -> None:
    if term.field is None:
        return
    if not any(term.field in _qualifiers(t) for t in types):
        raise _unsupported(
            f"'{term}' does not apply to {' or '.join(types)} results; add type:ticket or "
            "type:user to say which"
        )


def _qualifiers(result_type: str) -> tuple[str, ...]:
    return _TICKET_QUALIFIERS if result_type == "ticket" else _USER_QUALIFIERS


def _unsupported(why: str) -> ZendeskError:
    return ZendeskError(400, "InvalidSearch", f"chaoskit: {why}.")


def _contains(texts: Iterable[str | None], word: str) -> bool:
    needle = word.lower()
    return any(needle in (text or "").lower() for text in texts)


def _ticket_term(
    term: _Term, ticket: Ticket, state: ZendeskState, me: int | None, texts: list[str]
) -> bool:
    value = term.value.lower()
    match term.field:
        case None:
            return _contains(texts, value)
        case "status":
            return _compare_status(ticket.status, term.op, value)
        case "priority":
            return (ticket.priority or "") == value
        case "ticket_type":
            return (ticket.type or "") == value
        case "requester":
            return _is_user(ticket.requester_id, value, state, me)
        case "assignee":
            return ticket.assignee_id is not None and _is_user(ticket.assignee_id, value, state, me)
        case "external_id":
            return (ticket.external_id or "").lower() == value
        case "tags" | "tag":
            return value in (tag.lower() for tag in ticket.tags)
        case "subject":
            return _contains([ticket.subject], value)
        case "description":
            return _contains([ticket.description], value)
    return False


def _user_term(term: _Term, user: User) -> bool:
    value = term.value.lower()
    match term.field:
        case None:
            return _contains([user.name, user.email], value)
        case "email":
            return (user.email or "").lower() == value
        case "name":
            return _contains([user.name], value)
        case "role":
            return user.role == value
        case "external_id":
            return (user.external_id or "").lower() == value
        case "tags" | "tag":
            return value in (tag.lower() for tag in user.tags)
    return False


def _compare_status(status: str, op: str, value: str) -> bool:
    have, want = STATUSES.index(status), STATUSES.index(value)
    return have == want if op == ":" else have < want if op == "<" else have > want


def _is_user(user_id: int, value: str, state: ZendeskState, me: int | None) -> bool:
    if value == "me":
        return user_id == me
    if value.isdigit():
        return user_id == int(value)
    user = state.users.get(user_id)
    return user is not None and (user.email or "").lower() == value
