"""SendGrid's Email Activity: one row per recipient of every delivered send, and its queries.

A row is what ``GET /v3/messages`` lists (``from_email``, ``msg_id``, ``subject``,
``to_email``, ``status``, counts, ``last_event_time``) and ``GET /v3/messages/{msg_id}``
details (template, key id, categories, custom args as ``unique_args``, events). A query is
SendGrid's query language: ``field="value"`` with ``=``, ``!=``, ``LIKE "%…%"``,
``NOT LIKE``, ``IN ("a", "b")``, ``Contains(categories, "x")``, joined with ``AND``/``OR``,
negated with ``NOT`` and grouped with parentheses.

>>> matches(parse('to_email="ap@acme.test" AND subject LIKE "%refund%"'),
...         {"to_email": "ap@acme.test", "subject": "Your refund"})
True
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from chaoskit.fakes.sendgrid.wire import Problem, Rejected

__all__ = ["FIELDS", "Query", "matches", "parse"]

#: The fields a query may name (SendGrid has more; these are the ones the fake records).
FIELDS = (
    "msg_id",
    "from_email",
    "subject",
    "to_email",
    "status",
    "template_id",
    "api_key_id",
    "categories",
    "unique_args",
)
_TOKEN = re.compile(
    r"""\s*(?:(?P<string>"[^"]*"|“[^”]*”)|(?P<op>!=|=|\(|\)|,)|(?P<word>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<number>-?\d+(?:\.\d+)?))""",
    re.VERBOSE,
)

#: A parsed query: a predicate over one activity row.
Query = Callable[[Mapping[str, Any]], bool]


def parse(text: str) -> Query:
    """The predicate ``text`` means, or SendGrid's 400 naming what could not be read."""
    parser = _Parser(_tokens(text))
    query = parser.expression()
    if not parser.done():
        raise _syntax(f"unexpected {parser.peek()!r}")
    return query


def matches(query: Query, row: Mapping[str, Any]) -> bool:
    """Whether ``row`` satisfies ``query``."""
    return query(row)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    at = 0
    text = text.rstrip()
    while at < len(text):
        m = _TOKEN.match(text, at)
        if m is None or m.end() == at:
            raise _syntax(f"cannot read {text[at:].strip()[:20]!r}")
        kind = m.lastgroup or ""
        value = m.group(kind)
        if kind == "string":
            value = value[1:-1]
        tokens.append(_Token(kind, value))
        at = m.end()
    return tokens


class _Parser:
    """Recursive descent: OR over AND over NOT over comparisons and parentheses."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.at = 0

    def done(self) -> bool:
        return self.at >= len(self.tokens)

    def peek(self) -> str:
        return self.tokens[self.at].text if not self.done() else "end of query"

    def word(self, *words: str) -> bool:
        token = None if self.done() else self.tokens[self.at]
        if token is not None and token.kind == "word" and token.text.upper() in words:
            self.at += 1
            return True
        return False

    def op(self, symbol: str) -> bool:
        if not self.done() and self.tokens[self.at] == _Token("op", symbol):
            self.at += 1
            return True
        return False

    def expect(self, symbol: str) -> None:
        if not self.op(symbol):
            raise _syntax(f"expected {symbol!r}, found {self.peek()!r}")

    def take(self, kind: str, what: str) -> str:
        if self.done() or self.tokens[self.at].kind != kind:
            raise _syntax(f"expected {what}, found {self.peek()!r}")
        self.at += 1
        return self.tokens[self.at - 1].text

    def expression(self) -> Query:
        left = self.conjunction()
        while self.word("OR"):
            right = self.conjunction()
            left = _either(left, right)
        return left

    def conjunction(self) -> Query:
        left = self.negation()
        while self.word("AND"):
            right = self.negation()
            left = _both(left, right)
        return left

    def negation(self) -> Query:
        if self.word("NOT"):
            inner = self.negation()
            return lambda row: not inner(row)
        if self.op("("):
            inner = self.expression()
            self.expect(")")
            return inner
        return self.comparison()

    def comparison(self) -> Query:
        if self.word("CONTAINS"):
            self.expect("(")
            name = _field(self.take("word", "a field name"))
            self.expect(",")
            value = self.value()
            self.expect(")")
            return lambda row: _contains(row.get(name), value)
        name = _field(self.take("word", "a field name"))
        if self.op("="):
            value = self.value()
            return lambda row: _text(row.get(name)) == value
        if self.op("!="):
            value = self.value()
            return lambda row: _text(row.get(name)) != value
        negated = self.word("NOT")
        if self.word("LIKE"):
            pattern = _like(self.value())
            return lambda row: bool(pattern.match(_text(row.get(name)))) != negated
        if self.word("IN"):
            values = self.values()
            return lambda row: (_text(row.get(name)) in values) != negated
        raise _syntax(f"expected =, !=, LIKE or IN after {name}, found {self.peek()!r}")

    def value(self) -> str:
        if not self.done() and self.tokens[self.at].kind in ("string", "number"):
            self.at += 1
            return self.tokens[self.at - 1].text
        raise _syntax(f'expected a quoted value ("…"), found {self.peek()!r}')

    def values(self) -> set[str]:
        self.expect("(")
        found = {self.value()}
        while self.op(","):
            found.add(self.value())
        self.expect(")")
        return found


def _field(name: str) -> str:
    if name not in FIELDS:
        raise _syntax(f"'{name}' is not a known field (known: {', '.join(FIELDS)})")
    return name


def _either(left: Query, right: Query) -> Query:
    return lambda row: left(row) or right(row)


def _both(left: Query, right: Query) -> Query:
    return lambda row: left(row) and right(row)


def _like(pattern: str) -> re.Pattern[str]:
    parts = (re.escape(p) for p in pattern.split("%"))
    return re.compile("^" + ".*".join(parts) + "$", re.IGNORECASE | re.DOTALL)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _contains(value: Any, wanted: str) -> bool:
    """A list (categories) holds ``wanted``; a text (unique_args' JSON) contains it."""
    if isinstance(value, list):
        return wanted in (str(v) for v in value)
    return wanted in _text(value)


def _syntax(detail: str) -> Rejected:
    return Rejected(400, [Problem(f"invalid syntax: {detail}", "query")])
