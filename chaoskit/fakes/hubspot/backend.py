"""The ``HubSpot`` backend: CRM v3 objects (contacts, companies, deals, notes) and v4
associations on ``api.hubapi.com``, as the official ``hubspot-api-client`` calls them.

The eight routes of each object type are installed by :func:`_install_object_routes` below
the class, one set per type, so ``chaoskit fakes hubspot`` and fault targets name real paths
(``hubspot: POST /crm/v3/objects/contacts``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, Final

import httpx
from pydantic import Field, field_validator

from chaoskit.core.models import FrozenModel
from chaoskit.core.names import did_you_mean
from chaoskit.fakes.base import FakeRequest, Route, route
from chaoskit.fakes.hubspot import params
from chaoskit.fakes.hubspot.objects import (
    COMPANIES,
    CONTACTS,
    DEALS,
    NOTES,
    HubSpotState,
    ObjectType,
    Record,
    association_type_ids,
    object_type,
    written_properties,
)
from chaoskit.fakes.hubspot.search import page_bounds, search
from chaoskit.fakes.hubspot.store import _Records, record_json
from chaoskit.fakes.hubspot.wire import (
    KNOWN_SCOPES,
    HubSpotError,
    RateLimitPolicy,
    batch_inputs,
    correlation_id,
    flag,
    iso,
    json_object,
    json_response,
    missing_scopes,
    next_page,
    private_app_token,
    property_names,
    query_list,
    rate_limited,
    server_error,
    unauthenticated,
    validation,
    whole_number,
)

__all__ = ["HubSpot", "HubSpotOptions"]


class HubSpotOptions(FrozenModel):
    """A scenario's ``[hubspot]`` table: what the world's private-app tokens may do.

    .. code-block:: toml

        [hubspot]
        scopes = ["crm.objects.contacts.read"]     # a read-only app: writes get 403
        rate_limit_policy = "DAILY"                # what a 429 says it hit
        search_lag = 5                             # virtual seconds before search sees a record
    """

    scopes: tuple[str, ...] = KNOWN_SCOPES
    rate_limit_policy: RateLimitPolicy = "TEN_SECONDLY_ROLLING"
    #: HubSpot's search index lags its writes by a few seconds: a new record is found by
    #: search only this many virtual seconds after its creation (reads by id see it at once).
    search_lag: float = Field(default=0.0, ge=0)

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


class HubSpot(_Records):
    """A fake HubSpot CRM: contacts, companies, deals, notes and their associations.

    Requests need a private-app token (``Authorization: Bearer pat-…``): the world hands
    each principal one (``task.credentials["hubspot"]``); without a world,
    :attr:`DEFAULT_TOKEN` works. A token lacking a route's scope gets HubSpot's 403
    ``MISSING_SCOPES``. Contacts' ``email`` is unique (a second create is 409 ``CONFLICT``);
    nothing else is, and there are no idempotency keys.

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
        search_lag: float = 0.0,
    ) -> None:
        options = HubSpotOptions(
            scopes=tuple(scopes), rate_limit_policy=rate_limit_policy, search_lag=search_lag
        )
        self.scopes = frozenset(options.scopes)
        self.rate_limit_policy: RateLimitPolicy = options.rate_limit_policy
        self.search_lag = options.search_lag
        self._apps: dict[str, _App] = {}
        super().__init__(host=host)

    def apply_options(self, options: HubSpotOptions) -> None:
        self.scopes = frozenset(options.scopes)
        self.rate_limit_policy = options.rate_limit_policy
        self.search_lag = options.search_lag

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

    # -- the object routes (installed per type below the class) ------------------------------

    def _list_objects(self, req: FakeRequest, kind: ObjectType) -> httpx.Response:
        self._require(req, kind.read_scope)
        archived = flag(req, "archived")
        limit = whole_number(req, "limit", 10, 100)
        records = sorted(
            (r for r in self.state.records[kind.name].values() if r.archived is archived),
            key=lambda r: int(r.id),
        )
        start = whole_number(req, "after", 0, None, default_zero=True)
        page = records[start : start + limit]
        body: dict[str, Any] = {"results": [self._read_json(req, kind, r) for r in page]}
        if start + limit < len(records):
            body["paging"] = next_page(start + limit)
        return json_response(200, body)

    def _create_object(self, req: FakeRequest, kind: ObjectType) -> httpx.Response:
        self._require(req, kind.write_scope)
        props, links = self._checked_input(kind, json_object(req))
        record = self._create(req, kind, props, links)
        return json_response(201, record_json(record, kind, props))

    def _get_object(self, req: FakeRequest, kind: ObjectType) -> httpx.Response:
        self._require(req, kind.read_scope)
        record = self._lookup(
            kind, _path_id(req, kind), req.query.get("idProperty"), flag(req, "archived")
        )
        return json_response(200, self._read_json(req, kind, record))

    def _update_object(self, req: FakeRequest, kind: ObjectType) -> httpx.Response:
        self._require(req, kind.write_scope)
        record = self._lookup(kind, _path_id(req, kind), req.query.get("idProperty"), False)
        changes = written_properties(kind, json_object(req).get("properties"), creating=False)
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
        return json_response(200, record_json(record, kind, list(changes) or None))

    def _archive_object(self, req: FakeRequest, kind: ObjectType) -> httpx.Response:
        self._require(req, kind.write_scope)
        record = self._find(kind, _path_id(req, kind), archived=None)
        if not record.archived:
            record.archived_at = self._clock.time()
            self.record(req, f"{kind.singular}.archived", record.id)
        return httpx.Response(204)

    def _batch_read(self, req: FakeRequest, kind: ObjectType) -> httpx.Response:
        self._require(req, kind.read_scope)
        body = json_object(req)
        items = batch_inputs(body)
        names = property_names(body.get("properties"))
        archived = flag(req, "archived")
        found, missing = [], []
        for item in items:
            key = str(item.get("id", "")) if isinstance(item, dict) else ""
            try:
                found.append(self._lookup(kind, key, body.get("idProperty"), archived))
            except HubSpotError as exc:
                if exc.status != 404:
                    raise
                missing.append(key)
        answer = self._batch([record_json(r, kind, names) for r in found])
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
        checked = [self._checked_input(kind, item) for item in batch_inputs(json_object(req))]
        emails = [p.get("email", "").lower() for p, _ in checked if p.get("email")]  # type: ignore[union-attr]
        if len(set(emails)) < len(emails):
            raise HubSpotError(409, "CONFLICT", "Duplicate emails found in the batch inputs.")
        created = [self._create(req, kind, props, links) for props, links in checked]
        return json_response(
            201,
            self._batch(
                [record_json(r, kind, p) for r, (p, _) in zip(created, checked, strict=True)]
            ),
        )

    def _search(self, req: FakeRequest, kind: ObjectType) -> httpx.Response:
        self._require(req, kind.read_scope)
        body = json_object(req)
        start, limit = page_bounds(body)
        indexed = self._clock.time() - self.search_lag
        found = [r for r in search(self.state, kind, body) if r.created <= indexed]
        names = property_names(body.get("properties"))
        answer: dict[str, Any] = {
            "total": len(found),
            "results": [record_json(r, kind, names) for r in found[start : start + limit]],
        }
        if start + limit < len(found):
            answer["paging"] = next_page(start + limit)
        return json_response(200, answer)

    def _read_json(self, req: FakeRequest, kind: ObjectType, record: Record) -> dict[str, Any]:
        body = record_json(record, kind, query_list(req, "properties"))
        wanted = query_list(req, "associations")
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


def _path_id(req: FakeRequest, kind: ObjectType) -> str:
    return req.params[f"{kind.singular}Id"]
