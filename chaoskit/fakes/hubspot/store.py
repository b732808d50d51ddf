"""The records side of the hubspot fake: creating, finding, seeding and showing records.

:class:`_Records` is what :class:`~chaoskit.fakes.hubspot.HubSpot` stands on: numeric ids drawn
from the seed, the unique contact email, checked associations on create, the ledger entry of
each creation, and the seeding and reading helpers that world generators, tests and
invariants use. No route is declared here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from chaoskit.fakes.base import FakeBackend, FakeRequest
from chaoskit.fakes.hubspot.objects import (
    CONTACTS,
    NOTES,
    TYPES,
    HubSpotState,
    ObjectType,
    Record,
    association_type_ids,
    email_of,
    object_type,
    selected,
    written_properties,
)
from chaoskit.fakes.hubspot.wire import HubSpotError, iso, not_found, validation

_Assoc = tuple[str, str, int]  # to type, to id, type id
#: What each type's ``<type>.created`` ledger entry carries besides its associations.
_LEDGER_PROPERTIES: Final[Mapping[str, tuple[str, ...]]] = {
    "contacts": ("email", "firstname", "lastname", "phone", "company"),
    "companies": ("name", "domain"),
    "deals": ("dealname", "amount", "dealstage", "pipeline"),
    "notes": (),
}


class _Records(FakeBackend):
    """Records, their ids and associations, and the ledger entries of their creation."""

    state: HubSpotState

    def new_state(self) -> HubSpotState:
        return HubSpotState()

    # -- seeding and reading, for world generators, tests and invariants ---------------------

    def add_object(
        self,
        kind: str,
        properties: Mapping[str, str | None],
        *,
        associations: Sequence[tuple[str, str]] = (),
    ) -> str:
        """Add a pre-existing record (no ledger entry), associated with ``(type, id)`` pairs
        by HubSpot's default association types; returns its id."""
        with self.lock:
            target = object_type(kind)
            props = written_properties(target, dict(properties), creating=False)
            record = self._new_record(target, props)
            for to_kind, to_id in associations:
                to = object_type(to_kind)
                self._find(to, to_id)
                self.state.associate(
                    (target.name, record.id),
                    (to.name, to_id),
                    association_type_ids(target.name, to.name)[0],
                )
            return record.id

    def find(self, kind: str, object_id: str) -> dict[str, Any]:
        """A record as the API shows it, with every property it has."""
        with self.lock:
            target = object_type(kind)
            record = self._find(target, object_id, archived=None)
            return record_json(record, target, sorted(record.properties))

    def objects(self, kind: str) -> list[dict[str, Any]]:
        """Every live record of a type, oldest first, with every property it has."""
        with self.lock:
            target = object_type(kind)
            return [record_json(r, target, sorted(r.properties)) for r in self.state.live(target)]

    def seed_world(self, world: Mapping[str, Any]) -> None:
        """Mirror a generated world: each customer a company with its contacts, notes (on the
        company and its first contact) and orders as closed-won deals. No ledger entries."""
        with self.lock:
            for index, customer in enumerate(world.get("customers", ())):
                self._seed_customer(index, customer, world)

    def _seed_customer(
        self, index: int, customer: Mapping[str, Any], world: Mapping[str, Any]
    ) -> None:
        company = self.add_object(
            "companies", {"name": customer["name"], "domain": customer["domain"]}
        )
        people = [c for c in world.get("contacts", ()) if c["customer"] == index]
        contacts = []
        for person in people:
            first, _, last = str(person["name"]).partition(" ")
            contacts.append(
                self.add_object(
                    "contacts",
                    {
                        "email": person["email"],
                        "firstname": first,
                        "lastname": last,
                        "jobtitle": None,
                        "company": customer["name"],
                    },
                    associations=[("companies", company)],
                )
            )
        links = [("companies", company)] + [("contacts", c) for c in contacts[:1]]
        for note in (n for n in world.get("notes", ()) if n["customer"] == index):
            body = {"hs_note_body": note["text"], "hs_timestamp": iso(self._clock.time())}
            self.add_object("notes", body, associations=links)
        for n, order in enumerate(o for o in world.get("orders", ()) if o["customer"] == index):
            deal = {
                "dealname": f"{customer['name']} order #{n + 1}",
                "amount": f"{order['amount'] / 100:.2f}",
                "dealstage": "closedwon",
                "pipeline": "default",
                "deal_currency_code": str(order["currency"]).upper(),
            }
            self.add_object("deals", deal, associations=links)

    # -- records ---------------------------------------------------------------------------

    def _new_record(self, kind: ObjectType, props: Mapping[str, str | None]) -> Record:
        object_id = self._new_object_id()
        now = self._clock.time()
        stamp = iso(now)
        values: dict[str, str | None] = {k: v for k, v in props.items() if v is not None}
        values |= {kind.created: stamp, kind.modified: stamp, "hs_object_id": object_id}
        record = Record(object_id, kind.name, values, now, now)
        self.state.records[kind.name][object_id] = record
        return record

    def _new_object_id(self) -> str:
        """A numeric id as HubSpot's are, drawn from the seed: same seed, same ids."""
        n = self._counters.get("object", 0)
        self._counters["object"] = n + 1
        digest = hashlib.blake2b(f"{self._seed}:{self.name}:{n}".encode(), digest_size=8)
        return str(10_000_000_000 + int.from_bytes(digest.digest(), "big") % 90_000_000_000)

    def _find(self, kind: ObjectType, object_id: str, *, archived: bool | None = False) -> Record:
        """A record by id; ``archived`` False: live only, True: archived only, None: either."""
        record = self.state.records[kind.name].get(object_id)
        if record is None or (archived is not None and record.archived is not archived):
            raise not_found(kind.singular, object_id)
        return record

    def _by_email(self, email: str) -> Record | None:
        wanted = email.lower()
        return next((r for r in self.state.live(CONTACTS) if email_of(r) == wanted), None)

    def _lookup(
        self, kind: ObjectType, key: str, id_property: str | None, archived: bool
    ) -> Record:
        if id_property in (None, "hs_object_id"):
            return self._find(kind, key, archived=archived)
        if kind is not CONTACTS or id_property != "email":
            raise validation(
                f"idProperty {id_property!r} is not a unique property of {kind.name}; the fake "
                "knows email (contacts) and hs_object_id.",
                where="idProperty",
            )
        found = self._by_email(key)
        if found is None:
            raise not_found(kind.singular, key)
        return found

    def _unique_email(self, email: str | None, *, besides: str | None = None) -> None:
        if not email:
            return
        existing = self._by_email(email)
        if existing is not None and existing.id != besides:
            raise HubSpotError(
                409, "CONFLICT", f"Contact already exists. Existing ID: {existing.id}"
            )

    def _association_inputs(self, kind: ObjectType, raw: object) -> list[_Assoc]:
        """The ``associations`` of a create, checked: known types, existing targets."""
        if raw is None:
            return []
        if not isinstance(raw, list):
            raise validation("associations must be a list.", where="associations")
        found: list[_Assoc] = []
        for item in raw:
            to_id = (
                str(((item or {}).get("to") or {}).get("id", "")) if isinstance(item, dict) else ""
            )
            types = item.get("types") if isinstance(item, dict) else None
            if not to_id or not isinstance(types, list) or not types:
                raise validation(
                    'Each association is {"to": {"id": "…"}, "types": [{"associationCategory": '
                    '"HUBSPOT_DEFINED", "associationTypeId": …}]}.',
                    where="associations",
                )
            for spec in types:
                found.append(self._association_target(kind, to_id, spec))
        return found

    def _association_target(self, kind: ObjectType, to_id: str, spec: object) -> _Assoc:
        type_id = spec.get("associationTypeId") if isinstance(spec, dict) else None
        for to in TYPES.values():
            if type_id in association_type_ids(kind.name, to.name):
                self._find(to, to_id)
                return (to.name, to_id, int(type_id))
        raise validation(
            f"associationTypeId {type_id!r} does not go from {kind.name} to any type the fake "
            f"serves. Defaults: {_defaults_from(kind)}.",
            where="associations",
        )

    def _create(
        self, req: FakeRequest, kind: ObjectType, props: dict[str, str | None], links: list[_Assoc]
    ) -> Record:
        record = self._new_record(kind, props)
        for to, to_id, type_id in links:
            self.state.associate((kind.name, record.id), (to, to_id), type_id)
        self.record(req, f"{kind.singular}.created", record.id, **_effect(kind, record, links, req))
        return record

    def _checked_input(
        self, kind: ObjectType, item: object
    ) -> tuple[dict[str, str | None], list[_Assoc]]:
        if not isinstance(item, dict):
            raise validation("Each input is an object with properties.", where="inputs")
        props = written_properties(kind, item.get("properties"), creating=True)
        if kind is CONTACTS:
            self._unique_email(props.get("email"))
        return props, self._association_inputs(kind, item.get("associations"))


def record_json(record: Record, kind: ObjectType, names: Iterable[str] | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": record.id,
        "properties": selected(record, kind, names),
        "createdAt": iso(record.created),
        "updatedAt": iso(record.updated),
        "archived": record.archived,
    }
    if record.archived_at is not None:
        body["archivedAt"] = iso(record.archived_at)
    return body


def _effect(
    kind: ObjectType, record: Record, links: list[_Assoc], req: FakeRequest
) -> dict[str, Any]:
    props = record.properties
    fields: dict[str, Any] = {p: props.get(p) for p in _LEDGER_PROPERTIES[kind.name]}
    if kind is NOTES:
        fields |= {"text": props.get("hs_note_body"), "author": req.principal}
    fields["associations"] = [f"{to}:{to_id}" for to, to_id, _ in links]
    return fields


def _defaults_from(kind: ObjectType) -> str:
    pairs = [(to.name, association_type_ids(kind.name, to.name)) for to in TYPES.values()]
    return ", ".join(f"{kind.singular}→{to} {ids[0]}" for to, ids in pairs if ids)
