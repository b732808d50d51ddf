"""The fakes' API reference and OpenAPI descriptions, generated from the routes themselves."""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError
from pydantic import BaseModel

from chaoskit.cli.main import main
from chaoskit.core.errors import WorldError
from chaoskit.fakes import CRM, FakeBackend, FakeRequest, Payments, Ticketing, route
from chaoskit.fakes.jsonapi import JsonBackend, json_body, require_str
from chaoskit.fakes.openapi import openapi
from chaoskit.fakes.reference import reference
from chaoskit.fakes.registry import BUILTIN_BACKENDS, DIALECT_BACKENDS

BACKENDS = sorted({**BUILTIN_BACKENDS, **DIALECT_BACKENDS}.items())


@pytest.fixture(scope="module")
def documents() -> dict[str, dict[str, Any]]:
    return {name: openapi(cls) for name, cls in BACKENDS}


# -- the OpenAPI descriptions --------------------------------------------------------------------


@pytest.mark.parametrize("name", [name for name, _ in BACKENDS])
def test_every_default_backend_s_description_is_valid_openapi_3_1(
    documents: dict[str, dict[str, Any]], name: str
) -> None:
    document = documents[name]
    assert document["openapi"] == "3.1.0"
    validate(document)


def test_the_validator_refuses_a_description_that_is_broken(
    documents: dict[str, dict[str, Any]],
) -> None:
    broken = copy.deepcopy(documents["payments"])
    broken["components"]["schemas"]["NewRefund"]["type"] = "form"
    with pytest.raises(OpenAPIValidationError):
        validate(broken)


@pytest.mark.parametrize(("name", "cls"), BACKENDS)
def test_every_route_of_every_backend_appears_in_its_description(
    documents: dict[str, dict[str, Any]], name: str, cls: type[FakeBackend]
) -> None:
    paths = documents[name]["paths"]
    described = {(m.upper(), template) for template, ops in paths.items() for m in ops}
    assert described == {(r.method, r.template) for r in cls.routes()}
    assert documents[name]["servers"] == [{"url": f"https://{cls.default_host}"}]


def test_payments_is_described_with_form_bodies_stripe_errors_and_its_keys(
    documents: dict[str, dict[str, Any]],
) -> None:
    document = documents["payments"]
    refund = document["paths"]["/v1/refunds"]["post"]
    form = refund["requestBody"]["content"]["application/x-www-form-urlencoded"]
    assert form["schema"] == {"$ref": "#/components/schemas/NewRefund"}
    assert form["encoding"]["metadata"] == {"style": "deepObject", "explode": True}
    reason = document["components"]["schemas"]["NewRefund"]["properties"]["reason"]
    assert {"enum": ["duplicate", "fraudulent", "requested_by_customer"], "type": "string"} in (
        reason["anyOf"]
    )
    envelope = document["components"]["schemas"]["Error"]
    assert envelope["required"] == ["error"]
    assert {"type", "code", "message", "param"} <= set(
        envelope["properties"]["error"]["properties"]
    )
    limited = document["components"]["responses"]["RateLimited"]
    assert limited["content"]["application/json"]["example"]["error"]["code"] == "rate_limit"
    assert set(limited["headers"]) == {"retry-after", "stripe-should-retry"}
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert document["security"] == [{"bearer": []}, {"basic": []}]


def test_a_backend_that_lets_anonymous_callers_in_says_its_auth_is_optional(
    documents: dict[str, dict[str, Any]],
) -> None:
    assert {} in documents["ticketing"]["security"]
    assert {} not in documents["crm"]["security"]


def test_a_description_of_an_instance_keeps_its_host_and_leaves_it_untouched() -> None:
    fake = Payments(host="payments.internal.test")
    document = openapi(fake)
    assert document["servers"] == [{"url": "https://payments.internal.test"}]
    assert len(fake.ledger) == 0


# -- the examples are the fake's own answers -------------------------------------------------------


@pytest.mark.parametrize(("name", "cls"), BACKENDS)
def test_every_built_in_route_has_a_summary_and_an_example_the_fake_accepts(
    name: str, cls: type[FakeBackend]
) -> None:
    for ref in reference(cls).routes:
        assert ref.summary, f"{name}: {ref} has no docstring"
        assert ref.example is not None, f"{name}: {ref} has no example"
        assert 200 <= ref.example.status < 300, (str(ref), ref.example.response)


@pytest.mark.parametrize(("name", "cls"), BACKENDS)
def test_leaving_out_a_declared_required_parameter_is_refused_by_the_handler(
    name: str, cls: type[FakeBackend]
) -> None:
    """The declaration and the handler agree on what is required, field by field."""
    for ref in reference(cls).routes:
        for param in ref.parameters:
            if not param.required or param.where == "path":
                continue
            answer = _without(cls, ref.method, ref.template, param.name)
            assert answer.status_code == 400, f"{name}: {ref} without {param.name} was accepted"
            assert param.name in answer.text


def test_the_refund_example_refunds_the_sample_s_own_charge() -> None:
    ref = next(r for r in reference(Payments).routes if str(r) == "POST /v1/refunds")
    assert ref.example is not None and isinstance(ref.example.response, dict)
    sample = Payments().sample()
    assert ref.example.response["object"] == "refund"
    assert ref.example.response["charge"] == sample["charge"]
    assert ref.example.sent == (
        f"charge={sample['charge']}&amount=500&reason=requested_by_customer"
    )


def test_the_reference_is_the_same_every_time() -> None:
    assert reference(CRM) == reference(CRM)


def test_error_examples_show_the_fake_s_real_refusals() -> None:
    get_ticket = next(r for r in reference(Ticketing).routes if str(r) == "GET /v1/tickets/{id}")
    codes = {(e.title, e.status, e.error_code) for e in get_ticket.errors}
    assert codes == {
        ("unknown id", 404, "resource_missing"),
        ("bad credential", 401, "invalid_token"),
    }


# -- declared once: the handlers read through the declarations ----------------------------------


class _Body(BaseModel):
    text: str


class _Notes(JsonBackend):
    name = "notes"
    default_host = "notes.chaoskit.test"

    @route("POST", "/notes", body=_Body, example={"text": "hello"})
    def create(self, req: FakeRequest) -> httpx.Response:
        """Create a note."""
        return self.respond(201, {"text": require_str(json_body(req), "text")})

    @route("POST", "/drifted", body=_Body, example={"text": "hello"})
    def drifted(self, req: FakeRequest) -> httpx.Response:
        """Read a field the declaration does not name."""
        return self.respond(201, {"title": json_body(req).get("title")})


def test_a_handler_reading_a_parameter_its_route_does_not_declare_fails_loudly() -> None:
    notes = _Notes()
    assert notes.request("POST", "/notes", json={"text": "hi"}).status_code == 201
    with pytest.raises(WorldError, match="reads parameter 'title', which its route does not"):
        notes.request("POST", "/drifted", json={"text": "hi"})


def test_a_model_that_forbids_extras_refuses_unknown_fields_and_others_ignore_them() -> None:
    crm = CRM()
    values = crm.sample()
    auth = {"Authorization": f"Bearer {values['token']}"}
    order = {"account": values["account"], "amount": 100, "currency": "usd", "colour": "red"}
    refused = crm.request("POST", "/v1/orders", json=order, headers=auth)
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "parameter_unknown"
    assert "Known: account, amount, charge_id, currency, tracking_number" in refused.text
    ticket = {"subject": "s", "body": "b", "requester": "r@acme.test", "colour": "red"}
    assert Ticketing().request("POST", "/v1/tickets", json=ticket).status_code == 201


def test_payments_lists_take_exactly_the_filters_their_query_model_declares() -> None:
    fake = Payments()
    values = fake.sample()
    auth = {"Authorization": f"Bearer {Payments.DEFAULT_API_KEY}"}
    by_charge = fake.request(
        "GET", "/v1/refunds", params={"charge": values["charge"]}, headers=auth
    )
    assert [r["id"] for r in by_charge.json()["data"]] == [values["refund"]]
    unknown = fake.request("GET", "/v1/refunds", params={"customer": "cus_x"}, headers=auth)
    assert unknown.json()["error"]["code"] == "parameter_unknown"


def test_a_user_backend_without_declarations_still_gets_a_valid_description() -> None:
    class Bare(FakeBackend):
        name = "bare"
        default_host = "bare.chaoskit.test"

        @route("GET", "/things/{id}")
        def get_thing(self, req: FakeRequest) -> httpx.Response:
            return self.respond(200, {"id": req.params["id"]})

    document = openapi(Bare)
    validate(document)
    operation = document["paths"]["/things/{id}"]["get"]
    assert operation["summary"] == "GET /things/{id}"
    assert "default" in operation["responses"]


# -- chaoskit fakes ----------------------------------------------------------------------------


def test_chaoskit_fakes_lists_every_backend_with_its_host_and_routes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["fakes"]) == 0
    out = capsys.readouterr().out
    for name, cls in BACKENDS:
        line = next(line for line in out.splitlines() if line.startswith(name + " "))
        assert f"https://{cls.default_host}" in line
        assert f"{len(cls.routes())} route" in line


def test_chaoskit_fakes_payments_prints_routes_parameters_and_real_bodies(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["fakes", "payments"]) == 0
    out = capsys.readouterr().out
    refunds = out[out.index("POST /v1/refunds\n") :]
    refunds = refunds[: refunds.index("\n\n")]
    assert "Refund a charge (or a payment intent's charge); by default what is left." in refunds
    assert "body (form):" in refunds
    assert "reason          one of: duplicate, fraudulent, requested_by_customer" in refunds
    assert "charge=ch_" in refunds and '"object": "refund"' in refunds
    assert "form-encoded bodies, Stripe style" in out
    assert "429 rate_limit (rate limit)" in out


def test_chaoskit_fakes_openapi_prints_a_valid_description(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["fakes", "crm", "--openapi"]) == 0
    validate(json.loads(capsys.readouterr().out))


def test_chaoskit_fakes_offers_the_closest_name_for_an_unknown_backend(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["fakes", "paymnts"]) == 4
    err = capsys.readouterr().err
    assert "chaoskit: unknown backend 'paymnts'. Did you mean 'payments'?" in err


def test_chaoskit_fakes_openapi_without_a_backend_says_to_name_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["fakes", "--openapi"]) == 4
    assert "chaoskit fakes payments --openapi" in capsys.readouterr().err


# -- helpers ------------------------------------------------------------------------------------


def _without(cls: type[FakeBackend], method: str, template: str, name: str) -> httpx.Response:
    """The route's example request, sent to a fresh sample, less one parameter."""
    from chaoskit.fakes.reference import _Sample

    declared = next(r for r in cls.routes() if (r.method, r.template) == (method, template))
    sample = _Sample(cls)
    answer = sample.send(declared, "probe", drop=name)
    assert answer is not None
    return httpx.Response(answer.status, json=answer.response)


# -- served: each fake describes itself at /openapi.json ------------------------------------------


def test_in_server_mode_each_fake_serves_its_description_on_its_own_port() -> None:
    from chaoskit import World

    world = World()
    with world.serve() as served:
        answers = {name: httpx.get(f"{url}/openapi.json") for name, url in served.urls.items()}
    for name, answer in answers.items():
        assert answer.status_code == 200
        document = answer.json()
        validate(document)
        assert document["servers"] == [{"url": served.urls[name]}]
        assert document["info"]["title"] == f"{name} (chaoskit fake)"
    assert len(world.trace) == 0  # documentation, not a call of the agent's
    assert all(not entries for entries in world.ledgers.values())


def test_with_host_routing_the_description_names_the_backend_s_own_base_url() -> None:
    from chaoskit import World

    with World().serve(routing="host") as served:
        answer = httpx.get(f"{served.urls['crm']}/openapi.json")
    assert answer.json()["servers"] == [{"url": served.urls["crm"]}]
    assert "/v1/search" in answer.json()["paths"]


def test_in_process_a_fake_s_own_host_answers_its_description_too() -> None:
    from chaoskit import World

    with World():
        answer = httpx.get("https://api.stripe.com/openapi.json")
        other = httpx.get("https://api.stripe.com/openapi.yaml")
    assert answer.json()["servers"] == [{"url": "https://api.stripe.com"}]
    assert other.status_code == 404


def test_a_fake_with_a_route_of_its_own_at_openapi_json_keeps_it() -> None:
    from chaoskit import World

    class Spec(FakeBackend):
        name = "spec"
        default_host = "spec.chaoskit.test"

        @route("GET", "/openapi.json")
        def own(self, req: FakeRequest) -> httpx.Response:
            """Its own document."""
            return self.respond(200, {"mine": True})

    world = World([Spec()])
    with world.serve() as served:
        served_answer = httpx.get(f"{served.urls['spec']}/openapi.json")
    with world:
        in_process = httpx.get("https://spec.chaoskit.test/openapi.json")
    assert served_answer.json() == {"mine": True}
    assert in_process.json() == {"mine": True}
