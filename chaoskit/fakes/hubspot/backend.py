"""The ``HubSpot`` backend: CRM v3 objects (contacts, companies, deals, notes) and v4
associations on ``api.hubapi.com``, as the official ``hubspot-api-client`` calls them.

The eight routes of each object type are installed by :func:`_install_object_routes` below
the class, one set per type, so ``chaoskit fakes hubspot`` and fault targets name real paths
(``hubspot: POST /crm/v3/objects/contacts``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar, Final

import httpx
from pydantic import Field, field_validator

from chaoskit.core.models import FrozenModel
from chaoskit.core.names import did_you_mean
from chaoskit.fakes.base import FakeBackend, FakeRequest, Route, declared, route
from chaoskit.fakes.hubspot import params
from chaoskit.fakes.hubspot.objects import (
    COMPANIES,
    CONTACTS,
    DEALS,
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
from chaoskit.fakes.hubspot.search import page_bounds, search
from chaoskit.fakes.hubspot.wire import (
    KNOWN_SCOPES,
    HubSpotError,
    RateLimitPolicy,
    correlation_id,
    iso,
    json_response,
    missing_scopes,
    not_found,
    private_app_token,
    rate_limited,
    server_error,
    unauthenticated,
    validation,
)

__all__ = ["HubSpot", "HubSpotOptions"]

_BATCH_MAX: Final = 100
_Assoc = tuple[str, str, int]  # to type, to id, type id
#: What each type's ``<type>.created`` ledger entry carries besides its associations.
_LEDGER_PROPERTIES: Final[Mapping[str, tuple[str, ...]]] = {
    "contacts": ("email", "firstname", "lastname", "phone", "company"),
    "companies": ("name", "domain"),
    "deals": ("dealname", "amount", "dealstage", "pipeline"),
    "notes": (),
}


class HubSpotOptions(FrozenModel):
    """A scenario's ``[hubspot]`` table: what the world's private-app tokens may do.

    .. code-block:: toml

        [hubspot]
        scopes = ["crm.objects.contacts.read"]     # a read-only app: writes get 403
        rate_limit_policy = "DAILY"                # what a 429 says it hit
    """

    scopes: tuple[str, ...] = KNOWN_SCOPES
    rate_limit_policy: RateLimitPolicy = "TEN_SECONDLY_ROLLING"

    @field_validator("scopes")
    @classmethod
    def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for scope in value:
            if scope not in KNOWN_SCOPES:
                raise ValueError(
                    f"unknown scope {scope!r}.{did_you_mean(scope, KNOWN_SCOPES)} "
                    f"Known: {', '.join(KNOWN_SCOPES)}"
                )
        return value


class _App(FrozenModel):
    principal: str
    scopes: frozenset[str] = Field(default_factory=frozenset)


class HubSpot(FakeBackend):
    """A fake HubSpot CRM: contacts, companies, deals, notes and their associations.

    Requests need a private-app token (``Authorization: Bearer pat-…``): the world hands
    each principal one (``task.credentials["hubspot"]``); without a world,
    :attr:`DEFAULT_TOKEN` works. A token lacking a route's scope gets HubSpot's 403
    ``MISSING_SCOPES``. Contacts' ``email`` is unique (a second create is 409 ``CONFLICT``);
    nothing else is, and there are no idempotency keys.

    >>> import hubspot
    >>> fake = HubSpot()
    >>> contact_id = fake.add_object("contacts", {"email": "ada@example.com"})
    >>> fake.find("contacts", contact_id)["properties"]["email"]
    'ada@example.com'
    """

    name = "hubspot"
    default_host = "api.hubapi.com"
    Options = HubSpotOptions
    #: The SDK reads no variable: an agent in server mode builds its client from these.
    sdk_environment: ClassVar[Mapping[str, str]] = {
        "HUBSPOT_API_BASE": "{url}",
        "HUBSPOT_ACCESS_TOKEN": "{credential}",
    }
    #: The token accepted, with every scope, while no world has registered its own.
    DEFAULT_TOKEN: Final = "pat-na1-chaoskit"
    state: HubSpotState

    def __init__(
        self,
        *,
        host: str | None = None,
        scopes: Iterable[str] = KNOWN_SCOPES,
        rate_limit_policy: RateLimitPolicy = "TEN_SECONDLY_ROLLING",
    ) -> None:
        options = HubSpotOptions(scopes=tuple(scopes), rate_limit_policy=rate_limit_policy)
        self.scopes = frozenset(options.scopes)
        self.rate_limit_policy: RateLimitPolicy = options.rate_limit_policy
        self._apps: dict[str, _App] = {}
        super().__init__(host=host)

    def new_state(self) -> HubSpotState:
        return HubSpotState()

    def apply_options(self, options: HubSpotOptions) -> None:
        self.scopes = frozenset(options.scopes)
        self.rate_limit_policy = options.rate_limit_policy

    def reset(self) -> None:
        with self.lock:
            super().reset()
            self._apps.clear()

    # -- tokens --------------------------------------------------------------------------------

    def credential(self, principal_token: str) -> str:
        """The private-app token acting for the principal whose token this is (without a
        principal, as in a bare world's server mode: :attr:`DEFAULT_TOKEN`)."""
        return private_app_token(principal_token) if principal_token else self.DEFAULT_TOKEN

    def add_token(self, token: str, principal: str) -> None:
        """Give ``principal`` a private-app token (:meth:`credential` of ``token``)."""
        self.add_private_app(private_app_token(token), principal)

    def add_private_app(
        self, token: str, principal: str, *, scopes: Iterable[str] | None = None
    ) -> None:
        """Accept ``token`` for ``principal`` with ``scopes`` (default: the options' scopes)."""
        granted = frozenset(self.scopes if scopes is None else scopes)
        with self.lock:
            self._apps[token] = _App(principal=principal, scopes=granted)

    def authenticate(self, req: FakeRequest) -> httpx.Response | None:
        app = self._app(req)
        if app is None:
            return self._answer(req, unauthenticated())
        req.principal = app.principal
        return None

    def _app(self, req: FakeRequest) -> _App | None:
        token = req.bearer()
        if token is None:
            return None
        app = self._apps.get(token)
        if app is None and token == self.DEFAULT_TOKEN and not self._apps:
            return _App(principal="private-app", scopes=self.scopes)
        return app

    def _require(self, req: FakeRequest, scope: str) -> None:
        app = self._app(req)
        if app is None or scope not in app.scopes:
            raise missing_scopes([scope])

    # -- HubSpot's answers -------------------------------------------------------------------

    def dispatch(self, req: FakeRequest, route: Route) -> httpx.Response:
        try:
            return super().dispatch(req, route)
        except HubSpotError as exc:
            return self._answer(req, exc)

    def _answer(self, req: FakeRequest, exc: HubSpotError) -> httpx.Response:
        return json_response(exc.status, exc.body(correlation_id(req.request_id)))

    def error(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        type: str | None = None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """An error in HubSpot's envelope (``status``, ``message``, ``correlationId``…)."""
        category = code or {401: "INVALID_AUTHENTICATION", 404: "OBJECT_NOT_FOUND"}.get(
            status, "VALIDATION_ERROR" if status < 500 else "INTERNAL_ERROR"
        )
        body = HubSpotError(status, category, message).body(correlation_id(self.new_request_id()))
        return json_response(status, body, headers=headers)

    def fault_response(self, status: int, *, retry_after: float | None = None) -> httpx.Response:
        """HubSpot's 429 (``policyName``, ``X-HubSpot-RateLimit-*``) or its 5xx envelope."""
        request_id = self.new_request_id()
        if status == 429:
            return rate_limited(request_id, self.rate_limit_policy, retry_after)
        return server_error(request_id, status)

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
            return _json(record, target, sorted(record.properties))

    def objects(self, kind: str) -> list[dict[str, Any]]:
        """Every live record of a type, oldest first, with every property it has."""
        with self.lock:
            target = object_type(kind)
            return [_json(r, target, sorted(r.properties)) for r in self.state.live(target)]

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

    def sample(self) -> dict[str, str]:
        """Acme with Ada (a contact), a note on her and a deal; ``tok_dana`` acts."""
        self.add_token("tok_dana", "usr_dana")
        company = self.add_object("companies", {"name": "Acme Corp", "domain": "acme.test"})
        contact = self.add_object(
            "contacts",
            {"email": "ada@acme.test", "firstname": "Ada", "lastname": "Park"},
            associations=[("companies", company)],
        )
        note = self.add_object(
            "notes",
            {"hs_note_body": "Ada prefers email.", "hs_timestamp": "2026-01-05T09:30:00.000Z"},
            associations=[("contacts", contact)],
        )
        deal = self.add_object(
            "deals",
            {"dealname": "Acme renewal", "amount": "4200.00", "dealstage": "closedwon"},
            associations=[("contacts", contact), ("companies", company)],
        )
        return {
            "token": "tok_dana",
            "contacts": contact,
            "companies": company,
            "notes": note,
            "deals": deal,
            "email": "ada@acme.test",
        }

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

    # -- the object routes (installed per type below the class) ------------------------------

    def _list_objects(self, req: FakeRequest, kind: ObjectType) -> httpx.Response:
        self._require(req, kind.read_scope)
        archived = _flag(req, "archived")
        limit = _int(req, "limit", 10, 100)
        records = sorted(
            (r for r in self.state.records[kind.name].values() if r.archived is archived),
            key=lambda r: int(r.id),
        )
        start = _int(req, "after", 0, None, default_zero=True)
        page = records[start : start + limit]
        body: dict[str, Any] = {"results": [self._read_json(req, kind, r) for r in page]}
        if start + limit < len(records):
            body["paging"] = _next(start + limit)
        return json_response(200, body)

    def _create_object(self, req: FakeRequest, kind: ObjectType) -> httpx.Response:
        self._require(req, kind.write_scope)
        props, links = self._checked_input(kind, _body(req))
        record = self._create(req, kind, props, links)
        return json_response(201, _json(record, kind, props))

    def _get_object(self, req: FakeRequest, kind: ObjectType) -> httpx.Response:
        self._require(req, kind.read_scope)
        record = self._lookup(
            kind, _path_id(req, kind), req.query.get("idProperty"), _flag(req, "archived")
        )
        return json_response(200, self._read_json(req, kind, record))

    def _update_object(self, req: FakeRequest, kind: ObjectType) -> httpx.Response:
        self._require(req, kind.write_scope)
        record = self._lookup(kind, _path_id(req, kind), req.query.get("idProperty"), False)
        changes = written_properties(kind, _body(req).get("properties"), creating=False)
        if kind is CONTACTS:
            self._unique_email(changes.get("email"), besides=record.id)
        for key, value in changes.items():
            if value is None or value == "":
                record.properties.pop(key, None)
            else:
                record.properties[key] = value
        record.updated = self._clock.time()
        record.properties[kind.modified] = iso(record.updated)
        fields: dict[str, Any] = {"changed": sorted(changes), **changes}
        self.record(req, f"{kind.singular}.updated", record.id, **fields)
        return json_response(200, _json(record, kind, list(changes) or None))

    def _archive_object(self, req: FakeRequest, kind: ObjectType) -> httpx.Response:
        self._require(req, kind.write_scope)
        record = self._find(kind, _path_id(req, kind), archived=None)
        if not record.archived:
            record.archived_at = self._clock.time()
            self.record(req, f"{kind.singular}.archived", record.id)
        return httpx.Response(204)

    def _batch_read(self, req: FakeRequest, kind: ObjectType) -> httpx.Response:
        self._require(req, kind.read_scope)
        body = _body(req)
        inputs = _inputs(body)
        names = _names(body.get("properties"))
        archived = _flag(req, "archived")
        found, missing = [], []
        for item in inputs:
            key = str(item.get("id", "")) if isinstance(item, dict) else ""
            try:
                found.append(self._lookup(kind, key, body.get("idProperty"), archived))
            except HubSpotError as exc:
                if exc.status != 404:
                    raise
                missing.append(key)
        answer = self._batch([_json(r, kind, names) for r in found])
        if not missing:
            return json_response(200, answer)
        answer["numErrors"] = 1
        answer["errors"] = [
            {
                "status": "error",
                "category": "OBJECT_NOT_FOUND",
                "message": f"Could not get some {kind.label} objects, they may be deleted or not "
                "exist. Check that ids are valid.",
                "context": {"ids": missing},
                "errors": [],
                "links": {},
            }
        ]
        return json_response(207, answer)

    def _batch_create(self, req: FakeRequest, kind: ObjectType) -> httpx.Response:
        self._require(req, kind.write_scope)
        checked = [self._checked_input(kind, item) for item in _inputs(_body(req))]
        emails = [p.get("email", "").lower() for p, _ in checked if p.get("email")]  # type: ignore[union-attr]
        if len(set(emails)) < len(emails):
            raise HubSpotError(409, "CONFLICT", "Duplicate emails found in the batch inputs.")
        created = [self._create(req, kind, props, links) for props, links in checked]
        return json_response(
            201,
            self._batch([_json(r, kind, p) for r, (p, _) in zip(created, checked, strict=True)]),
        )

    def _search(self, req: FakeRequest, kind: ObjectType) -> httpx.Response:
        self._require(req, kind.read_scope)
        body = _body(req)
        start, limit = page_bounds(body)
        found = search(self.state, kind, body)
        names = _names(body.get("properties"))
        answer: dict[str, Any] = {
            "total": len(found),
            "results": [_json(r, kind, names) for r in found[start : start + limit]],
        }
        if start + limit < len(found):
            answer["paging"] = _next(start + limit)
        return json_response(200, answer)

    def _read_json(self, req: FakeRequest, kind: ObjectType, record: Record) -> dict[str, Any]:
        body = _json(record, kind, _query_list(req, "properties"))
        wanted = _query_list(req, "associations")
        if wanted:
            body["associations"] = self._associations_json(kind, record, wanted)
        return body

    def _associations_json(
        self, kind: ObjectType, record: Record, wanted: list[str]
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in wanted:
            to = object_type(name)
            linked = self.state.associated(kind.name, record.id, to.name)
            if linked:
                out[to.name] = {
                    "results": [
                        {"id": i, "type": f"{kind.singular}_to_{to.singular}"} for i in linked
                    ]
                }
        return out

    def _batch(self, results: list[dict[str, Any]]) -> dict[str, Any]:
        now = iso(self._clock.time())
        return {"status": "COMPLETE", "results": results, "startedAt": now, "completedAt": now}

    # -- v4 associations -----------------------------------------------------------------------

    def _pair(self, req: FakeRequest, scope: str) -> tuple[ObjectType, Record, ObjectType, Record]:
        kind = object_type(req.params.get("objectType") or req.params["fromObjectType"])
        self._require(req, kind.read_scope if scope == "read" else kind.write_scope)
        record = self._find(kind, req.params.get("objectId") or req.params["fromObjectId"])
        to = object_type(req.params["toObjectType"])
        return kind, record, to, self._find(to, req.params["toObjectId"])

    @route(
        "PUT",
        "/crm/v4/objects/{fromObjectType}/{fromObjectId}/associations/default/{toObjectType}/{toObjectId}",
        example={
            "fromObjectType": "notes",
            "fromObjectId": "{notes}",
            "toObjectType": "deals",
            "toObjectId": "{deals}",
        },
    )
    def associate_default(self, req: FakeRequest) -> httpx.Response:
        """Associate two records with HubSpot's default (unlabelled) association type."""
        kind, record, to, other = self._pair(req, "write")
        type_ids = association_type_ids(kind.name, to.name)
        if not type_ids:
            raise validation(f"{kind.name} cannot be associated with {to.name}.")
        self._associate(req, kind, record, to, other, type_ids[0])
        spec = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_ids[0]}
        result = {"from": {"id": record.id}, "to": {"id": other.id}, "associationSpec": spec}
        return json_response(200, self._batch([result]))

    @route(
        "DELETE",
        "/crm/v4/objects/{objectType}/{objectId}/associations/{toObjectType}/{toObjectId}",
        example={
            "objectType": "notes",
            "objectId": "{notes}",
            "toObjectType": "contacts",
            "toObjectId": "{contacts}",
        },
    )
    def dissociate(self, req: FakeRequest) -> httpx.Response:
        """Remove every association between two records."""
        kind, record, to, other = self._pair(req, "write")
        if self.state.dissociate((kind.name, record.id), (to.name, other.id)):
            self.record(
                req,
                "association.deleted",
                record.id,
                from_type=kind.name,
                to_type=to.name,
                to_id=other.id,
            )
        return httpx.Response(204)

    @route(
        "GET",
        "/crm/v4/objects/{objectType}/{objectId}/associations/{toObjectType}",
        example={"objectType": "contacts", "objectId": "{contacts}", "toObjectType": "notes"},
    )
    def list_associations(self, req: FakeRequest) -> httpx.Response:
        """The records of one type associated with a record, with their association types."""
        kind = object_type(req.params["objectType"])
        self._require(req, kind.read_scope)
        record = self._find(kind, req.params["objectId"])
        to = object_type(req.params["toObjectType"])
        linked = self.state.associated(kind.name, record.id, to.name)
        results = [
            {
                "toObjectId": other,
                "associationTypes": [
                    {"category": "HUBSPOT_DEFINED", "typeId": t, "label": None}
                    for t in sorted(types)
                ],
            }
            for other, types in linked.items()
        ]
        return json_response(200, {"results": results})

    def _associate(
        self,
        req: FakeRequest,
        kind: ObjectType,
        record: Record,
        to: ObjectType,
        other: Record,
        type_id: int,
    ) -> None:
        known = self.state.associated(kind.name, record.id, to.name).get(other.id, set())
        if type_id in known:
            return
        self.state.associate((kind.name, record.id), (to.name, other.id), type_id)
        self.record(
            req,
            "association.created",
            record.id,
            from_type=kind.name,
            to_type=to.name,
            to_id=other.id,
            type_id=type_id,
        )


# -- the routes of each object type ---------------------------------------------------------

_Handler = Callable[[HubSpot, FakeRequest], httpx.Response]


def _install_object_routes(kind: ObjectType) -> None:
    """Give :class:`HubSpot` the eight CRM v3 routes of one object type."""
    base = f"/crm/v3/objects/{kind.name}"
    one = f"{base}/{{{kind.singular}Id}}"
    sample = f"{{{kind.name}}}"
    create_example = _CREATE_EXAMPLES[kind.name]
    table: list[
        tuple[
            str,
            str,
            str,
            Callable[..., httpx.Response],
            dict[str, Any],
            str,
            type | None,
            type | None,
        ]
    ] = [
        (
            "GET",
            base,
            "list",
            HubSpot._list_objects,
            {"limit": 2},
            f"List {kind.name}, oldest id first (paging with ``after``).",
            params.Page,
            None,
        ),
        (
            "POST",
            base,
            "create",
            HubSpot._create_object,
            create_example,
            f"Create a {kind.singular} with properties and associations.",
            None,
            params.Create,
        ),
        (
            "GET",
            one,
            "get",
            HubSpot._get_object,
            {f"{kind.singular}Id": sample},
            f"Read a {kind.singular} by id.",
            params.GetOne,
            None,
        ),
        (
            "PATCH",
            one,
            "update",
            HubSpot._update_object,
            {f"{kind.singular}Id": sample, "properties": _UPDATE_EXAMPLES[kind.name]},
            f"Change some of a {kind.singular}'s properties.",
            params.IdProperty,
            params.Update,
        ),
        (
            "DELETE",
            one,
            "archive",
            HubSpot._archive_object,
            {f"{kind.singular}Id": sample},
            f"Archive a {kind.singular} (204; already archived: 204 again).",
            None,
            None,
        ),
        (
            "POST",
            f"{base}/batch/read",
            "batch_read",
            HubSpot._batch_read,
            {"inputs": [{"id": sample}], "properties": list(kind.defaults)},
            f"Read up to 100 {kind.name} by id (207 with errors for unknown ids).",
            params.Archived,
            params.BatchRead,
        ),
        (
            "POST",
            f"{base}/batch/create",
            "batch_create",
            HubSpot._batch_create,
            {"inputs": [create_example]},
            f"Create up to 100 {kind.name} at once (all or none).",
            None,
            params.BatchCreate,
        ),
        (
            "POST",
            f"{base}/search",
            "search",
            HubSpot._search,
            _SEARCH_EXAMPLES[kind.name],
            f"Search {kind.name} with filterGroups, query, sorts and paging.",
            None,
            params.Search,
        ),
    ]
    for method, template, verb, impl, example, summary, query, body in table:
        name = f"{verb}_{kind.name}"
        handler = _bound(impl, kind)
        handler.__name__ = handler.__qualname__ = name
        handler.__doc__ = summary
        setattr(
            HubSpot, name, route(method, template, query=query, body=body, example=example)(handler)
        )


def _bound(
    impl: Callable[[HubSpot, FakeRequest, ObjectType], httpx.Response], kind: ObjectType
) -> Callable[[HubSpot, FakeRequest], httpx.Response]:
    def handler(self: HubSpot, req: FakeRequest) -> httpx.Response:
        return impl(self, req, kind)

    return handler


_CREATE_EXAMPLES: Final[Mapping[str, dict[str, Any]]] = {
    "contacts": {
        "properties": {"email": "grace@acme.test", "firstname": "Grace", "lastname": "Hopper"}
    },
    "companies": {"properties": {"name": "Globex", "domain": "globex.test"}},
    "deals": {
        "properties": {
            "dealname": "Globex pilot",
            "amount": "1500.00",
            "dealstage": "appointmentscheduled",
            "pipeline": "default",
        }
    },
    "notes": {
        "properties": {
            "hs_note_body": "Called Ada about the renewal.",
            "hs_timestamp": "2026-01-05T09:30:00.000Z",
        },
        "associations": [
            {
                "to": {"id": "{contacts}"},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 202}],
            }
        ],
    },
}
_UPDATE_EXAMPLES: Final[Mapping[str, dict[str, str]]] = {
    "contacts": {"phone": "+1 555 0100"},
    "companies": {"industry": "COMPUTER_SOFTWARE"},
    "deals": {"dealstage": "closedlost"},
    "notes": {"hs_note_body": "Ada prefers email, not phone."},
}
_SEARCH_EXAMPLES: Final[Mapping[str, dict[str, Any]]] = {
    "contacts": {
        "filterGroups": [
            {"filters": [{"propertyName": "email", "operator": "EQ", "value": "{email}"}]}
        ]
    },
    "companies": {
        "filterGroups": [
            {"filters": [{"propertyName": "domain", "operator": "EQ", "value": "acme.test"}]}
        ]
    },
    "deals": {
        "filterGroups": [
            {"filters": [{"propertyName": "dealstage", "operator": "IN", "values": ["closedwon"]}]}
        ]
    },
    "notes": {
        "filterGroups": [
            {
                "filters": [
                    {
                        "propertyName": "associations.contact",
                        "operator": "EQ",
                        "value": "{contacts}",
                    }
                ]
            }
        ],
        "properties": ["hs_note_body"],
    },
}

for _kind in (CONTACTS, COMPANIES, DEALS, NOTES):
    _install_object_routes(_kind)


# -- helpers -----------------------------------------------------------------------------------


def _json(record: Record, kind: ObjectType, names: Iterable[str] | None) -> dict[str, Any]:
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


def _body(req: FakeRequest) -> Any:
    try:
        body = req.json()
    except (ValueError, UnicodeDecodeError) as exc:
        raise validation(f"Invalid input JSON: {exc}") from None
    if not isinstance(body, dict):
        raise validation("The request body must be a JSON object.")
    model = req.route.body if req.route is not None else None
    return declared(body, model, str(req.route))


def _inputs(body: Mapping[str, Any]) -> list[Any]:
    inputs = body.get("inputs")
    if not isinstance(inputs, list):
        raise validation("inputs must be a list.", where="inputs")
    if len(inputs) > _BATCH_MAX:
        raise validation(f"Too many inputs: {len(inputs)} (at most {_BATCH_MAX}).", where="inputs")
    return inputs


def _names(raw: object) -> list[str] | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or not all(isinstance(n, str) for n in raw):
        raise validation("properties must be a list of property names.", where="properties")
    return raw or None


def _query_list(req: FakeRequest, name: str) -> list[str]:
    """A repeated or comma-separated query parameter (checked against the route's model)."""
    if name not in req.query:
        return []
    values = req.raw.url.params.get_list(name)
    return [v for value in values for v in value.split(",") if v]


def _flag(req: FakeRequest, name: str) -> bool:
    return str(req.query.get(name, "false")).lower() == "true"


def _int(
    req: FakeRequest, name: str, default: int, most: int | None, *, default_zero: bool = False
) -> int:
    raw = req.query.get(name)
    if raw is None:
        return default
    if not str(raw).isdigit() or (not default_zero and int(raw) < 1) or (most and int(raw) > most):
        bound = f"up to {most}" if most else "from paging.next.after"
        raise validation(f"{name} must be a whole number {bound}, got {raw!r}.", where=name)
    return int(raw)


def _path_id(req: FakeRequest, kind: ObjectType) -> str:
    return req.params[f"{kind.singular}Id"]


def _next(after: int) -> dict[str, Any]:
    return {"next": {"after": str(after), "link": f"?after={after}"}}
