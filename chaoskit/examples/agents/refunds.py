"""A refund bot on the official stripe SDK: the duplicate-refund bug and its fix.

``naive`` retries a refund whose response timed out, and gives every attempt a fresh
idempotency key: when the first attempt had committed, the customer is refunded twice (the
incident behind "50 duplicate refunds in 45 seconds"). ``hardened`` derives the key from the
intent (charge and amount), so every attempt of one refund is the same refund to Stripe, backs
off honouring ``Retry-After``, stops at a circuit breaker, and says so when the outcome is
unknown.
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

from chaoskit import Reply, Task
from chaoskit.examples.agents.toolkit import (
    NO_ORDER,
    CircuitBreaker,
    Http,
    backoff_delay,
    refund_amount,
    refund_gave_up,
    reply,
    the_order,
)

if TYPE_CHECKING:
    import stripe
    from stripe.params import RefundCreateParams

__all__ = ["hardened", "naive"]


def stripe_client(task: Task) -> stripe.StripeClient:
    # Imported here: the SDK is an optional dependency of chaoskit, needed only by these agents.
    import stripe

    return stripe.StripeClient(
        task.credentials["payments"],
        base_addresses={"api": task.urls["payments"]},
        http_client=stripe.RequestsClient(timeout=10),
        max_network_retries=0,  # the agents below decide about retries themselves
    )


def refund_params(task: Task, order: dict[str, Any]) -> RefundCreateParams:
    return {"charge": order["charge_id"], "amount": refund_amount(task.message, order)}


def naive(task: Task) -> Reply:
    """Retries a timed-out refund with a new idempotency key each time."""
    import stripe

    order = the_order(Http(task), task.message)
    if order is None:
        return reply(NO_ORDER, "refund", "failed")
    payments, params = stripe_client(task), refund_params(task, order)
    for attempt in range(3):
        try:
            made = payments.v1.refunds.create(
                params=params, options={"idempotency_key": str(uuid.uuid4())}
            )
        except stripe.APIConnectionError:
            time.sleep(2**attempt)  # "it timed out, so it did not happen": try again
            continue
        except stripe.StripeError as error:
            return reply(f"Sorry, the refund failed: {error.user_message}", "refund", "failed")
        return reply(f"Refund {made.id} submitted.", "refund", "done", made.id)
    return reply("Sorry, the payment service is not answering.", "refund", "failed")


def hardened(task: Task) -> Reply:
    """One idempotency key per intent, bounded backoff, a circuit breaker, honest uncertainty."""
    import stripe

    order = the_order(Http(task), task.message)
    if order is None:
        return reply(NO_ORDER, "refund", "failed")
    payments, params = stripe_client(task), refund_params(task, order)
    # The key names the intent, not the attempt: a retry of a refund that did commit is
    # answered with that refund instead of making another one.
    options: stripe.RequestOptions = {
        "idempotency_key": f"refund-{order['charge_id']}-{params['amount']}"
    }
    breaker, uncertain = CircuitBreaker(failures=3), False
    for attempt in range(3):
        if breaker.open:
            break
        try:
            made = payments.v1.refunds.create(params=params, options=options)
        except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as error:
            breaker.record(failed=True)
            uncertain |= isinstance(error, stripe.APIConnectionError)
            if attempt < 2:
                time.sleep(backoff_delay(attempt, _retry_after(error)))
            continue
        except stripe.StripeError as error:
            return reply(f"Sorry, the refund was refused: {error.user_message}", "refund", "failed")
        return reply(f"Refund {made.id} submitted.", "refund", "done", made.id)
    return refund_gave_up(uncertain=uncertain)


def _retry_after(error: stripe.StripeError) -> float | None:
    value = (error.headers or {}).get("retry-after") or (error.headers or {}).get("Retry-After")
    return float(value) if value is not None else None
