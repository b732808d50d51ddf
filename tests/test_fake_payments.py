"""The payments fake: Stripe's wire format, refunds and idempotency, over HTTP and the SDK."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import requests
import stripe
import urllib3
from requests.adapters import HTTPAdapter

from chaoskit.core.clock import VirtualClock
from chaoskit.core.errors import WorldError
from chaoskit.fakes.payments import Payments

KEY = Payments.DEFAULT_API_KEY
DAY = 24 * 60 * 60.0


class FakeStripeAdapter(HTTPAdapter):
    """A requests adapter that answers from a fake instead of the network."""

    def __init__(self, answer: Callable[[httpx.Request], httpx.Response]) -> None:
        super().__init__()
        self.answer = answer

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        body = request.body or b""
        content = body.encode() if isinstance(body, str) else body
        raw = httpx.Request(
            str(request.method), str(request.url), headers=dict(request.headers), content=content
        )
        answer = self.answer(raw)
        reply = urllib3.HTTPResponse(
            body=io.BytesIO(answer.content),
            headers=dict(answer.headers),
            status=answer.status_code,
            preload_content=False,
        )
        return self.build_response(request, reply)


def sdk_client(
    answer: Callable[[httpx.Request], httpx.Response], *, api_key: str = KEY
) -> stripe.StripeClient:
    session = requests.Session()
    session.mount("https://", FakeStripeAdapter(answer))
    # No retries: each test sees exactly what one request got.
    return stripe.StripeClient(
        api_key, http_client=stripe.RequestsClient(session=session), max_network_retries=0
    )


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def fake(clock: VirtualClock) -> Payments:
    fake = Payments()
    fake.bind(clock=clock, seed=0)
    return fake


@pytest.fixture
def http(fake: Payments) -> Iterator[httpx.Client]:
    with httpx.Client(
        transport=httpx.MockTransport(fake.serve),
        base_url="https://api.stripe.com",
        headers={"Authorization": f"Bearer {KEY}"},
    ) as client:
        yield client


@pytest.fixture
def sdk(fake: Payments) -> stripe.StripeClient:
    return sdk_client(fake.serve)


def post(
    http: httpx.Client, path: str, data: Mapping[str, str], key: str | None = None
) -> httpx.Response:
    headers = {} if key is None else {"Idempotency-Key": key}
    return http.post(path, data=dict(data), headers=headers)


# -- objects in Stripe's shape --------------------------------------------------------------


def test_a_charge_made_with_a_test_token_has_stripes_shape_and_can_be_read_back(
    http: httpx.Client, fake: Payments
) -> None:
    customer = fake.add_customer(name="Ada", email="ada@example.com")
    data = {"amount": "2000", "currency": "USD", "source": "tok_visa", "customer": customer}
    created = post(http, "/v1/charges", data | {"metadata[order]": "42"})
    assert created.status_code == 200
    charge = created.json()
    assert charge["id"].startswith("ch_")
    assert charge["object"] == "charge"
    assert charge["livemode"] is False
    assert charge["created"] == 1_767_225_600
    assert charge["metadata"] == {"order": "42"}
    assert (charge["amount"], charge["currency"], charge["status"]) == (2000, "usd", "succeeded")
    assert (charge["amount_refunded"], charge["refunded"], charge["paid"]) == (0, False, True)
    assert http.get(f"/v1/charges/{charge['id']}").json() == charge
    listed = http.get("/v1/charges", params={"customer": customer}).json()
    assert listed == {"object": "list", "data": [charge], "has_more": False, "url": "/v1/charges"}


def test_the_stripe_sdk_charges_refunds_and_lists_the_refunds(
    sdk: stripe.StripeClient, fake: Payments
) -> None:
    charge = sdk.v1.charges.create(params={"amount": 2000, "currency": "usd", "source": "tok_visa"})
    assert sdk.v1.charges.retrieve(charge.id).amount == 2000
    refund = sdk.v1.refunds.create(
        params={
            "charge": charge.id,
            "amount": 500,
            "reason": "requested_by_customer",
            "metadata": {"ticket": "T-1"},
        }
    )
    assert (refund.object, refund.amount, refund.charge) == ("refund", 500, charge.id)
    assert refund.metadata is not None
    assert refund.metadata.to_dict() == {"ticket": "T-1"}
    assert refund.reason == "requested_by_customer"
    assert sdk.v1.refunds.retrieve(refund.id).id == refund.id
    listed = sdk.v1.refunds.list(params={"charge": charge.id})
    assert [r.id for r in listed.data] == [refund.id]
    assert sdk.v1.charges.retrieve(charge.id).amount_refunded == 500
    assert fake.refunds_for(charge.id)[0]["metadata"] == {"ticket": "T-1"}


def test_a_refund_without_an_amount_refunds_the_remainder_and_marks_the_charge_refunded(
    http: httpx.Client, fake: Payments
) -> None:
    charge_id = fake.add_charge(customer=None, amount=3000)
    post(http, "/v1/refunds", {"charge": charge_id, "amount": "1000"})
    rest = post(http, "/v1/refunds", {"charge": charge_id}).json()
    assert rest["amount"] == 2000
    charge = fake.charge(charge_id)
    assert (charge["amount_refunded"], charge["refunded"]) == (3000, True)
    entries = fake.ledger.entries("refund.created")
    assert [e.fields["amount"] for e in entries] == [1000, 2000]
    assert entries[0].fields["charge"] == charge_id
    assert entries[0].fields["currency"] == "usd"
    assert entries[0].principal == "platform"


def test_a_payment_intent_confirmed_with_pm_card_visa_creates_a_charge_that_can_be_refunded(
    sdk: stripe.StripeClient, fake: Payments
) -> None:
    intent = sdk.v1.payment_intents.create(params={"amount": 1500, "currency": "usd"})
    assert intent.status == "requires_payment_method"
    confirmed = sdk.v1.payment_intents.confirm(intent.id, params={"payment_method": "pm_card_visa"})
    assert confirmed.status == "succeeded"
    assert confirmed.amount_received == 1500
    charge = sdk.v1.charges.retrieve(str(confirmed.latest_charge))
    assert charge.payment_intent == intent.id
    refund = sdk.v1.refunds.create(params={"payment_intent": intent.id})
    assert (refund.charge, refund.payment_intent, refund.amount) == (charge.id, intent.id, 1500)
    by_intent = sdk.v1.refunds.list(params={"payment_intent": intent.id})
    assert [r.id for r in by_intent.data] == [refund.id]
    kinds = [e.kind for e in fake.ledger]
    assert kinds == [
        "payment_intent.created",
        "charge.created",
        "payment_intent.confirmed",
        "refund.created",
    ]


def test_a_declined_confirmation_leaves_the_payment_intent_needing_a_payment_method(
    sdk: stripe.StripeClient,
) -> None:
    intent = sdk.v1.payment_intents.create(
        params={"amount": 1500, "currency": "usd", "payment_method": "pm_card_chargeDeclined"}
    )
    with pytest.raises(stripe.CardError) as declined:
        sdk.v1.payment_intents.confirm(intent.id)
    assert declined.value.code == "card_declined"
    after = sdk.v1.payment_intents.retrieve(intent.id)
    assert after.status == "requires_payment_method"
    assert after.last_payment_error is not None


def test_lists_are_newest_first_and_page_with_limit_and_starting_after(
    http: httpx.Client, fake: Payments
) -> None:
    ids = [fake.add_customer(name=f"c{i}", email=f"c{i}@example.com") for i in range(3)]
    first = http.get("/v1/customers", params={"limit": "2"}).json()
    assert [c["id"] for c in first["data"]] == [ids[2], ids[1]]
    assert first["has_more"] is True
    after = {"limit": "2", "starting_after": ids[1]}
    rest = http.get("/v1/customers", params=after).json()
    assert ([c["id"] for c in rest["data"]], rest["has_more"]) == ([ids[0]], False)


def test_expand_replaces_an_id_with_its_object(http: httpx.Client, fake: Payments) -> None:
    charge_id = fake.add_charge(customer=None, amount=900)
    refund = post(http, "/v1/refunds", {"charge": charge_id, "expand[0]": "charge"}).json()
    assert refund["charge"]["id"] == charge_id
    assert refund["charge"]["amount_refunded"] == 900


# -- errors in Stripe's envelope -----------------------------------------------------------


def test_a_refund_above_the_unrefunded_amount_raises_invalid_request_error(
    sdk: stripe.StripeClient, fake: Payments
) -> None:
    charge_id = fake.add_charge(customer=None, amount=2000)
    sdk.v1.refunds.create(params={"charge": charge_id, "amount": 500})
    with pytest.raises(stripe.InvalidRequestError) as too_large:
        sdk.v1.refunds.create(params={"charge": charge_id, "amount": 5000})
    assert too_large.value.http_status == 400
    assert too_large.value.code == "amount_too_large"
    assert too_large.value.param == "amount"
    assert too_large.value.user_message == (
        "Refund amount ($50.00) is greater than unrefunded amount on charge ($15.00)"
    )
    assert len(fake.refunds_for(charge_id)) == 1


def test_a_fully_refunded_charge_refuses_another_refund(
    sdk: stripe.StripeClient, fake: Payments
) -> None:
    charge_id = fake.add_charge(customer=None, amount=2000)
    sdk.v1.refunds.create(params={"charge": charge_id})
    with pytest.raises(stripe.InvalidRequestError) as again:
        sdk.v1.refunds.create(params={"charge": charge_id, "amount": 1})
    assert again.value.code == "charge_already_refunded"
    assert again.value.user_message == f"Charge {charge_id} has already been refunded."
    assert len(fake.ledger.entries("refund.created")) == 1


def test_a_declined_test_token_is_a_402_card_error_naming_the_failed_charge(
    http: httpx.Client, fake: Payments
) -> None:
    data = {"amount": "2000", "currency": "usd", "source": "tok_chargeDeclined"}
    declined = post(http, "/v1/charges", data)
    assert declined.status_code == 402
    error = declined.json()["error"]
    assert (error["type"], error["code"], error["decline_code"]) == (
        "card_error",
        "card_declined",
        "generic_decline",
    )
    assert error["message"] == "Your card was declined."
    assert fake.charge(error["charge"])["status"] == "failed"
    assert [e.kind for e in fake.ledger] == ["charge.failed"]


def test_missing_and_unknown_parameters_are_refused_in_stripes_words(http: httpx.Client) -> None:
    missing = post(http, "/v1/charges", {"currency": "usd", "source": "tok_visa"})
    assert missing.status_code == 400
    assert missing.json()["error"] == {
        "message": "Missing required param: amount.",
        "type": "invalid_request_error",
        "code": "parameter_missing",
        "doc_url": "https://stripe.com/docs/error-codes/parameter-missing",
        "param": "amount",
    }
    unknown = post(http, "/v1/refunds", {"charge": "ch_x", "amout": "5"})
    assert unknown.json()["error"]["code"] == "parameter_unknown"
    assert unknown.json()["error"]["message"] == "Received unknown parameter: amout"


def test_an_unknown_id_is_resource_missing_404_on_the_path_and_400_in_the_body(
    http: httpx.Client,
) -> None:
    path = http.get("/v1/charges/ch_nope")
    assert path.status_code == 404
    assert path.json()["error"]["code"] == "resource_missing"
    assert path.json()["error"]["message"] == "No such charge: 'ch_nope'"
    body = post(http, "/v1/refunds", {"charge": "ch_nope"})
    assert (body.status_code, body.json()["error"]["param"]) == (400, "charge")


def test_a_missing_or_unknown_key_is_stripes_401(fake: Payments) -> None:
    with httpx.Client(transport=httpx.MockTransport(fake.serve)) as anonymous:
        bare = anonymous.post("https://api.stripe.com/v1/charges", data={"amount": "100"})
    assert bare.status_code == 401
    assert bare.json()["error"]["type"] == "invalid_request_error"
    assert bare.json()["error"]["message"].startswith("You did not provide an API key.")
    assert "request-id" in bare.headers
    with pytest.raises(stripe.AuthenticationError) as unknown:
        sdk_client(fake.serve, api_key="sk_test_wrongkey1234").v1.customers.list()
    assert unknown.value.user_message == "Invalid API Key provided: sk_test_********1234"
    assert len(fake.ledger) == 0


def test_the_secret_key_is_also_accepted_as_the_basic_auth_username(fake: Payments) -> None:
    transport = httpx.MockTransport(fake.serve)
    with httpx.Client(transport=transport, auth=(KEY, "")) as basic:
        answer = basic.post("https://api.stripe.com/v1/customers", data={"name": "Ada"})
    assert answer.status_code == 200
    assert fake.ledger.entries("customer.created")[0].principal == "platform"


def test_injected_faults_raise_the_sdks_rate_limit_and_api_errors(fake: Payments) -> None:
    rate_limited = fake.fault_response(429, retry_after=2)
    assert rate_limited.headers["Retry-After"] == "2"
    assert rate_limited.headers["Stripe-Should-Retry"] == "true"
    assert rate_limited.json()["error"]["code"] == "rate_limit"
    with pytest.raises(stripe.RateLimitError):
        sdk_client(lambda raw: fake.fault_response(429)).v1.customers.list()
    unavailable = fake.fault_response(503)
    assert unavailable.json()["error"]["type"] == "api_error"
    with pytest.raises(stripe.APIError) as server:
        sdk_client(lambda raw: fake.fault_response(503)).v1.customers.list()
    assert server.value.http_status == 503


# -- idempotency ----------------------------------------------------------------------------


def test_a_replay_returns_the_same_refund_and_the_ledger_holds_one(
    sdk: stripe.StripeClient, fake: Payments
) -> None:
    charge_id = fake.add_charge(customer=None, amount=2000)
    first, second = (
        sdk.v1.refunds.create(
            params={"charge": charge_id, "amount": 700}, options={"idempotency_key": "refund-1"}
        )
        for _ in range(2)
    )
    assert second.id == first.id
    assert first.last_response is not None and second.last_response is not None
    assert second.last_response.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.last_response.headers
    assert second.last_response.request_id != first.last_response.request_id
    [entry] = fake.ledger.entries("refund.created")
    assert (entry.object_id, entry.idempotency_key) == (first.id, "refund-1")
    assert fake.charge(charge_id)["amount_refunded"] == 700


def test_the_same_key_with_other_parameters_raises_idempotency_error(
    sdk: stripe.StripeClient, fake: Payments
) -> None:
    charge_id = fake.add_charge(customer=None, amount=2000)
    sdk.v1.refunds.create(
        params={"charge": charge_id, "amount": 500}, options={"idempotency_key": "k"}
    )
    with pytest.raises(stripe.IdempotencyError) as misuse:
        sdk.v1.refunds.create(
            params={"charge": charge_id, "amount": 600}, options={"idempotency_key": "k"}
        )
    assert misuse.value.http_status == 400
    assert misuse.value.user_message == (
        "Keys for idempotent requests can only be used with the same parameters they were "
        "first used with. Try using a key other than 'k' if you meant to execute a different "
        "request."
    )
    assert len(fake.refunds_for(charge_id)) == 1


def test_the_same_key_on_another_endpoint_is_an_idempotency_error(http: httpx.Client) -> None:
    post(http, "/v1/customers", {"name": "Ada"}, key="k")
    other = post(http, "/v1/charges", {"name": "Ada"}, key="k")
    assert other.status_code == 400
    assert other.json()["error"]["type"] == "idempotency_error"
    assert "('/v1/charges' vs '/v1/customers')" in other.json()["error"]["message"]


def test_a_declined_card_is_stored_under_its_key_and_replayed(
    sdk: stripe.StripeClient, fake: Payments
) -> None:
    errors = []
    for _ in range(2):
        with pytest.raises(stripe.CardError) as declined:
            sdk.v1.charges.create(
                params={"amount": 2000, "currency": "usd", "source": "tok_chargeDeclined"},
                options={"idempotency_key": "decline"},
            )
        errors.append(declined.value)
    assert errors[0].json_body == errors[1].json_body
    assert errors[1].headers is not None
    assert errors[1].headers["idempotent-replayed"] == "true"
    assert [e.kind for e in fake.ledger] == ["charge.failed"]


def test_a_validation_error_is_not_stored_so_a_corrected_retry_with_the_key_succeeds(
    http: httpx.Client, fake: Payments
) -> None:
    charge_id = fake.add_charge(customer=None, amount=2000)
    bad = post(http, "/v1/refunds", {"charge": charge_id, "amount": "lots"}, key="fix-me")
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "parameter_invalid_integer"
    fixed = post(http, "/v1/refunds", {"charge": charge_id, "amount": "300"}, key="fix-me")
    assert fixed.status_code == 200
    assert "idempotent-replayed" not in fixed.headers
    assert fixed.json()["amount"] == 300


def test_a_refusal_after_execution_began_is_stored_and_replayed(
    http: httpx.Client, fake: Payments
) -> None:
    charge_id = fake.add_charge(customer=None, amount=2000)
    data = {"charge": charge_id, "amount": "9000"}
    first = post(http, "/v1/refunds", data, key="too-much")
    again = post(http, "/v1/refunds", data, key="too-much")
    assert first.status_code == again.status_code == 400
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"


def test_a_500_raised_by_a_handler_is_stored_and_replayed(
    http: httpx.Client, fake: Payments, monkeypatch: pytest.MonkeyPatch
) -> None:
    charge_id = fake.add_charge(customer=None, amount=2000)

    def broken(req: object) -> httpx.Response:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(fake, "create_refund", broken)
    crashed = post(http, "/v1/refunds", {"charge": charge_id}, key="boom")
    assert crashed.status_code == 500
    assert crashed.headers["Stripe-Should-Retry"] == "false"
    error = crashed.json()["error"]
    assert error["type"] == "api_error"
    assert error["message"].startswith("chaoskit: the payments fake raised RuntimeError")
    monkeypatch.undo()
    replayed = post(http, "/v1/refunds", {"charge": charge_id}, key="boom")
    assert (replayed.status_code, replayed.content) == (500, crashed.content)
    assert post(http, "/v1/refunds", {"charge": charge_id}, key="new").status_code == 200


def test_a_key_expires_after_24_hours_of_virtual_time(
    http: httpx.Client, fake: Payments, clock: VirtualClock
) -> None:
    charge_id = fake.add_charge(customer=None, amount=2000)
    data = {"charge": charge_id, "amount": "500"}
    first = post(http, "/v1/refunds", data, key="daily").json()
    clock.advance(DAY - 1)
    assert post(http, "/v1/refunds", data, key="daily").json()["id"] == first["id"]
    clock.advance(1)
    later = post(http, "/v1/refunds", data, key="daily")
    assert "idempotent-replayed" not in later.headers
    assert later.json()["id"] != first["id"]
    assert len(fake.ledger.entries("refund.created")) == 2


def test_a_request_whose_key_is_in_flight_gets_a_409_then_the_replay(
    http: httpx.Client, fake: Payments, monkeypatch: pytest.MonkeyPatch
) -> None:
    charge_id = fake.add_charge(customer=None, amount=2000)
    entered, release = threading.Event(), threading.Event()
    original = fake.create_refund

    def slow(req: Any) -> httpx.Response:
        entered.set()
        assert release.wait(5), "the test never released the first request"
        return original(req)

    monkeypatch.setattr(fake, "create_refund", slow)
    data = {"charge": charge_id, "amount": "100"}
    results: list[httpx.Response] = []
    first = threading.Thread(target=lambda: results.append(post(http, "/v1/refunds", data, "k")))
    first.start()
    assert entered.wait(5)
    conflict = post(http, "/v1/refunds", data, key="k")
    release.set()
    first.join(5)
    assert conflict.status_code == 409
    error = conflict.json()["error"]
    assert (error["type"], error["code"]) == ("invalid_request_error", "idempotency_key_in_use")
    assert error["message"].startswith(
        "There is currently another in-progress request using this Idempotent Key"
    )
    replay = post(http, "/v1/refunds", data, key="k")
    assert replay.json()["id"] == results[0].json()["id"]
    assert len(fake.refunds_for(charge_id)) == 1


def test_a_key_over_255_characters_is_refused_and_stores_nothing(
    http: httpx.Client, fake: Payments
) -> None:
    charge_id = fake.add_charge(customer=None, amount=2000)
    data = {"charge": charge_id, "amount": "100"}
    refused = post(http, "/v1/refunds", data, key="k" * 256)
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"].startswith(
        "Idempotent key length is 256, which is outside accepted lengths. Idempotent Keys "
        "must be 1-255 characters long."
    )
    assert fake.refunds_for(charge_id) == []
    assert post(http, "/v1/refunds", data, key="k" * 255).status_code == 200


def test_within_the_commit_latency_a_reused_key_gets_409_and_after_it_the_replay(
    http: httpx.Client, fake: Payments, clock: VirtualClock
) -> None:
    fake.set_commit_latency(2.0)
    charge_id = fake.add_charge(customer=None, amount=2000)
    data = {"charge": charge_id, "amount": "100"}
    first = post(http, "/v1/refunds", data, key="slow")
    assert first.status_code == 200
    clock.advance(1.5)
    conflict = post(http, "/v1/refunds", data, key="slow")
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "idempotency_key_in_use"
    clock.advance(0.5)
    replay = post(http, "/v1/refunds", data, key="slow")
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["id"] == first.json()["id"]
    assert len(fake.refunds_for(charge_id)) == 1


def test_without_commit_latency_a_finished_request_is_replayed_at_once(
    http: httpx.Client, fake: Payments
) -> None:
    charge_id = fake.add_charge(customer=None, amount=2000)
    data = {"charge": charge_id, "amount": "100"}
    first = post(http, "/v1/refunds", data, key="fast")
    assert post(http, "/v1/refunds", data, key="fast").json()["id"] == first.json()["id"]


def test_commit_latency_must_be_a_non_negative_number() -> None:
    with pytest.raises(WorldError, match="commit_latency must be a number of virtual seconds"):
        Payments(commit_latency=-1)


def test_bracket_arrays_count_in_the_idempotency_parameters(
    http: httpx.Client, fake: Payments
) -> None:
    charge_id = fake.add_charge(customer=None, amount=2000)
    both = [("charge", charge_id), ("expand[]", "charge"), ("expand[]", "payment_intent")]
    headers = {"Idempotency-Key": "arr"}
    assert http.post("/v1/refunds", content=_form(both), headers=headers).status_code == 200
    one = _form(both[:2])
    other = http.post("/v1/refunds", content=one, headers=headers)
    assert other.json()["error"]["type"] == "idempotency_error"


def _form(pairs: list[tuple[str, str]]) -> bytes:
    return urlencode(pairs).encode()


def test_eight_threads_racing_one_key_make_exactly_one_refund(fake: Payments) -> None:
    charge_id = fake.add_charge(customer=None, amount=2000)
    barrier = threading.Barrier(8)
    responses: list[httpx.Response] = []
    lock = threading.Lock()

    def race() -> None:
        with httpx.Client(
            transport=httpx.MockTransport(fake.serve),
            base_url="https://api.stripe.com",
            headers={"Authorization": f"Bearer {KEY}", "Idempotency-Key": "race"},
        ) as client:
            barrier.wait(5)
            answer = client.post("/v1/refunds", data={"charge": charge_id, "amount": "100"})
        with lock:
            responses.append(answer)

    threads = [threading.Thread(target=race) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    [refund] = fake.refunds_for(charge_id)
    originals = [
        r for r in responses if r.status_code == 200 and "idempotent-replayed" not in r.headers
    ]
    others = [r for r in responses if r not in originals]
    assert len(responses) == 8
    assert [r.json()["id"] for r in originals] == [refund["id"]]
    for other in others:
        replayed = other.status_code == 200 and other.json()["id"] == refund["id"]
        assert replayed or other.status_code == 409, other.text
    assert len(fake.ledger.entries("refund.created")) == 1


def test_reset_forgets_idempotency_keys(http: httpx.Client, fake: Payments) -> None:
    post(http, "/v1/customers", {"name": "Ada"}, key="k")
    fake.reset()
    again = post(http, "/v1/customers", {"name": "Grace"}, key="k")
    assert again.status_code == 200
    assert again.json()["name"] == "Grace"


# -- seeding, reading and determinism ------------------------------------------------------------


def test_seeded_records_exist_without_ledger_entries(fake: Payments) -> None:
    customer = fake.add_customer(name="Ada", email="ada@example.com")
    charge_id = fake.add_charge(customer=customer, amount=1234, description="order 7")
    charge = fake.charge(charge_id)
    assert (charge["customer"], charge["amount"], charge["captured"]) == (customer, 1234, True)
    assert charge["payment_intent"].startswith("pi_")
    assert charge["description"] == "order 7"
    assert fake.refunds_for(charge_id) == []
    assert len(fake.ledger) == 0


def test_read_helpers_name_an_unknown_id_and_suggest_the_close_one(fake: Payments) -> None:
    charge_id = fake.add_charge(customer=None, amount=1000)
    with pytest.raises(WorldError, match=rf"chaoskit: payments has no charge .*{charge_id!r}"):
        fake.charge(charge_id[:-1])
    with pytest.raises(WorldError, match="no customer 'cus_missing'"):
        fake.add_charge(customer="cus_missing", amount=100)


def test_the_same_seed_gives_the_same_ids_and_another_seed_other_ids() -> None:
    def ids(seed: int) -> list[str]:
        fake = Payments()
        fake.bind(clock=VirtualClock(), seed=seed)
        customer = fake.add_customer(name="Ada", email="ada@example.com")
        charge_id = fake.add_charge(customer=customer, amount=500)
        with httpx.Client(transport=httpx.MockTransport(fake.serve), auth=(KEY, "")) as client:
            url = "https://api.stripe.com/v1/refunds"
            refund = client.post(url, data={"charge": charge_id}).json()["id"]
        return [customer, charge_id, refund]

    assert ids(7) == ids(7)
    assert set(ids(7)).isdisjoint(ids(8))
