"""The payments fake: an in-memory Stripe that the official ``stripe`` SDK talks to unchanged.

It speaks Stripe's v1 wire format: form-encoded bodies (``metadata[order]=42``), JSON objects
with ``object``/``id``/``created``/``livemode``, list envelopes, the error envelope
``{"error": {"type", "code", "message", "param"}}`` with Stripe's status codes, secret-key
authentication (Bearer or HTTP basic) and idempotency keys exactly as Stripe documents them.

>>> import httpx
>>> fake = Payments()
>>> charge_id = fake.add_charge(customer=None, amount=2000)
>>> client = httpx.Client(
...     transport=httpx.MockTransport(fake.serve),
...     base_url="https://api.stripe.com",
...     auth=(Payments.DEFAULT_API_KEY, ""),
... )
>>> client.post("/v1/refunds", data={"charge": charge_id, "amount": "500"}).json()["amount"]
500
>>> fake.charge(charge_id)["amount_refunded"]
500

The package, bottom up (a module imports only those above it in this list):

* :mod:`~chaoskit.fakes.payments.wire` — the wire format: form decoding and parameter checks,
  the error envelope, secret-key authentication, request ids.
* :mod:`~chaoskit.fakes.payments.idempotency` — the idempotency-key store and the in-flight
  window of the request pipeline (``commit_latency``).
* :mod:`~chaoskit.fakes.payments.reading` — Stripe's reading rules: which paths ``expand``
  takes, the list cursors (``starting_after``, ``ending_before``) and ``created`` filters.
* :mod:`~chaoskit.fakes.payments.objects` — customers, charges, payment intents and refunds:
  the test cards, building, storing, finding, listing and expanding objects.
* :mod:`~chaoskit.fakes.payments.backend` — :class:`Payments`, its routes and its seeding and
  reading helpers.
"""

from __future__ import annotations

from chaoskit.fakes.payments.backend import Payments
from chaoskit.fakes.payments.idempotency import IDEMPOTENCY_TTL as IDEMPOTENCY_TTL

__all__ = ["Payments"]
