"""The official sendgrid SDK, unchanged, against the sendgrid fake inside a world.

The SDK (python_http_client over urllib.request) talks to its default host,
``https://api.sendgrid.com``; the world routes it in memory. Shapes are checked against an
extract of SendGrid's published OpenAPI description (tests/data/sendgrid_oai.json, whose
``_source`` names the repository, commit and files).
"""

from __future__ import annotations

import json
import urllib.error
from pathlib import Path
from typing import Any

import pytest
from python_http_client import exceptions as http_errors
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import (
    Bcc,
    Category,
    Cc,
    CustomArg,
    From,
    Mail,
    MailSettings,
    Personalization,
    SandBoxMode,
    To,
)

from chaoskit import (
    ConnectionReset,
    FaultRule,
    RateLimit,
    ServerError,
    Target,
    TimeoutAfterCommit,
    World,
)
from chaoskit.fakes import SendGrid, backend_names
from chaoskit.fakes.registry import backend_class
from chaoskit.fakes.sendgrid import SendGridOptions
from chaoskit.fakes.sendgrid.params import MailSend
from chaoskit.fakes.sendgrid.params import Personalization as PersonalizationModel
from chaoskit.world.trace import ResponseEvent

KEY = SendGrid.DEFAULT_API_KEY
SEND = "sendgrid: POST /v3/mail/send"
SPEC = json.loads((Path(__file__).parent / "data" / "sendgrid_oai.json").read_text())


def at(target: str, fault: object, **schedule: object) -> FaultRule:
    return FaultRule(fault=fault, target=Target.parse(target), **schedule)  # type: ignore[arg-type]


def refund_mail(to: str = "ap@acme.test") -> Mail:
    return Mail("billing@shop.test", to, "Your refund", plain_text_content="It is on its way.")


def client(key: str = KEY) -> SendGridAPIClient:
    return SendGridAPIClient(key)


def error_body(error: http_errors.HTTPError) -> dict[str, Any]:
    body: dict[str, Any] = error.to_dict
    return body


def raw_send(body: dict[str, Any]) -> Any:
    """A send of a hand-built body, as an agent bypassing the Mail helper would make it."""
    return client().send(body)


# -- sending ------------------------------------------------------------------------------------


def test_scenarios_name_sendgrid_and_a_default_world_leaves_its_real_host_alone() -> None:
    assert backend_class("sendgrid") is SendGrid
    assert "sendgrid" in backend_names()
    assert "sendgrid" not in World().backends


def test_a_mail_sent_with_the_sdk_is_accepted_with_202_an_empty_body_and_a_message_id() -> None:
    with World([SendGrid()]) as world:
        response = client().send(refund_mail())
    assert response.status_code == 202
    assert response.body == b""
    message_id = response.headers["X-Message-Id"]
    assert len(message_id) == 22
    (sent,) = world.ledger("sendgrid")
    assert sent.kind == "mail.sent"
    assert sent.fields["to"] == ["ap@acme.test"]
    assert sent.fields["x_message_id"] == message_id
    assert sent.fields["body"] == "It is on its way."
    assert sent.principal == "platform"


def test_each_personalization_is_one_mail_sent_with_its_own_recipients_and_subject() -> None:
    mail = Mail(from_email=From("billing@shop.test", "Shop"))
    mail.template_id = "d-" + "0123456789abcdef" * 2
    first = Personalization()
    first.add_to(To("ap@acme.test"))
    first.add_cc(Cc("cfo@acme.test"))
    first.add_bcc(Bcc("audit@shop.test"))
    first.dynamic_template_data = {"amount": "$42.00"}
    first.subject = "Your refund"
    second = Personalization()
    second.add_to(To("Ops@Globex.test"))
    second.add_custom_arg(CustomArg("order", "1042"))
    mail.add_personalization(first)
    mail.add_personalization(second)
    mail.category = Category("refunds")
    with World([SendGrid()]) as world:
        response = client().send(mail)
    assert response.status_code == 202
    two, one = world.ledger("sendgrid")  # the SDK puts each added personalization first
    assert (one.fields["to"], one.fields["cc"], one.fields["bcc"]) == (
        ["ap@acme.test"],
        ["cfo@acme.test"],
        ["audit@shop.test"],
    )
    assert one.fields["recipients"] == ["ap@acme.test", "cfo@acme.test", "audit@shop.test"]
    assert one.fields["subject"] == "Your refund"
    assert one.fields["dynamic_template_data"] == {"amount": "$42.00"}
    assert two.fields["to"] == ["ops@globex.test"]  # addresses are compared lower-cased
    assert two.fields["custom_args"] == {"order": "1042"}
    assert one.fields["categories"] == ["refunds"]
    assert one.fields["x_message_id"] == two.fields["x_message_id"]


def test_a_sandbox_send_is_validated_answered_200_and_never_sent() -> None:
    mail = refund_mail()
    settings = MailSettings()
    settings.sandbox_mode = SandBoxMode(True)
    mail.mail_settings = settings
    with World([SendGrid()]) as world:
        response = client().send(mail)
        listed = client().client.messages.get(query_params={"limit": 10})
        bad = {**mail.get(), "from": {"email": "not an address"}}
        with pytest.raises(http_errors.BadRequestsError):
            raw_send(bad)
    assert response.status_code == 200
    assert "X-Message-Id" not in response.headers
    assert world.ledger("sendgrid") == ()
    assert listed.to_dict == {"messages": []}


# -- validation: SendGrid's 400s ----------------------------------------------------------------


def test_a_send_without_from_raises_bad_requests_error_naming_from_email() -> None:
    body = refund_mail().get()
    del body["from"]
    with World([SendGrid()]) as world, pytest.raises(http_errors.BadRequestsError) as caught:
        raw_send(body)
    (problem,) = error_body(caught.value)["errors"]
    assert problem["field"] == "from.email"
    assert problem["message"].startswith("The from object must be provided for every email send.")
    assert problem["help"].endswith("#message.from")
    assert world.ledger("sendgrid") == ()


def test_a_send_without_personalizations_is_refused() -> None:
    body = {**refund_mail().get(), "personalizations": []}
    with World([SendGrid()]), pytest.raises(http_errors.BadRequestsError) as caught:
        raw_send(body)
    assert [p["field"] for p in error_body(caught.value)["errors"]] == ["personalizations"]


def test_more_than_a_thousand_recipients_in_all_are_refused() -> None:
    people = [{"email": f"person{i}@acme.test"} for i in range(600)]
    copied = [{"email": f"copy{i}@acme.test"} for i in range(401)]
    personalizations = [{"to": people[:300]}, {"to": people[300:], "bcc": copied}]
    body = {**refund_mail().get(), "personalizations": personalizations}
    with World([SendGrid()]) as world, pytest.raises(http_errors.BadRequestsError) as caught:
        raw_send(body)
    (problem,) = error_body(caught.value)["errors"]
    assert problem["message"] == (
        "There is a limit of 1000 total recipients (to + cc + bcc) per request."
    )
    assert world.ledger("sendgrid") == ()


def test_exactly_a_thousand_recipients_are_sent() -> None:
    people = [{"email": f"person{i}@acme.test"} for i in range(1000)]
    body = {**refund_mail().get(), "personalizations": [{"to": people}]}
    with World([SendGrid()]) as world:
        assert raw_send(body).status_code == 202
    assert len(world.ledger("sendgrid")[0].fields["recipients"]) == 1000  # type: ignore[arg-type]


def test_every_problem_of_a_send_is_listed_in_one_answer_with_its_field() -> None:
    body = {
        "personalizations": [
            {"to": [{"email": "ap@acme.test"}, {"email": "not-an-address"}]},
            {"to": [{"email": "ap@acme.test"}], "cc": [{"email": "ap@acme.test"}]},
        ],
        "from": {"email": "billing@shop.test"},
        "content": [{"type": "text/plain", "value": "Hello"}],
        "categories": [f"c{i}" for i in range(11)],
    }
    with World([SendGrid()]), pytest.raises(http_errors.BadRequestsError) as caught:
        raw_send(body)
    fields = [p["field"] for p in error_body(caught.value)["errors"]]
    assert fields == [
        "personalizations.0.to.1.email",
        "personalizations.1",
        "subject",
        "categories",
    ]


def test_a_template_stands_in_for_subject_and_content_but_must_be_a_valid_id() -> None:
    base = {
        "personalizations": [{"to": [{"email": "ap@acme.test"}]}],
        "from": {"email": "billing@shop.test"},
    }
    with World([SendGrid()]) as world:
        assert raw_send({**base, "template_id": "d-" + "a" * 32}).status_code == 202
        with pytest.raises(http_errors.BadRequestsError) as caught:
            raw_send({**base, "template_id": "refund-template"})
    fields = [p["field"] for p in error_body(caught.value)["errors"]]
    assert fields == ["template_id", "subject", "content"]
    assert len(world.ledger("sendgrid")) == 1


def test_a_body_that_is_not_json_is_a_bad_request() -> None:
    sdk = client()
    sdk.client.request_headers["Content-Type"] = "text/plain"
    with World([SendGrid()]), pytest.raises(http_errors.BadRequestsError) as caught:
        sdk.client.mail.send.post(request_body="personalizations please")
    assert error_body(caught.value) == {
        "errors": [{"message": "Bad Request", "field": None, "help": None}]
    }


# -- keys, scopes, limits -------------------------------------------------------------------------


def test_an_unknown_key_raises_unauthorized_error_in_sendgrids_shape() -> None:
    with World([SendGrid()]) as world, pytest.raises(http_errors.UnauthorizedError) as caught:
        client("SG.not-a-key.at-all").send(refund_mail())
    assert caught.value.status_code == 401
    (problem,) = error_body(caught.value)["errors"]
    assert problem == {
        "message": "The provided authorization grant is invalid, expired, or revoked",
        "field": None,
        "help": None,
    }
    assert world.ledger("sendgrid") == ()


def test_a_key_without_the_mail_send_scope_raises_forbidden_error_and_may_still_read() -> None:
    fake = SendGrid(api_keys={"SG.reader.only": ["messages.read"]})
    with World([fake]) as world:
        with pytest.raises(http_errors.ForbiddenError) as caught:
            client("SG.reader.only").send(refund_mail())
        listed = client("SG.reader.only").client.messages.get(query_params={"limit": 1})
    assert error_body(caught.value)["errors"][0]["message"] == "access forbidden"
    assert listed.status_code == 200
    assert world.ledger("sendgrid") == ()


def test_a_scenarios_options_narrow_the_tasks_key_and_the_size_limit() -> None:
    fake = SendGrid()
    fake.apply_options(SendGridOptions(scopes=("mail.send",), max_request_bytes=400))
    long_mail = refund_mail()
    long_mail.add_content("x" * 500, "text/html")
    with World([fake]) as world:
        with pytest.raises(http_errors.PayloadTooLargeError) as too_large:
            client().send(long_mail)
        with pytest.raises(http_errors.ForbiddenError):
            client().client.messages.get(query_params={"limit": 1})
        assert client().send(refund_mail()).status_code == 202
    assert error_body(too_large.value)["errors"][0]["message"] == "content too large"
    assert len(world.ledger("sendgrid")) == 1


# -- faults, as the SDK surfaces them --------------------------------------------------------------


def test_an_injected_429_raises_too_many_requests_with_sendgrids_rate_limit_headers() -> None:
    rule = at(SEND, RateLimit(retry_after=3), calls=(1,))
    with World([SendGrid()], faults=[rule]) as world:
        with pytest.raises(http_errors.TooManyRequestsError) as caught:
            client().send(refund_mail())
        now = world.clock.time()
        assert client().send(refund_mail()).status_code == 202
    headers = caught.value.headers
    assert (headers["X-RateLimit-Limit"], headers["X-RateLimit-Remaining"]) == ("600", "0")
    assert int(headers["X-RateLimit-Reset"]) == int(now) + 3
    assert "Retry-After" not in headers
    assert error_body(caught.value)["errors"][0]["message"] == "too many requests"
    assert len(world.ledger("sendgrid")) == 1
    # The world reads the reset time as the wait the rate limit asked for.
    (limited, _) = world.trace.of("response")
    assert isinstance(limited, ResponseEvent) and limited.retry_after == 3


@pytest.mark.parametrize(
    ("status", "raised"),
    [
        (500, http_errors.InternalServerError),
        (503, http_errors.ServiceUnavailableError),
        (504, http_errors.GatewayTimeoutError),
        (502, http_errors.HTTPError),
    ],
)
def test_a_5xx_storm_raises_the_sdks_own_error_until_it_passes(
    status: int, raised: type[http_errors.HTTPError]
) -> None:
    rule = at(SEND, ServerError(status=status, burst=2), calls=(1,))  # type: ignore[arg-type]
    with World([SendGrid()], faults=[rule]) as world:
        for _ in range(2):
            with pytest.raises(raised) as caught:
                client().send(refund_mail())
            assert caught.value.status_code == status
            assert "errors" in error_body(caught.value)
        assert client().send(refund_mail()).status_code == 202
    assert len(world.ledger("sendgrid")) == 1


def test_a_5xx_after_commit_sent_the_mail_the_agent_was_told_failed() -> None:
    rule = at(SEND, ServerError(status=500, phase="after_commit"), calls=(1,))
    with (
        World([SendGrid()], faults=[rule]) as world,
        pytest.raises(http_errors.InternalServerError),
    ):
        client().send(refund_mail())
    assert [e.kind for e in world.ledger("sendgrid")] == ["mail.sent"]


def test_a_timeout_after_commit_raises_socket_timeout_and_the_mail_went_out() -> None:
    sdk = client()
    sdk.client.timeout = 5
    with World([SendGrid()], faults=[at(SEND, TimeoutAfterCommit(), calls=(1,))]) as world:
        with pytest.raises(TimeoutError, match="timed out"):  # socket.timeout is TimeoutError
            sdk.send(refund_mail())
        assert world.clock.monotonic() == 5  # the SDK's own timeout, on the virtual clock
        sdk.send(refund_mail())  # a naive retry: SendGrid has no idempotency keys
    assert [e.fields["to"] for e in world.ledger("sendgrid")] == [["ap@acme.test"]] * 2


def test_a_reset_after_commit_raises_the_connection_error_urllib_raises() -> None:
    rule = at(SEND, ConnectionReset(phase="after_commit"), calls=(1,))
    with World([SendGrid()], faults=[rule]) as world, pytest.raises(ConnectionResetError):
        client().send(refund_mail())
    assert len(world.ledger("sendgrid")) == 1


def test_another_region_is_not_served_and_fails_as_urllib_fails_to_connect() -> None:
    sdk = client()
    sdk.set_sendgrid_data_residency("eu")
    with World([SendGrid()]), pytest.raises(urllib.error.URLError, match=r"api\.eu\.sendgrid\.com"):
        sdk.send(refund_mail())


# -- email activity -------------------------------------------------------------------------------


def _send_three(sdk: SendGridAPIClient) -> None:
    sdk.send(refund_mail("ap@acme.test"))
    receipt = Mail("billing@shop.test", "ops@globex.test", "Receipt 1042", "Thanks.")
    receipt.category = Category("receipts")
    sdk.send(receipt)
    sdk.send(refund_mail("cfo@acme.test"))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('to_email="ap@acme.test"', ["ap@acme.test"]),
        ('to_email LIKE "%@acme.test"', ["cfo@acme.test", "ap@acme.test"]),
        ('subject="Your refund" AND NOT to_email="ap@acme.test"', ["cfo@acme.test"]),
        ('to_email IN ("ops@globex.test", "ap@acme.test")', ["ops@globex.test", "ap@acme.test"]),
        (
            '(Contains(categories,"receipts")) OR to_email="cfo@acme.test"',
            ["cfo@acme.test", "ops@globex.test"],
        ),
        ('status="delivered" AND subject NOT LIKE "%refund%"', ["ops@globex.test"]),
    ],
)
def test_the_activity_query_finds_what_went_out_newest_first(
    query: str, expected: list[str]
) -> None:
    with World([SendGrid()]):
        sdk = client()
        _send_three(sdk)
        found = sdk.client.messages.get(query_params={"query": query, "limit": 10})
    assert [m["to_email"] for m in found.to_dict["messages"]] == expected


def test_the_activity_list_honours_limit_and_refuses_a_bad_one() -> None:
    with World([SendGrid()]):
        sdk = client()
        _send_three(sdk)
        found = sdk.client.messages.get(query_params={"limit": 2})
        with pytest.raises(http_errors.BadRequestsError) as caught:
            sdk.client.messages.get(query_params={"limit": 1001})
    assert len(found.to_dict["messages"]) == 2
    assert error_body(caught.value)["errors"][0]["field"] == "limit"


def test_a_query_naming_an_unknown_field_is_a_bad_request_that_names_the_known_ones() -> None:
    with World([SendGrid()]), pytest.raises(http_errors.BadRequestsError) as caught:
        client().client.messages.get(query_params={"query": 'recipient="ap@acme.test"'})
    message = error_body(caught.value)["errors"][0]["message"]
    assert message.startswith("invalid syntax: 'recipient' is not a known field")
    assert "to_email" in message


def test_a_message_is_read_back_by_its_msg_id_and_an_unknown_one_is_not_found() -> None:
    with World([SendGrid()]) as world:
        sdk = client()
        _send_three(sdk)
        msg_id = world.ledger("sendgrid")[1].object_id
        detail = sdk.client.messages._(msg_id).get()
        with pytest.raises(http_errors.NotFoundError) as caught:
            sdk.client.messages._("nope.filterdrecv-0-0.0").get()
    assert detail.to_dict["to_email"] == "ops@globex.test"
    assert detail.to_dict["categories"] == ["receipts"]
    assert [e["event_name"] for e in detail.to_dict["events"]] == ["processed", "delivered"]
    assert error_body(caught.value)["errors"] == [
        {"message": "not found", "field": "message_id", "help": None}
    ]


# -- against SendGrid's published description -----------------------------------------------------


def _type_of(value: object) -> str:
    names = {str: "string", int: "integer", list: "array", dict: "object", bool: "boolean"}
    return names[type(value)]


def test_activity_rows_carry_every_field_the_description_requires_with_its_type() -> None:
    listing, detail = SPEC["messages_list"], SPEC["message_detail"]
    with World([SendGrid()]):
        sdk = client()
        _send_three(sdk)
        rows = sdk.client.messages.get(query_params={"limit": 3}).to_dict["messages"]
        full = sdk.client.messages._(rows[0]["msg_id"]).get().to_dict
    for row in rows:
        assert set(row) == set(listing["item_required"])
        assert {k: _type_of(v) for k, v in row.items()} == listing["item_types"]
    assert set(detail["required"]) <= set(full)
    assert {k: _type_of(full[k]) for k in detail["types"]} == detail["types"]
    assert full["status"] in detail["status_enum"]
    for event in full["events"]:
        assert set(detail["event_required"]) <= set(event)


def test_the_mail_send_body_declares_what_the_description_names_and_requires() -> None:
    spec = SPEC["mail_send"]
    declared = {f.alias or name: f for name, f in MailSend.model_fields.items()}
    assert sorted(declared) == spec["properties"]
    assert sorted(n for n, f in declared.items() if f.is_required()) == sorted(spec["required"])
    personal = {f.alias or n for n, f in PersonalizationModel.model_fields.items()}
    assert sorted(personal) == spec["personalizations"]["item_properties"]


def test_the_fake_answers_only_with_statuses_the_description_lists_and_its_error_fields() -> None:
    with World([SendGrid()]) as world:
        for attempt in (refund_mail().get(), {}):
            try:
                raw_send(attempt)
            except http_errors.HTTPError as error:
                assert set(error_body(error)["errors"][0]) == set(
                    SPEC["error_response"]["properties"]
                )
    statuses = {str(e.status) for e in world.trace.of("response")}  # type: ignore[union-attr]
    assert statuses == {"202", "400"} <= set(SPEC["mail_send"]["responses"])


# -- server mode ----------------------------------------------------------------------------------


def test_the_sdk_sends_over_loopback_when_the_world_is_served() -> None:
    world = World([SendGrid()])
    with world.serve() as served:
        env = served.env
        sdk = SendGridAPIClient(env["SENDGRID_API_KEY"], host=env["SENDGRID_HOST"])
        response = sdk.send(refund_mail())
    assert response.status_code == 202
    assert world.ledger("sendgrid")[0].fields["x_message_id"] == response.headers["X-Message-Id"]
