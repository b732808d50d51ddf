"""HubSpot's CRM objects: the four types the fake serves, their properties and associations.

A record is its id, its properties (strings, as HubSpot stores them), its timestamps and
whether it is archived. Associations are kept both ways with HubSpot's own type ids
(note→contact 202, contact→note 201…). Everything here is plain data, deep-copyable, so stale
reads can serve an older copy of it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from chaoskit.fakes.hubspot.wire import HubSpotError, invalid_properties, validation


@dataclass(frozen=True)
class ObjectType:
    """One CRM object type: its name in paths, its properties and its scope."""

    name: str
    singular: str
    type_id: str
    #: What a read returns when it names no ``properties``.
    defaults: tuple[str, ...]
    writable: frozenset[str]
    required: tuple[str, ...] = ()
    #: The object whose scopes cover this one (notes are read and written with contacts').
    scope: str = ""
    created: str = "createdate"
    modified: str = "lastmodifieddate"
    #: What ``query`` in a search looks in.
    searchable: tuple[str, ...] = ()

    @property
    def read_scope(self) -> str:
        return f"crm.objects.{self.scope or self.name}.read"

    @property
    def write_scope(self) -> str:
        return f"crm.objects.{self.scope or self.name}.write"

    @property
    def label(self) -> str:
        return self.singular.upper()


CONTACTS = ObjectType(
    name="contacts",
    singular="contact",
    type_id="0-1",
    defaults=("email", "firstname", "lastname"),
    writable=frozenset(
        {
            "email",
            "firstname",
            "lastname",
            "phone",
            "mobilephone",
            "company",
            "jobtitle",
            "website",
            "city",
            "country",
            "lifecyclestage",
            "hs_lead_status",
            "hubspot_owner_id",
        }
    ),
    searchable=("email", "firstname", "lastname", "phone", "company"),
)
COMPANIES = ObjectType(
    name="companies",
    singular="company",
    type_id="0-2",
    defaults=("domain", "name"),
    writable=frozenset(
        {
            "name",
            "domain",
            "phone",
            "website",
            "city",
            "country",
            "industry",
            "description",
            "numberofemployees",
            "lifecyclestage",
            "hubspot_owner_id",
        }
    ),
    modified="hs_lastmodifieddate",
    searchable=("name", "domain", "website", "phone"),
)
DEALS = ObjectType(
    name="deals",
    singular="deal",
    type_id="0-3",
    defaults=("amount", "closedate", "dealname", "dealstage", "pipeline"),
    writable=frozenset(
        {
            "dealname",
            "amount",
            "closedate",
            "dealstage",
            "pipeline",
            "dealtype",
            "description",
            "deal_currency_code",
            "hubspot_owner_id",
        }
    ),
    modified="hs_lastmodifieddate",
    searchable=("dealname",),
)
NOTES = ObjectType(
    name="notes",
    singular="note",
    type_id="0-46",
    defaults=("hs_note_body", "hs_timestamp"),
    writable=frozenset({"hs_note_body", "hs_timestamp", "hubspot_owner_id", "hs_attachment_ids"}),
    required=("hs_timestamp",),
    scope="contacts",
    created="hs_createdate",
    modified="hs_lastmodifieddate",
    searchable=("hs_note_body",),
)

#: The object types by the name their paths use.
TYPES: Final[Mapping[str, ObjectType]] = {t.name: t for t in (CONTACTS, COMPANIES, DEALS, NOTES)}
_BY_ANY_NAME: Final = {
    **{t.name: t for t in TYPES.values()},
    **{t.singular: t for t in TYPES.values()},
    **{t.type_id: t for t in TYPES.values()},
}

#: HubSpot's default (unlabelled) association type ids, from → to.
ASSOCIATION_TYPES: Final[Mapping[tuple[str, str], int]] = {
    ("contacts", "companies"): 279,
    ("companies", "contacts"): 280,
    ("deals", "contacts"): 3,
    ("contacts", "deals"): 4,
    ("deals", "companies"): 341,
    ("companies", "deals"): 342,
    ("notes", "contacts"): 202,
    ("contacts", "notes"): 201,
    ("notes", "companies"): 190,
    ("companies", "notes"): 189,
    ("notes", "deals"): 214,
    ("deals", "notes"): 213,
}
#: The primary company of a contact or deal: another type id for the same pair.
_PRIMARY: Final[Mapping[tuple[str, str], int]] = {
    ("contacts", "companies"): 1,
    ("companies", "contacts"): 2,
    ("deals", "companies"): 5,
    ("companies", "deals"): 6,
}
_READ_ONLY: Final = frozenset(
    {"hs_object_id", "createdate", "lastmodifieddate", "hs_createdate", "hs_lastmodifieddate"}
)
_EMAIL: Final = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def object_type(name: str) -> ObjectType:
    """The type a path or an association names (``contacts``, ``contact`` or ``0-1``)."""
    found = _BY_ANY_NAME.get(name.lower())
    if found is None:
        raise HubSpotError(
            400,
            "VALIDATION_ERROR",
            f"Unable to infer object type from: {name}. The hubspot fake serves "
            f"{', '.join(TYPES)}.",
        )
    return found


def association_type_ids(from_type: str, to_type: str) -> tuple[int, ...]:
    """The type ids HubSpot defines between two object types (default first)."""
    pair = (from_type, to_type)
    default = ASSOCIATION_TYPES.get(pair)
    if default is None:
        return ()
    primary = _PRIMARY.get(pair)
    return (default,) if primary is None else (default, primary)


@dataclass(slots=True)
class Record:
    """One CRM object as HubSpot stores it."""

    id: str
    type: str
    properties: dict[str, str | None]
    created: float
    updated: float
    archived_at: float | None = None

    @property
    def archived(self) -> bool:
        return self.archived_at is not None


@dataclass(slots=True)
class HubSpotState:
    """Every record by type and id, and the associations between them (both ways)."""

    records: dict[str, dict[str, Record]] = field(
        default_factory=lambda: {name: {} for name in TYPES}
    )
    #: (from type, from id, to type) → {to id: type ids}
    associations: dict[tuple[str, str, str], dict[str, set[int]]] = field(default_factory=dict)

    def live(self, kind: ObjectType) -> Iterator[Record]:
        return (r for r in self.records[kind.name].values() if not r.archived)

    def associate(self, a: tuple[str, str], b: tuple[str, str], type_id: int) -> None:
        """Associate ``a`` with ``b``; the inverse type is recorded from ``b`` to ``a``."""
        inverse = _inverse(a[0], b[0], type_id)
        self.associations.setdefault((a[0], a[1], b[0]), {}).setdefault(b[1], set()).add(type_id)
        self.associations.setdefault((b[0], b[1], a[0]), {}).setdefault(a[1], set()).add(inverse)

    def dissociate(self, a: tuple[str, str], b: tuple[str, str]) -> bool:
        """Remove every association between ``a`` and ``b``; whether there was one."""
        there = self.associations.get((a[0], a[1], b[0]), {}).pop(b[1], None)
        self.associations.get((b[0], b[1], a[0]), {}).pop(a[1], None)
        return there is not None

    def associated(self, kind: str, object_id: str, to: str) -> dict[str, set[int]]:
        """The ids of ``to`` objects associated with one object, and their type ids."""
        found = self.associations.get((kind, object_id, to), {})
        live = self.records[to]
        return {i: t for i, t in sorted(found.items()) if i in live and not live[i].archived}


def _inverse(from_type: str, to_type: str, type_id: int) -> int:
    if _PRIMARY.get((from_type, to_type)) == type_id:
        return _PRIMARY[(to_type, from_type)]
    return ASSOCIATION_TYPES[(to_type, from_type)]


# -- properties ------------------------------------------------------------------------------


def written_properties(kind: ObjectType, raw: object, *, creating: bool) -> dict[str, str | None]:
    """The ``properties`` of a create or update, validated as HubSpot validates them."""
    if not isinstance(raw, dict):
        raise validation("properties must be an object of property names to values.")
    problems: list[tuple[str, str, str]] = []
    values: dict[str, str | None] = {}
    for name, value in raw.items():
        if name in _READ_ONLY:
            problems.append((name, "READ_ONLY_VALUE", f'"{name}" is a read only property.'))
        elif name not in kind.writable:
            problems.append((name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist'))
        else:
            values[name] = _string(value)
    if creating:
        for name in kind.required:
            if not values.get(name):
                problems.append((name, "REQUIRED_PROPERTY", f'"{name}" is required'))
    email = values.get("email")
    if email and not _EMAIL.match(email):
        problems.append(("email", "INVALID_EMAIL", f"Email address {email} is invalid"))
    if problems:
        raise invalid_properties(problems)
    return values


def _string(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def selected(record: Record, kind: ObjectType, names: Iterable[str] | None) -> dict[str, Any]:
    """A record's properties as a read returns them: the asked ones, or the type's defaults,
    always with its id and timestamps. Asked names the type lacks are left out."""
    wanted = list(names) if names else list(kind.defaults)
    shown: dict[str, Any] = {}
    for name in wanted:
        if name in kind.writable or name in _READ_ONLY:
            shown[name] = record.properties.get(name)
    for name in (kind.created, kind.modified, "hs_object_id"):
        shown[name] = record.properties.get(name)
    return dict(sorted(shown.items()))


def email_of(record: Record) -> str | None:
    email = record.properties.get("email")
    return email.lower() if email else None


def comparable(value: str | None) -> float | str | None:
    """A property value as search compares it: numbers and dates as numbers (dates in epoch
    milliseconds), anything else case-folded."""
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value.casefold()
    return moment.timestamp() * 1000


def tokens(value: str) -> set[str]:
    """The tokens CONTAINS_TOKEN and ``query`` match: words, and whole e-mail parts."""
    words = {w for w in re.split(r"[^\w@.+-]+", value.casefold()) if w}
    for word in list(words):
        words.update(p for p in re.split(r"[@.+-]", word) if p)
    return words
