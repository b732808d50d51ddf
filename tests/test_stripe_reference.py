"""The payments fake's objects checked against Stripe's own reference.

``tests/data/stripe_reference.json`` is a small extract of Stripe's published OpenAPI
description (github.com/stripe/openapi at the commit its ``_source`` names): for customer,
charge, payment_intent and refund, every field the spec's example objects carry (what Stripe
always returns) with its type, and the list parameters the fake implements. Every route's
answer, in every state the fake can put an object in, must carry every field with its type;
so must the objects stripe-python builds from them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe

from chaoskit import World
from chaoskit.fakes.payments import Payments
from chaoskit.fakes.reference import reference

REFERENCE = json.loads((Path(__file__).parent / "data" / "stripe_reference.json").read_text())
SCHEMAS: dict[str, dict[str, str]] = REFERENCE["schemas"]
AUTH = {"Authorization": f"Bearer {Payments.DEFAULT_API_KEY}"}
_JSON_TYPES = {"string": str, "integer": int, "boolean": bool, "object": dict, "array": list}


def problems(obj: dict[str, Any], where: str = "") -> list[str]:
    """What ``obj`` (and every Stripe object nested in it) lacks or carries with a wrong type."""
    found: list[str] = []
    kind = obj.get("object")
    here = f"{where}{kind or 'object'} {obj.get('id', '')}".strip()
    for field, expected in SCHEMAS.get(str(kind), {}).items():
        if field not in obj:
            found.append(f"{here}: no {field}")
        elif not _has_type(obj[field], expected):
            found.append(f"{here}: {field}={obj[field]!r} is not {expected}")
    for field, value in obj.items():
        for nested in _objects_in(value):
            found += problems(nested, f"{here}.{field} → ")
    return found


def _has_type(value: Any, expected: str) -> bool:
    kind, _, nullable = expected.partition("|")
    if value is None:
        return nullable == "null"
    if kind == "expandable":  # an id, or the object when expanded
        return isinstance(value, str | dict)
    if kind == "integer" and isinstance(value, bool):
        return False
    return isinstance(value, _JSON_TYPES[kind])


def _objects_in(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        if value.get("object") in SCHEMAS:
            yield value
        elif value.get("object") == "list" or "object" not in value:
            for item in value.values():
                yield from _objects_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from _objects_in(item)


def objects_in(body: Any) -> list[dict[str, Any]]:
    """The Stripe objects an answer carries: itself, list items, an error's payment intent."""
    return list(_objects_in(body))


def kinds_in(objects: list[dict[str, Any]]) -> set[str]:
    """Every kind of Stripe object among ``objects`` and nested in them (expanded ones too)."""
    kinds = set()
    for obj in objects:
        kinds.add(str(obj["object"]))
        for value in obj.values():
            kinds |= kinds_in(list(_objects_in(value)))
    return kinds


# -- the extract itself ----------------------------------------------------------------------


def test_the_extract_holds_the_125_fields_stripe_always_returns_on_the_four_objects() -> None:
    assert {k: len(v) for k, v in SCHEMAS.items()} == {
        "customer": 22,
        "charge": 43,
        "payment_intent": 42,
        "refund": 18,
    }
    assert "commit" in REFERENCE["_source"] and "repository" in REFERENCE["_source"]


def test_the_fields_the_spec_marks_required_are_all_in_the_extract() -> None:
    for kind, required in REFERENCE["required_in_spec3"].items():
        assert set(required) <= set(SCHEMAS[kind]), kind


def test_the_checker_catches_a_missing_field_and_a_wrong_type() -> None:
    fake = Payments()
    charge = fake.charge(fake.add_charge(customer=None, amount=1000))
    assert problems(charge) == []
    del charge["receipt_url"]
    charge["amount_captured"] = "1000"
    charge["refunds"]["data"] = [{"object": "refund", "id": "re_x"}]
    found = problems(charge)
    assert f"charge {charge['id']}: no receipt_url" in found
    assert any("amount_captured='1000' is not integer" in p for p in found)
    assert any(p.startswith(f"charge {charge['id']}.refunds → refund re_x: no") for p in found)


# -- every route, every state ----------------------------------------------------------------

ROUTES = reference(Payments).routes


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_every_routes_answer_carries_every_reference_field_with_its_type(route: Any) -> None:
    assert route.example is not None, f"{route} has no example, so it escapes this check"
    assert route.example.status == 200, route.example.response
    found = objects_in(route.example.response)
    assert found, f"{route} answered no Stripe object"
    assert [p for obj in found for p in problems(obj)] == []


def _post(fake: Payments, path: str, data: dict[str, str]) -> httpx.Response:
    return fake.request("POST", path, data=data, headers=AUTH)


def _get(fake: Payments, path: str, params: Any = None) -> httpx.Response:
    return fake.request("GET", path, params=params, headers=AUTH)


def test_objects_in_every_state_carry_every_field_with_its_type() -> None:
    fake = Payments()
    cus = _post(fake, "/v1/customers", {"email": "ada@example.com"}).json()["id"]
    on_file = _post(fake, "/v1/charges", {"amount": "900", "currency": "usd", "customer": cus})
    declined = _post(
        fake, "/v1/charges", {"amount": "900", "currency": "usd", "source": "tok_chargeDeclined"}
    )
    intent = {"amount": "1500", "currency": "usd", "customer": cus}
    pending = _post(fake, "/v1/payment_intents", intent)
    refused = _post(
        fake,
        "/v1/payment_intents",
        intent | {"payment_method": "pm_card_chargeDeclinedInsufficientFunds", "confirm": "true"},
    )
    paid = _post(
        fake, "/v1/payment_intents", intent | {"payment_method": "pm_card_visa", "confirm": "true"}
    )
    whole = _post(fake, "/v1/refunds", {"payment_intent": paid.json()["id"]})
    answers = [on_file, declined, pending, refused, paid, whole]
    answers.append(_get(fake, f"/v1/charges/{declined.json()['error']['charge']}"))
    answers.append(
        _get(fake, f"/v1/charges/{whole.json()['charge']}", {"expand[]": "payment_intent"})
    )
    answers.append(_get(fake, "/v1/refunds", {"expand[]": ["data.charge", "data.customer"]}))
    answers.append(
        _get(
            fake, f"/v1/payment_intents/{paid.json()['id']}", {"expand[]": "latest_charge.customer"}
        )
    )
    states = [o for a in answers for o in objects_in(a.json())]
    assert kinds_in(states) == set(SCHEMAS)
    assert len(states) == 9
    assert [p for obj in states for p in problems(obj)] == []


# -- through stripe-python --------------------------------------------------------------------


def test_stripe_python_reads_every_reference_field_without_attribute_error() -> None:
    sdk = stripe.StripeClient(Payments.DEFAULT_API_KEY, max_network_retries=0)
    with World([Payments()]):
        customer = sdk.v1.customers.create(params={"email": "ada@example.com"})
        intent = sdk.v1.payment_intents.create(
            params={
                "amount": 4200,
                "currency": "usd",
                "customer": customer.id,
                "payment_method": "pm_card_visa",
                "confirm": True,
            }
        )
        charge = sdk.v1.charges.retrieve(str(intent.latest_charge))
        refund = sdk.v1.refunds.create(params={"charge": charge.id, "amount": 500})
    for obj in (customer, charge, intent, refund):
        missing = []
        for field in SCHEMAS[obj.object]:
            try:
                getattr(obj, field)
            except AttributeError:
                missing.append(field)
        assert missing == [], obj.object
    assert charge.payment_method == "pm_card_visa"
    assert charge.receipt_url and intent.amount_capturable == 0
    assert refund.transfer_reversal is None and refund.customer == customer.id


# -- the list parameters -----------------------------------------------------------------------


@pytest.mark.parametrize("target", sorted(REFERENCE["list_params"]))
def test_each_list_route_takes_the_reference_list_parameters(target: str) -> None:
    method, path = target.split(" ")
    route = next(r for r in ROUTES if r.method == method and r.template == path)
    names = {p.name for p in route.parameters if p.where == "query"}
    assert set(REFERENCE["list_params"][target]) <= names
