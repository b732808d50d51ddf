"""A refund bot on the official stripe SDK that meets Stripe's 409 ``idempotency_key_in_use``.

Both agents keep one idempotency key per intent, so a retry of a refund that committed cannot
refund twice. When the first attempt's response times out while Stripe is still finishing it,
the retry with that key is answered 409 ``idempotency_key_in_use``: the refund is under way,
not refused. ``naive`` reads every Stripe error other than a connection error as a refusal and
tells the customer the refund failed, while the money is on its way. ``hardened`` treats the
409 as "still in flight": it looks the charge's refunds up and reports the one it finds, and
otherwise retries the same key after a backoff until the outcome is known.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from chaoskit import Reply, Task
from chaoskit.examples.agents.refunds import refund_params, stripe_client
from chaoskit.examples.agents.toolkit import (
    NO_ORDER,
    Http,
    backoff_delay,
    refund_gave_up,
    reply,
    the_order,
)

if TYPE_CHECKING:
    import stripe
    from stripe.params import RefundCreateParams

__all__ = ["hardened", "naive"]

ATTEMPTS = 6


def _key(params: RefundCreateParams) -> stripe.RequestOptions:
    # The key names the intent, not the attempt.
    return {"idempotency_key": f"refund-{params['charge']}-{params['amount']}"}


def naive(task: Task) -> Reply:
    """One key per intent, but a 409 ``idempotency_key_in_use`` is read as a refusal."""
    import stripe

    order = the_order(Http(task), task.message)
    if order is None:
        return reply(NO_ORDER, "refund", "failed")
    payments, params = stripe_client(task), refund_params(task, order)
    for attempt in range(3):
        try:
            made = payments.v1.refunds.create(params=params, options=_key(params))
        except stripe.APIConnectionError:
            time.sleep(2**attempt)
            continue
        except stripe.StripeError as error:
            return reply(f"Sorry, the refund failed: {error.user_message}", "refund", "failed")
        return reply(f"Refund {made.id} submitted.", "refund", "done", made.id)
    return reply("Sorry, the payment service is not answering.", "refund", "failed")


def hardened(task: Task) -> Reply:
    """A 409 means "still in flight": find the refund, or retry the same key until known."""
    import stripe

    order = the_order(Http(task), task.message)
    if order is None:
        return reply(NO_ORDER, "refund", "failed")
    payments, params = stripe_client(task), refund_params(task, order)
    uncertain = False
    for attempt in range(ATTEMPTS):
        try:
            made = payments.v1.refunds.create(params=params, options=_key(params))
        except stripe.APIConnectionError:
            uncertain = True
        except stripe.StripeError as error:
            if not _in_flight(error):
                return reply(
                    f"Sorry, the refund was refused: {error.user_message}", "refund", "failed"
                )
            found = _committed_refund(payments, params)
            if found is not None:
                return reply(f"Refund {found} submitted.", "refund", "done", found)
            uncertain = True
        else:
            return reply(f"Refund {made.id} submitted.", "refund", "done", made.id)
        if attempt < ATTEMPTS - 1:
            time.sleep(backoff_delay(attempt, None))
    return refund_gave_up(uncertain=uncertain)


def _in_flight(error: stripe.StripeError) -> bool:
    """Stripe's 409: another request with this key is still being processed."""
    body = error.json_body if isinstance(error.json_body, dict) else {}
    code = (body.get("error") or {}).get("code")
    return error.http_status == 409 and code == "idempotency_key_in_use"


def _committed_refund(payments: stripe.StripeClient, params: RefundCreateParams) -> str | None:
    """The charge's refund of this amount, if it already committed."""
    listed = payments.v1.refunds.list(params={"charge": params["charge"], "limit": 10})
    matching = [r.id for r in listed.data if r.amount == params["amount"]]
    return matching[0] if matching else None
