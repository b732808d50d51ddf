"""Stripe's reading rules, as the payments fake applies them: ``expand`` and the list cursors.

``expand`` names fields to replace by the objects their ids name (``latest_charge`` on a
payment intent, ``data.charge`` on a list of refunds, ``customer.…`` up to four levels deep);
an unknown path is refused before anything runs, with Stripe's wording. Lists are newest
first, paged by ``starting_after`` (older) or ``ending_before`` (newer) and filtered by
``created`` (an exact Unix time, or ``created[gt|gte|lt|lte]``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from chaoskit.fakes.payments.wire import _Invalid

#: Each object's expandable fields (stripe-python's ``ExpandableField`` annotations) and the
#: kind each names: ``None`` when the fake does not model that kind of object.
EXPANDABLE: Final[Mapping[str, Mapping[str, str | None]]] = {
    "customer": {"default_source": None, "test_clock": None},
    "charge": {
        "application": None,
        "application_fee": None,
        "balance_transaction": None,
        "customer": "customer",
        "failure_balance_transaction": None,
        "on_behalf_of": None,
        "payment_intent": "payment_intent",
        "review": None,
        "source_transfer": None,
        "transfer": None,
    },
    "payment_intent": {
        "application": None,
        "customer": "customer",
        "latest_charge": "charge",
        "on_behalf_of": None,
        "payment_method": None,
        "review": None,
        "source": None,
    },
    "refund": {
        "balance_transaction": None,
        "charge": "charge",
        "customer": "customer",
        "payment_intent": "payment_intent",
        "payment_method": None,
        "source_transfer_reversal": None,
        "transfer_reversal": None,
    },
}
#: List objects embedded in an object (``charge.refunds``): their items expand under
#: ``<field>.data.…``, and the field itself may be named (it is always included).
EMBEDDED_LISTS: Final[Mapping[str, Mapping[str, str]]] = {"charge": {"refunds": "refund"}}
#: Stripe refuses deeper paths (``data.`` counts as a level).
MAX_DEPTH: Final = 4
_CREATED_OPS: Final = ("gt", "gte", "lt", "lte")
_UNMODELLED_EXPAND = (
    "chaoskit: the payments fake does not model {kind} objects, so it cannot expand "
    "'{path}'; leave it out of expand, or subclass Payments to model it "
    "(see fakes/payments/reading.py)."
)


def check_expand(kind: str, paths: Iterable[str], *, listing: bool) -> None:
    """Refuse, as Stripe does, any path that does not name an expandable field of ``kind``."""
    for path in paths:
        parts = path.split(".")
        if len(parts) > MAX_DEPTH:
            raise _Invalid("You cannot expand more than 4 levels of a property.", param="expand")
        if listing:
            if parts[0] != "data" or len(parts) == 1:
                raise _Invalid(
                    f"This property cannot be expanded ({parts[0]}). You may want to try "
                    f"expanding 'data.{path}' instead.",
                    param="expand",
                )
            parts = parts[1:]
        _check_parts(kind, parts, path)


def _check_parts(kind: str, parts: list[str], path: str) -> None:
    head, rest = parts[0], parts[1:]
    fields = EXPANDABLE.get(kind, {})
    if head in fields:
        target = fields[head]
        if target is None:
            raise _Invalid(_UNMODELLED_EXPAND.format(kind=head, path=path), param="expand")
        if rest:
            _check_parts(target, rest, path)
        return
    lists = EMBEDDED_LISTS.get(kind, {})
    if head in lists and (not rest or (rest[0] == "data" and len(rest) > 1)):
        if rest:
            _check_parts(lists[head], rest[1:], path)
        return
    raise _Invalid(f"This property cannot be expanded ({head}).", param="expand")


@dataclass(frozen=True, slots=True)
class Created:
    """A ``created`` filter: an exact Unix time (``eq``) or bounds (``gt``, ``gte``, ``lt``,
    ``lte``), all of which an object's ``created`` must meet."""

    bounds: tuple[tuple[str, int], ...] = ()

    def admits(self, created: int) -> bool:
        return all(_compare(created, op, value) for op, value in self.bounds)


def _compare(created: int, op: str, value: int) -> bool:
    if op == "gt":
        return created > value
    if op == "gte":
        return created >= value
    if op == "lt":
        return created < value
    if op == "lte":
        return created <= value
    return created == value  # "eq": created=<int>


def created_filter(value: Any) -> Created:
    """``created=<int>`` or ``created[gt|gte|lt|lte]=<int>``, checked as Stripe checks them."""
    if value is None or value == "":
        return Created()
    if isinstance(value, str):
        return Created((("eq", _unix_time(value, "created")),))
    if not isinstance(value, dict):
        raise _Invalid("Invalid created: must be an integer or a hash.", param="created")
    bounds = []
    for op, raw in value.items():
        if op not in _CREATED_OPS:
            raise _Invalid(
                f"Received unknown parameter: created[{op}]",
                code="parameter_unknown",
                param=f"created[{op}]",
            )
        bounds.append((str(op), _unix_time(raw, f"created[{op}]")))
    return Created(tuple(bounds))


def _unix_time(raw: Any, param: str) -> int:
    if not isinstance(raw, str) or not re.fullmatch(r"-?\d+", raw):
        raise _Invalid(f"Invalid integer: {raw}", code="parameter_invalid_integer", param=param)
    return int(raw)


def page_window(
    rows: Sequence[object], *, after: int | None, before: int | None, limit: int
) -> tuple[int, int, bool]:
    """The slice of a newest-first list a page shows, and whether more lie beyond it.

    ``after``/``before`` are the cursor's index in ``rows`` (``len(rows)`` when the cursor is
    not in this filtered list: nothing follows or precedes it here). Moving forward,
    ``has_more`` says older objects remain; moving back (``ending_before``), newer ones.
    """
    if before is not None:
        start = max(before - limit, 0)
        return start, before, start > 0
    start = 0 if after is None else after + 1
    end = min(start + limit, len(rows))
    return start, end, end < len(rows)
