"""The CRM search: ``filterGroups`` (groups OR'd, filters AND'd), ``query``, ``sorts``, paging.

Operators as HubSpot's search honours them: string comparisons are case-insensitive, numbers
and dates compare as numbers (dates in epoch milliseconds), ``CONTAINS_TOKEN`` matches a word
(``*`` as a wildcard), and ``associations.<type>`` filters on associated records' ids.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from chaoskit.fakes.hubspot.objects import (
    HubSpotState,
    ObjectType,
    Record,
    comparable,
    object_type,
    tokens,
)
from chaoskit.fakes.hubspot.wire import validation

OPERATORS: Final = (
    "EQ",
    "NEQ",
    "LT",
    "LTE",
    "GT",
    "GTE",
    "BETWEEN",
    "IN",
    "NOT_IN",
    "HAS_PROPERTY",
    "NOT_HAS_PROPERTY",
    "CONTAINS_TOKEN",
    "NOT_CONTAINS_TOKEN",
)
MAX_GROUPS: Final = 5
MAX_FILTERS_PER_GROUP: Final = 6
MAX_FILTERS: Final = 18
MAX_LIMIT: Final = 200

_Test = Callable[[Record], bool]


def search(state: HubSpotState, kind: ObjectType, body: Mapping[str, Any]) -> list[Record]:
    """Every live record of ``kind`` the request's filters and query select, sorted."""
    tests = [_group(state, kind, g) for g in _groups(body.get("filterGroups"))]
    query = body.get("query")
    terms = tokens(query) if isinstance(query, str) else set()
    found = [
        r
        for r in state.live(kind)
        if (not tests or any(test(r) for test in tests)) and _matches_query(r, kind, terms)
    ]
    return _sorted(found, body.get("sorts"))


def page_bounds(body: Mapping[str, Any]) -> tuple[int, int]:
    """``after`` (an offset, as HubSpot's search cursors are) and ``limit`` (10, at most 200)."""
    limit = body.get("limit", 10)
    if limit is None:
        limit = 10
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 < limit <= MAX_LIMIT:
        raise validation(f"limit must be an integer from 1 to {MAX_LIMIT}, got {limit!r}.")
    after = body.get("after") or "0"
    if not str(after).isdigit():
        raise validation(f"after must be a paging cursor from paging.next.after, got {after!r}.")
    return int(after), limit


def _groups(raw: object) -> list[list[Mapping[str, Any]]]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(g, dict) for g in raw):
        raise validation("filterGroups must be a list of {filters: [...]} objects.")
    groups = [g.get("filters") or [] for g in raw]
    if len(groups) > MAX_GROUPS:
        raise validation(f"Too many filter groups: {len(groups)} (at most {MAX_GROUPS}).")
    if any(len(g) > MAX_FILTERS_PER_GROUP for g in groups):
        raise validation(f"Too many filters in a group (at most {MAX_FILTERS_PER_GROUP}).")
    if sum(len(g) for g in groups) > MAX_FILTERS:
        raise validation(f"Too many filters in all (at most {MAX_FILTERS}).")
    return groups


def _group(state: HubSpotState, kind: ObjectType, filters: Sequence[object]) -> _Test:
    tests = [_filter(state, kind, f) for f in filters]
    return lambda record: all(test(record) for test in tests)


def _filter(state: HubSpotState, kind: ObjectType, raw: object) -> _Test:
    if not isinstance(raw, dict) or not isinstance(raw.get("propertyName"), str):
        raise validation("Each filter needs a propertyName and an operator.")
    name, operator = raw["propertyName"], raw.get("operator", "EQ")
    if operator not in OPERATORS:
        raise validation(
            f"Unknown operator {operator!r}: use one of {', '.join(OPERATORS)}.",
            where="operator",
        )
    if name.startswith("associations."):
        return _associated(state, kind, name.partition(".")[2], operator, raw)
    test = _compare(operator, raw)
    return lambda record: test(record.properties.get(name))


def _associated(
    state: HubSpotState, kind: ObjectType, other: str, operator: str, raw: Mapping[str, Any]
) -> _Test:
    to = object_type(other)
    if operator not in ("EQ", "IN"):
        raise validation(f"associations.{other} takes EQ or IN, not {operator}.")
    wanted = {str(v) for v in _values(operator, raw)}
    return lambda r: bool(wanted & set(state.associated(kind.name, r.id, to.name)))


def _values(operator: str, raw: Mapping[str, Any]) -> list[Any]:
    if operator in ("IN", "NOT_IN"):
        values = raw.get("values")
        if not isinstance(values, list):
            raise validation(f"{operator} takes values: a list.", where="values")
        return values
    return [raw.get("value")]


def _compare(operator: str, raw: Mapping[str, Any]) -> Callable[[str | None], bool]:
    match operator:
        case "HAS_PROPERTY":
            return lambda v: v not in (None, "")
        case "NOT_HAS_PROPERTY":
            return lambda v: v in (None, "")
        case "CONTAINS_TOKEN" | "NOT_CONTAINS_TOKEN":
            pattern = str(raw.get("value", "")).casefold()
            positive = operator == "CONTAINS_TOKEN"
            return lambda v: _has_token(v, pattern) is positive
        case "IN" | "NOT_IN":
            wanted = {comparable(str(x)) for x in _values(operator, raw)}
            positive = operator == "IN"
            return lambda v: v is not None and (comparable(v) in wanted) is positive
        case "BETWEEN":
            low, high = comparable(_str(raw.get("value"))), comparable(_str(raw.get("highValue")))
            return lambda v: _ordered(low, comparable(v)) and _ordered(comparable(v), high)
        case _:
            return _relation(operator, comparable(_str(raw.get("value"))))


def _relation(operator: str, wanted: float | str | None) -> Callable[[str | None], bool]:
    def test(value: str | None) -> bool:
        have = comparable(value)
        if operator == "NEQ":
            return have != wanted
        if have is None or wanted is None:
            return False
        if operator == "EQ":
            return have == wanted
        if type(have) is not type(wanted):
            return False
        return {
            "LT": have < wanted,  # type: ignore[operator]
            "LTE": have <= wanted,  # type: ignore[operator]
            "GT": have > wanted,  # type: ignore[operator]
            "GTE": have >= wanted,  # type: ignore[operator]
        }[operator]

    return test


def _ordered(low: float | str | None, high: float | str | None) -> bool:
    if low is None or high is None or type(low) is not type(high):
        return False
    return low <= high  # type: ignore[operator]


def _str(value: object) -> str | None:
    return None if value is None else str(value)


def _has_token(value: str | None, pattern: str) -> bool:
    if not value:
        return False
    if "*" in pattern:
        return fnmatch.fnmatchcase(value.casefold(), pattern) or any(
            fnmatch.fnmatchcase(t, pattern) for t in tokens(value)
        )
    return pattern in tokens(value) or value.casefold() == pattern


def _matches_query(record: Record, kind: ObjectType, terms: set[str]) -> bool:
    if not terms:
        return True
    words: set[str] = set()
    for name in kind.searchable:
        words |= tokens(record.properties.get(name) or "")
    return all(any(w.startswith(t) for w in words) for t in terms)


def _sorted(records: list[Record], sorts: object) -> list[Record]:
    ordered = sorted(records, key=lambda r: (r.created, int(r.id)))
    if not sorts:
        return ordered
    if not isinstance(sorts, list):
        raise validation("sorts must be a list.")
    for spec in reversed(sorts):
        name, descending = _sort_spec(spec)
        present = [r for r in ordered if r.properties.get(name) is not None]
        absent = [r for r in ordered if r.properties.get(name) is None]
        present.sort(key=lambda r: _sort_key(r.properties.get(name)), reverse=descending)
        ordered = present + absent
    return ordered


def _sort_spec(spec: object) -> tuple[str, bool]:
    if isinstance(spec, str):
        return spec.lstrip("-"), spec.startswith("-")
    if isinstance(spec, dict) and isinstance(spec.get("propertyName"), str):
        return spec["propertyName"], str(spec.get("direction", "ASCENDING")) == "DESCENDING"
    raise validation('Each sort is "property", "-property" or {propertyName, direction}.')


def _sort_key(value: str | None) -> tuple[int, float, str]:
    have = comparable(value)
    if isinstance(have, float):
        return (0, have, "")
    return (1, 0.0, str(have))
