"""The parameters of each payments route, declared once as Stripe takes them.

Each model is what one route accepts, form-encoded (``metadata[order]=42``, ``expand[0]=…``)
on ``POST`` and in the query on ``GET``; any other parameter is Stripe's ``parameter_unknown``.
The handlers read their parameters through these models, and the API reference documents them.
Amounts are integers in the smallest currency unit, booleans are ``true``/``false``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

RefundReason = Literal["duplicate", "fraudulent", "requested_by_customer"]


class Expand(BaseModel):
    """What every payments route takes: ``expand``. Any parameter not declared is refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    expand: list[str] | None = Field(
        None,
        description="Ids in the answer to replace by their objects (expand[0]=customer; "
        "data.charge in lists).",
    )


class NewCustomer(Expand):
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    description: str | None = None
    metadata: dict[str, str] | None = Field(None, description="Your own key-value pairs.")


class _Money(Expand):
    amount: int = Field(
        ge=1, description="In the smallest currency unit (cents); at least 50 for usd."
    )
    currency: str = Field(description="Three-letter ISO code, lowercase: usd.")
    customer: str | None = Field(None, description="A customer id (cus_…).")
    description: str | None = None
    metadata: dict[str, str] | None = Field(None, description="Your own key-value pairs.")
    receipt_email: str | None = None


class NewCharge(_Money):
    source: str | None = Field(
        None,
        description="A test token: tok_visa, tok_mastercard, tok_amex, or a declining "
        "tok_chargeDeclined…; without it the customer's card on file is charged.",
    )
    capture: bool | None = Field(None, description="Only true (the default) is modelled.")


class Confirm(Expand):
    payment_method: str | None = Field(
        None, description="A test payment method: pm_card_visa, pm_card_chargeDeclined…"
    )
    return_url: str | None = None
    off_session: bool | None = None


class NewPaymentIntent(_Money, Confirm):
    confirm: bool | None = Field(None, description="true: confirm at once (needs a method).")
    payment_method_types: list[str] | None = None
    automatic_payment_methods: dict[str, str] | None = None


class NewRefund(Expand):
    charge: str | None = Field(None, description="The charge to refund (ch_…); or:")
    payment_intent: str | None = Field(
        None, description="The payment intent whose charge to refund (pi_…)."
    )
    amount: int | None = Field(
        None, ge=1, description="In cents; default: what is left unrefunded."
    )
    reason: RefundReason | None = None
    metadata: dict[str, str] | None = Field(None, description="Your own key-value pairs.")


class Page(Expand):
    """A list's paging: Stripe's list envelope, newest first."""

    limit: int | None = Field(None, ge=1, le=100, description="Page size, 1 to 100 (10).")
    starting_after: str | None = Field(
        None, description="The last id of the previous page: the (older) page after it."
    )
    ending_before: str | None = Field(
        None, description="The first id of the current page: the (newer) page before it."
    )
    created: int | dict[str, int] | None = Field(
        None,
        description="Only objects created at this Unix time, or within bounds: "
        "created[gt], created[gte], created[lt], created[lte].",
    )


#: The parameters of :class:`Page` itself; any other parameter of a list is a filter.
PAGING = frozenset(Page.model_fields)


class CustomerFilter(Page):
    email: str | None = Field(None, description="Only customers with this email.")


class ChargeFilter(Page):
    customer: str | None = Field(None, description="Only this customer's charges.")
    payment_intent: str | None = Field(None, description="Only this intent's charges.")


class PaymentIntentFilter(Page):
    customer: str | None = Field(None, description="Only this customer's intents.")


class RefundFilter(Page):
    charge: str | None = Field(None, description="Only this charge's refunds.")
    payment_intent: str | None = Field(None, description="Only this intent's refunds.")


class PaymentsOptions(BaseModel):
    """A scenario's ``[payments]`` table."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    commit_latency: float = Field(
        0.0,
        ge=0,
        description="Virtual seconds a request with an Idempotency-Key stays in flight after it "
        "began: reusing its key meanwhile gets a 409 idempotency_key_in_use.",
    )
