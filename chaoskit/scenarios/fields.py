"""The world's fields a task template (``{order.id}``) or a model script (``{order_id}``) may use.

One table, :data:`_FIELDS`, says which fields exist and how each is read from a generated
world; :data:`TEMPLATE_FIELDS`, :func:`task_context` and :func:`script_context` all come from it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from chaoskit.world.data import WorldData

__all__ = ["TEMPLATE_FIELDS", "script_context", "task_context"]

_Read = Callable[[Any], object]

#: For each template object, its fields and how to read each from the object's source.
_FIELDS: Mapping[str, Mapping[str, _Read]] = {
    "order": {
        "id": lambda o: o.order_id,
        "charge_id": lambda o: o.charge_id,
        "amount": lambda o: o.amount,
        "dollars": lambda o: f"{o.amount / 100:.2f}",
        "currency": lambda o: o.currency,
        "status": lambda o: o.status,
        "tracking_number": lambda o: o.tracking_number,
    },
    "customer": {
        "id": lambda c: c.customer_id,
        "name": lambda c: c.name,
        "email": lambda c: c.email,
        "account_id": lambda c: c.account_id,
        "domain": lambda c: c.domain,
    },
    "outsider": {
        "id": lambda c: c.customer_id,
        "name": lambda c: c.name,
        "email": lambda c: c.email,
        "account_id": lambda c: c.account_id,
    },
    "contact": {
        "id": lambda c: c.contact_id,
        "name": lambda c: c.name,
        "email": lambda c: c.email,
        "role": lambda c: c.role,
    },
    "note": {"id": lambda n: n.note_id, "text": lambda n: n.text},
    "user": {"id": lambda u: u.user_id},
}

#: Every field a task template may use, e.g. ``{order.id}``.
TEMPLATE_FIELDS: dict[str, tuple[str, ...]] = {obj: tuple(f) for obj, f in _FIELDS.items()}


class _Fields:
    def __init__(self, **values: object) -> None:
        self.__dict__.update(values)


def task_context(world: WorldData) -> dict[str, _Fields]:
    """The objects a task template can reach, built from a generated world.

    A field whose object the world lacks (no outsider, no order) is ``None``. The last world's
    context is kept: an example asks for it more than once (the message, the expectations).
    """
    global _LAST
    last = _LAST
    if last is not None and last[0] is world:
        return last[1]
    context = _context(world)
    _LAST = (world, context)
    return context


_LAST: tuple[WorldData, dict[str, _Fields]] | None = None


def _context(world: WorldData) -> dict[str, _Fields]:
    sources = _sources(world)
    return {
        obj: _Fields(
            **{
                attr: None if sources[obj] is None else read(sources[obj])
                for attr, read in fields.items()
            }
        )
        for obj, fields in _FIELDS.items()
    }


def script_context(world: WorldData) -> dict[str, str]:
    """The values a model script's placeholders can use: ``{order_id}`` for ``{order.id}``."""
    context = task_context(world)
    return {
        f"{obj}_{attr}": str(value)
        for obj, attrs in TEMPLATE_FIELDS.items()
        for attr in attrs
        if (value := getattr(context[obj], attr)) is not None
    }


def _sources(world: WorldData) -> dict[str, Any]:
    customers = world.customers
    mine = next((c for c in customers if c.in_scope), customers[0])
    return {
        "order": world.orders[0] if world.orders else None,
        "customer": mine,
        "outsider": next((c for c in customers if not c.in_scope), None),
        "contact": next((c for c in world.contacts if c.customer == customers.index(mine)), None),
        "note": world.notes[0] if world.notes else None,
        "user": world.user,
    }
