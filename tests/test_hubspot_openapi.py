"""The hubspot fake's answers, checked against HubSpot's own published OpenAPI description.

tests/data/hubspot_crm_v3.json is a small extract of HubSpot's public API specs (its
``_source`` names the repository, commit and files): for each operation the fake serves, the
schema of its success answer and the scopes it requires; for each schema, its required fields
and their types. Every route is run with its documented example against a sampled fake.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from chaoskit.fakes import HubSpot, Route

SPEC = json.loads((Path(__file__).parent / "data" / "hubspot_crm_v3.json").read_text())
OPERATIONS: dict[str, dict[str, Any]] = SPEC["operations"]
SCHEMAS: dict[str, dict[str, Any]] = SPEC["schemas"]
ROUTES = {f"{r.method} {r.template}": r for r in HubSpot.routes()}
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def problems(value: Any, kind: str, where: str = "$") -> list[str]:
    """What in ``value`` breaks the extract's ``kind`` (a schema name or a JSON type)."""
    if kind.startswith("array:"):
        if not isinstance(value, list):
            return [f"{where}: expected an array, got {value!r}"]
        return [p for i, v in enumerate(value) for p in problems(v, kind[6:], f"{where}[{i}]")]
    if kind in SCHEMAS:
        return _object_problems(value, SCHEMAS[kind], where)
    expected = {"string": str, "boolean": bool, "object": dict, "integer": int}[kind]
    if not isinstance(value, expected) or (kind == "integer" and isinstance(value, bool)):
        return [f"{where}: expected {kind}, got {value!r}"]
    return []


def _object_problems(value: Any, schema: dict[str, Any], where: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{where}: expected an object, got {value!r}"]
    found = [
        f"{where}.{name}: required, missing" for name in schema["required"] if name not in value
    ]
    for name, kind in schema["properties"].items():
        if value.get(name) is not None:
            found += problems(value[name], kind, f"{where}.{name}")
    for name, allowed in schema.get("enums", {}).items():
        if name in value and value[name] not in allowed:
            found.append(f"{where}.{name}: {value[name]!r} is not one of {allowed}")
    return found


def _filled(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, str):
        return _PLACEHOLDER.sub(lambda m: values[m.group(1)], value)
    if isinstance(value, dict):
        return {k: _filled(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_filled(v, values) for v in value]
    return value


def run_example(route: Route, *, token: str | None = None) -> httpx.Response:
    """The route's documented example, sent to a freshly sampled fake."""
    fake = HubSpot()
    values = fake.sample()
    fields = _filled(dict(route.example or {}), values)
    path = route.template
    for name in route.path_params:
        path = path.replace("{" + name + "}", str(fields.pop(name)))
    headers = {"Authorization": f"Bearer {token or fake.credential(values['token'])}"}
    if route.method in ("GET", "DELETE"):
        return fake.request(route.method, path, params=fields, headers=headers)
    return fake.request(route.method, path, json=fields, headers=headers)


def test_the_fake_serves_exactly_the_operations_in_hubspot_s_description() -> None:
    assert set(ROUTES) == set(OPERATIONS)


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_every_route_answers_its_example_as_hubspot_s_description_says(operation: str) -> None:
    route = ROUTES[operation]
    assert route.example is not None, f"{operation} has no example to run"
    response = run_example(route)
    documented = OPERATIONS[operation]["responses"]
    assert str(response.status_code) in documented, response.text
    schema = documented[str(response.status_code)]
    if schema is None:
        assert response.content == b""
    else:
        assert problems(response.json(), schema) == []


@pytest.mark.parametrize(
    "operation", sorted(op for op, spec in OPERATIONS.items() if spec["scopes"])
)
def test_every_object_route_asks_for_the_scope_hubspot_s_description_names(operation: str) -> None:
    fake = HubSpot()
    values = fake.sample()
    fake.add_private_app("pat-na1-no-scopes", "usr_dana", scopes=[])
    route = ROUTES[operation]
    fields = _filled(dict(route.example or {}), values)
    path = route.template
    for name in route.path_params:
        path = path.replace("{" + name + "}", str(fields.pop(name)))
    response = fake.request(
        route.method,
        path,
        json=fields or None,
        headers={"Authorization": "Bearer pat-na1-no-scopes"},
    )
    body = response.json()
    assert response.status_code == 403
    assert body["category"] == "MISSING_SCOPES"
    required = body["errors"][0]["context"]["requiredGranularScopes"]
    assert required == OPERATIONS[operation]["scopes"]
    assert problems(body, "Error") == []


def _sent(fake: HubSpot, method: str, path: str, token: str, **kwargs: Any) -> httpx.Response:
    return fake.request(method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs)


def test_every_error_answer_has_the_fields_of_hubspot_s_error_schema() -> None:
    fake = HubSpot()
    values = fake.sample()
    token = fake.credential(values["token"])
    contacts = "/crm/v3/objects/contacts"
    answers = {
        401: _sent(fake, "GET", contacts, "pat-na1-unknown"),
        404: _sent(fake, "GET", f"{contacts}/404", token),
        409: _sent(fake, "POST", contacts, token, json={"properties": {"email": values["email"]}}),
        400: _sent(fake, "POST", contacts, token, json={"properties": {"shoe_size": "9"}}),
    }
    answers[429] = fake.fault_response(429, retry_after=1)
    answers[503] = fake.fault_response(503)
    for status, response in answers.items():
        assert response.status_code == status
        assert problems(response.json(), "Error") == [], status


def test_the_schema_check_catches_an_answer_missing_a_required_field() -> None:
    good = {"id": "1", "properties": {}, "createdAt": "x", "updatedAt": "x", "archived": False}
    assert problems(good, "SimplePublicObject") == []
    broken = {k: v for k, v in good.items() if k != "archived"}
    assert problems(broken, "SimplePublicObject") == ["$.archived: required, missing"]
    assert problems({**good, "archived": "no"}, "SimplePublicObject") == [
        "$.archived: expected boolean, got 'no'"
    ]


def test_chaoskit_fakes_hubspot_lists_every_route_with_hubspot_s_errors(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from chaoskit.cli.main import main

    assert main(["fakes", "hubspot"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("hubspot  https://api.hubapi.com")
    for route in ROUTES.values():
        assert f"\n{route.method} {route.template}\n" in out
    assert "401 INVALID_AUTHENTICATION" in out
