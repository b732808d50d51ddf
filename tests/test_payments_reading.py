"""Stripe's reading rules in the payments fake: ``expand`` and the list cursors and filters."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import stripe

from chaoskit import World
from chaoskit.core.clock import VirtualClock
from chaoskit.fakes.payments import Payments

KEY = Payments.DEFAULT_API_KEY


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


def error_of(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    error: dict[str, Any] = response.json()["error"]
    return error


def _paid_intent(http: httpx.Client, customer: str | None = None) -> dict[str, Any]:
    data = {"amount": "2000", "currency": "usd", "payment_method": "pm_card_visa"}
    data |= {"confirm": "true"} | ({"customer": customer} if customer else {})
    body: dict[str, Any] = http.post("/v1/payment_intents", data=data).json()
    return body


# -- expand ----------------------------------------------------------------------------------


def test_expand_in_the_bracket_form_expands_latest_charge(http: httpx.Client) -> None:
    intent = _paid_intent(http)
    got = http.get(f"/v1/payment_intents/{intent['id']}", params={"expand[]": "latest_charge"})
    assert got.json()["latest_charge"]["id"] == intent["latest_charge"]
    assert got.json()["latest_charge"]["object"] == "charge"


def test_several_bracket_expands_all_apply_and_nest(http: httpx.Client) -> None:
    customer = http.post("/v1/customers", data={"email": "ada@example.com"}).json()["id"]
    intent = _paid_intent(http, customer)
    params = [("expand[]", "customer"), ("expand[]", "latest_charge.customer")]
    got = http.get(f"/v1/payment_intents/{intent['id']}", params=params).json()
    assert got["customer"]["email"] == "ada@example.com"
    assert got["latest_charge"]["customer"]["id"] == customer


def test_a_refund_created_with_expand_charge_answers_the_refunded_charge(
    http: httpx.Client,
) -> None:
    intent = _paid_intent(http)
    data = {"payment_intent": intent["id"], "expand[]": "charge"}
    refund = http.post("/v1/refunds", data=data).json()
    assert refund["charge"]["amount_refunded"] == 2000
    assert refund["charge"]["refunds"]["data"][0]["id"] == refund["id"]


def test_lists_expand_under_data(http: httpx.Client) -> None:
    intent = _paid_intent(http)
    http.post("/v1/refunds", data={"payment_intent": intent["id"], "amount": "100"})
    listed = http.get("/v1/refunds", params={"expand[]": "data.charge"}).json()
    assert listed["data"][0]["charge"]["id"] == intent["latest_charge"]


def test_an_unknown_expand_path_is_refused_in_stripes_words(http: httpx.Client) -> None:
    intent = _paid_intent(http)
    error = error_of(http.get(f"/v1/payment_intents/{intent['id']}", params={"expand[]": "nope"}))
    assert error == {
        "message": "This property cannot be expanded (nope).",
        "type": "invalid_request_error",
        "param": "expand",
    }
    metadata = http.get(f"/v1/charges/{intent['latest_charge']}", params={"expand[]": "metadata"})
    assert error_of(metadata)["message"] == "This property cannot be expanded (metadata)."


def test_a_list_expand_without_data_suggests_the_data_path(http: httpx.Client) -> None:
    error = error_of(http.get("/v1/charges", params={"expand[]": "customer"}))
    assert error["message"] == (
        "This property cannot be expanded (customer). You may want to try expanding "
        "'data.customer' instead."
    )


def test_more_than_four_levels_are_refused(http: httpx.Client) -> None:
    path = "data.charge.payment_intent.latest_charge.customer"
    error = error_of(http.get("/v1/refunds", params={"expand[]": path}))
    assert error["message"] == "You cannot expand more than 4 levels of a property."


def test_expanding_an_object_the_fake_does_not_model_is_refused_with_a_teaching_error(
    http: httpx.Client,
) -> None:
    intent = _paid_intent(http)
    got = http.get(
        f"/v1/charges/{intent['latest_charge']}", params={"expand[]": "balance_transaction"}
    )
    message = error_of(got)["message"]
    assert message.startswith("chaoskit: the payments fake does not model balance_transaction")
    assert "leave it out of expand" in message


def test_a_bad_expand_on_a_create_is_refused_before_anything_runs(
    http: httpx.Client, fake: Payments
) -> None:
    data = {"amount": "2000", "currency": "usd", "source": "tok_visa", "expand[]": "nope"}
    error_of(http.post("/v1/charges", data=data, headers={"Idempotency-Key": "once"}))
    assert len(fake.ledger) == 0
    retried = http.post(
        "/v1/charges", data=data | {"expand[]": "customer"}, headers={"Idempotency-Key": "once"}
    )
    assert retried.status_code == 200, "the refused request stored nothing under its key"


def test_stripe_python_expands_through_the_fake() -> None:
    sdk = stripe.StripeClient(KEY, max_network_retries=0)
    with World([Payments()]):
        customer = sdk.v1.customers.create(params={"email": "ada@example.com"})
        intent = sdk.v1.payment_intents.create(
            params={
                "amount": 1000,
                "currency": "usd",
                "customer": customer.id,
                "payment_method": "pm_card_visa",
                "confirm": True,
                "expand": ["latest_charge", "customer"],
            }
        )
        listed = sdk.v1.charges.list(params={"expand": ["data.customer"]})
        with pytest.raises(stripe.InvalidRequestError, match=r"cannot be expanded \(nope\)"):
            sdk.v1.charges.list(params={"expand": ["data.nope"]})
    assert isinstance(intent.latest_charge, stripe.Charge)
    assert isinstance(intent.customer, stripe.Customer)
    assert listed.data[0].customer.email == "ada@example.com"  # type: ignore[union-attr]


# -- lists: both cursors, created --------------------------------------------------------------


def _customers(fake: Payments, clock: VirtualClock, n: int) -> list[str]:
    """``n`` customers, one per virtual second, oldest first."""
    ids = []
    for i in range(n):
        ids.append(fake.add_customer(name=f"c{i}", email=f"c{i}@example.com"))
        clock.advance(1)
    return ids


def _page(http: httpx.Client, **params: Any) -> tuple[list[str], bool]:
    body = http.get("/v1/customers", params=params).json()
    assert body["object"] == "list", body
    return [c["id"] for c in body["data"]], body["has_more"]


def test_ending_before_pages_back_toward_newer_objects_with_has_more(
    http: httpx.Client, fake: Payments, clock: VirtualClock
) -> None:
    c = _customers(fake, clock, 5)  # listed newest first: c4 c3 c2 c1 c0
    assert _page(http, limit=2, ending_before=c[0]) == ([c[2], c[1]], True)
    assert _page(http, limit=2, ending_before=c[2]) == ([c[4], c[3]], False)
    assert _page(http, limit=2, ending_before=c[4]) == ([], False)


def test_starting_after_and_ending_before_walk_the_same_pages(
    http: httpx.Client, fake: Payments, clock: VirtualClock
) -> None:
    c = _customers(fake, clock, 5)
    forward = [_page(http, limit=2)]
    while forward[-1][1]:
        forward.append(_page(http, limit=2, starting_after=forward[-1][0][-1]))
    assert forward == [([c[4], c[3]], True), ([c[2], c[1]], True), ([c[0]], False)]
    back = _page(http, limit=2, ending_before=forward[-1][0][0])
    assert back == (forward[1][0], True)


def test_both_cursors_at_once_are_refused(http: httpx.Client, fake: Payments) -> None:
    cus = fake.add_customer(name="a", email="a@example.com")
    error = error_of(
        http.get("/v1/customers", params={"starting_after": cus, "ending_before": cus})
    )
    assert "only specify one of these parameters" in error["message"]


def test_created_filters_by_exact_time_and_by_bounds(
    http: httpx.Client, fake: Payments, clock: VirtualClock
) -> None:
    c = _customers(fake, clock, 4)
    t0 = http.get(f"/v1/customers/{c[0]}").json()["created"]
    assert _page(http, created=t0 + 1) == ([c[1]], False)
    assert _page(http, **{"created[gte]": t0 + 1, "created[lt]": t0 + 3}) == ([c[2], c[1]], False)
    assert _page(http, **{"created[gt]": t0 + 2}) == ([c[3]], False)
    assert _page(http, **{"created[lte]": t0, "limit": 1}) == ([c[0]], False)
    assert _page(http, **{"created[gt]": t0, "limit": 2}) == ([c[3], c[2]], True)


def test_a_bad_created_filter_is_refused_in_stripes_words(http: httpx.Client) -> None:
    error = error_of(http.get("/v1/charges", params={"created[gt]": "soon"}))
    assert (error["message"], error["param"]) == ("Invalid integer: soon", "created[gt]")
    unknown = error_of(http.get("/v1/charges", params={"created[after]": "1"}))
    assert unknown["message"] == "Received unknown parameter: created[after]"


def test_stripe_python_pages_back_and_filters_by_created() -> None:
    sdk = stripe.StripeClient(KEY, max_network_retries=0)
    with World([Payments()]) as world:
        made = []
        for amount in (1000, 2000, 3000):
            made.append(
                sdk.v1.charges.create(
                    params={"amount": amount, "currency": "usd", "source": "tok_visa"}
                )
            )
            world.clock.advance(10)
        back = sdk.v1.charges.list(params={"ending_before": made[0].id, "limit": 1})
        recent = sdk.v1.charges.list(params={"created": {"gt": made[0].created}})
    assert ([c.id for c in back.data], back.has_more) == ([made[1].id], True)
    assert [c.id for c in recent.data] == [made[2].id, made[1].id]
