"""The official stripe SDK, unchanged, against the payments fake inside a world."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx
import pytest
import stripe

from chaoskit import FaultRule, RateLimit, Target, TimeoutAfterCommit, World
from chaoskit.fakes.payments import Payments

DEFAULT_API_KEY = Payments.DEFAULT_API_KEY

REFUNDS = "payments: POST /v1/refunds"


def at(target: str, fault: object, **schedule: object) -> FaultRule:
    return FaultRule(fault=fault, target=Target.parse(target), **schedule)  # type: ignore[arg-type]


def _charge(amount: int) -> stripe.ChargeCreateParams:
    return {"amount": amount, "currency": "usd", "source": "tok_visa"}


@pytest.fixture(params=["default", "httpx"])
def sdk(request: pytest.FixtureRequest) -> stripe.StripeClient:
    """A StripeClient with its default (requests) client, or with stripe.HTTPXClient."""
    http_client = stripe.HTTPXClient(allow_sync_methods=True) if request.param == "httpx" else None
    return stripe.StripeClient(DEFAULT_API_KEY, http_client=http_client, max_network_retries=2)


def test_the_sdk_charges_refunds_and_lists_refunds(sdk: stripe.StripeClient) -> None:
    with World([Payments()]) as world:
        charge = sdk.v1.charges.create(params=_charge(5000))
        refund = sdk.v1.refunds.create(params={"charge": charge.id, "amount": 2000})
        listed = sdk.v1.refunds.list(params={"charge": charge.id})
    assert [r.id for r in listed.data] == [refund.id]
    assert [e.kind for e in world.ledger("payments")] == ["charge.created", "refund.created"]


def test_an_over_refund_raises_invalid_request_error(sdk: stripe.StripeClient) -> None:
    with World([Payments()]) as world:
        charge = sdk.v1.charges.create(params=_charge(1000))
        with pytest.raises(stripe.InvalidRequestError, match="greater than unrefunded amount"):
            sdk.v1.refunds.create(params={"charge": charge.id, "amount": 1001})
    assert [e.kind for e in world.ledger("payments")] == ["charge.created"]


def test_the_sdks_own_retry_after_a_timeout_after_commit_gets_the_stored_refund(
    sdk: stripe.StripeClient,
) -> None:
    with World([Payments()], faults=[at(REFUNDS, TimeoutAfterCommit(), calls=(1,))]) as world:
        charge = sdk.v1.charges.create(params=_charge(3000))
        refund = sdk.v1.refunds.create(params={"charge": charge.id})
    refunds = world.ledger("payments")[1:]
    assert [e.kind for e in refunds] == ["refund.created"]
    assert refunds[0].object_id == refund.id
    replies = world.trace.of("response")
    assert replies[-1].replayed  # type: ignore[union-attr]
    assert world.clock.monotonic() > 0  # the SDK's backoff ran on the virtual clock


def test_the_same_key_with_other_parameters_raises_idempotency_error(
    sdk: stripe.StripeClient,
) -> None:
    with World([Payments()]):
        charge = sdk.v1.charges.create(params=_charge(3000))
        options: stripe.RequestOptions = {"idempotency_key": "refund-once"}
        sdk.v1.refunds.create(params={"charge": charge.id, "amount": 100}, options=options)
        with pytest.raises(stripe.IdempotencyError):
            sdk.v1.refunds.create(params={"charge": charge.id, "amount": 200}, options=options)


def test_an_injected_429_raises_rate_limit_error(sdk: stripe.StripeClient) -> None:
    with (
        World([Payments()], faults=[at(REFUNDS, RateLimit(retry_after=2), always=True)]) as world,
        pytest.raises(stripe.RateLimitError),
    ):
        charge = sdk.v1.charges.create(params=_charge(3000))
        sdk.v1.refunds.create(params={"charge": charge.id})
    assert [e.kind for e in world.ledger("payments")] == ["charge.created"]


def _refund_body(charge: str) -> dict[str, str]:
    return {"charge": charge, "amount": "500"}


HEADERS = {"Authorization": f"Bearer {DEFAULT_API_KEY}", "Idempotency-Key": "one-intent"}
URL = "https://api.stripe.com/v1/refunds"


def test_eight_threads_sending_one_key_make_exactly_one_refund() -> None:
    statuses: list[int] = []
    with World([Payments()]) as world:
        charge = world["payments"].add_charge(customer=None, amount=5000)  # type: ignore[attr-defined]
        barrier = threading.Barrier(8)

        def send() -> None:
            barrier.wait()
            r = httpx.post(URL, data=_refund_body(charge), headers=HEADERS)
            statuses.append(r.status_code)

        threads = [threading.Thread(target=send) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(world.ledger("payments")) == 1
    assert set(statuses) <= {200, 409}
    assert statuses.count(200) >= 1


def test_fifty_asyncio_tasks_sending_one_key_make_exactly_one_refund() -> None:
    async def storm(charge: str) -> list[int]:
        async with httpx.AsyncClient() as client:
            responses = await asyncio.gather(
                *(client.post(URL, data=_refund_body(charge), headers=HEADERS) for _ in range(50))
            )
        return [r.status_code for r in responses]

    with World([Payments()]) as world:
        charge = world["payments"].add_charge(customer=None, amount=5000)  # type: ignore[attr-defined]
        statuses = asyncio.run(storm(charge))
    assert len(world.ledger("payments")) == 1
    assert set(statuses) <= {200, 409}
    replayed = [e for e in world.trace.of("response") if e.replayed]  # type: ignore[union-attr]
    assert len(replayed) == statuses.count(200) - 1


def _sdk_run(seed: int) -> str:
    sdk = stripe.StripeClient(DEFAULT_API_KEY, max_network_retries=2)
    faults = [at(REFUNDS, TimeoutAfterCommit(), calls=(1,))]
    with World([Payments()], faults=faults, seed=seed) as world:
        charge = sdk.v1.charges.create(params=_charge(2500))
        sdk.v1.refunds.create(params={"charge": charge.id})
    return world.trace.to_json()


def test_the_sdks_random_idempotency_keys_and_jitter_follow_the_world_seed() -> None:
    first, again, other = _sdk_run(5), _sdk_run(5), _sdk_run(6)
    assert first == again
    assert first != other
    assert '"idempotency_key":"' in first


# -- the 409 idempotency_key_in_use window (commit latency) ------------------------------------


def test_two_threads_sending_one_key_within_the_commit_latency_meet_the_409() -> None:
    statuses: list[int] = []
    with World([Payments(commit_latency=1.0)]) as world:
        charge = world["payments"].add_charge(customer=None, amount=5000)  # type: ignore[attr-defined]
        barrier = threading.Barrier(2)

        def send() -> None:
            barrier.wait(5)
            statuses.append(httpx.post(URL, data=_refund_body(charge), headers=HEADERS).status_code)

        threads = [threading.Thread(target=send) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
    # Whichever claims the key first refunds; the other meets the window, whatever the timing.
    assert sorted(statuses) == [200, 409]
    assert len(world.ledger("payments")) == 1


def test_two_asyncio_tasks_sending_one_key_within_the_commit_latency_meet_the_409() -> None:
    async def pair(charge: str) -> list[int]:
        async with httpx.AsyncClient() as client:
            sent = (client.post(URL, data=_refund_body(charge), headers=HEADERS) for _ in range(2))
            return [r.status_code for r in await asyncio.gather(*sent)]

    with World([Payments(commit_latency=1.0)]) as world:
        charge = world["payments"].add_charge(customer=None, amount=5000)  # type: ignore[attr-defined]
        statuses = asyncio.run(pair(charge))
    assert sorted(statuses) == [200, 409]
    assert len(world.ledger("payments")) == 1


def _first_then_sdk(commit_latency: float, retries: int | None) -> tuple[World, str, Any]:
    """A refund sent with a key, then stripe-python sending the same request with that key."""
    sdk = stripe.StripeClient(DEFAULT_API_KEY, max_network_retries=retries)
    with World([Payments(commit_latency=commit_latency)]) as world:
        charge = world["payments"].add_charge(customer=None, amount=5000)  # type: ignore[attr-defined]
        first = httpx.post(URL, data=_refund_body(charge), headers=HEADERS).json()["id"]
        options: stripe.RequestOptions = {"idempotency_key": "one-intent"}
        try:
            outcome: Any = sdk.v1.refunds.create(
                params={"charge": charge, "amount": 500}, options=options
            )
        except stripe.StripeError as exc:
            outcome = exc
    return world, first, outcome


def test_stripe_python_retries_a_409_and_gets_the_replay_once_the_commit_lands() -> None:
    # stripe-python's _should_retry retries every 409 unless Stripe-Should-Retry says false,
    # sleeping at least 0.5 s (here virtual) before the first retry.
    world, first, refund = _first_then_sdk(commit_latency=0.4, retries=2)
    assert isinstance(refund, stripe.Refund) and refund.id == first
    statuses = [e.status for e in world.trace.of("response")]  # type: ignore[union-attr]
    assert statuses == [200, 409, 200]
    assert world.trace.of("response")[-1].replayed  # type: ignore[union-attr]
    assert world.clock.monotonic() >= 0.5
    assert len(world.ledger("payments")) == 1


def test_stripe_python_out_of_retries_on_409_raises_api_error_with_the_code() -> None:
    world, _, error = _first_then_sdk(commit_latency=60.0, retries=2)
    # A bare APIError: stripe-python maps no 409 to a class and leaves `code` unset; the code
    # is only in the body.
    assert type(error) is stripe.APIError
    assert (error.http_status, error.code) == (409, None)
    assert error.json_body["error"]["code"] == "idempotency_key_in_use"
    assert [e.status for e in world.trace.of("response")] == [200, 409, 409, 409]  # type: ignore[union-attr]
    assert len(world.ledger("payments")) == 1


def test_a_stripe_client_left_at_its_default_retries_nothing_and_raises_at_the_first_409() -> None:
    # StripeClient passes max_network_retries=None, which its HTTP client reads as 0 (the
    # module-level stripe.max_network_retries = 2 only serves the legacy resource methods).
    world, _, error = _first_then_sdk(commit_latency=0.4, retries=None)
    assert type(error) is stripe.APIError and error.http_status == 409
    assert [e.status for e in world.trace.of("response")] == [200, 409]  # type: ignore[union-attr]
    assert world.clock.monotonic() == 0
