"""The sendgrid fake: an in-memory SendGrid v3 the official ``sendgrid`` SDK talks to unchanged.

It speaks SendGrid's wire format on ``api.sendgrid.com``: ``POST /v3/mail/send`` with
personalizations, answered 202 with an empty body and ``X-Message-Id``; the Email Activity
reads ``GET /v3/messages?query=…`` and ``GET /v3/messages/{msg_id}``; API keys with scopes;
errors as ``{"errors": [{"message", "field", "help"}]}``; 429s with ``X-RateLimit-*`` headers.
Every personalization sent is a ``mail.sent`` ledger entry with its recipients.

>>> import httpx
>>> fake = SendGrid()
>>> client = httpx.Client(
...     transport=httpx.MockTransport(fake.serve),
...     base_url="https://api.sendgrid.com",
...     headers={"Authorization": f"Bearer {SendGrid.DEFAULT_API_KEY}"},
... )
>>> client.post("/v3/mail/send", json={
...     "personalizations": [{"to": [{"email": "ap@acme.test"}]}],
...     "from": {"email": "billing@shop.test"},
...     "subject": "Your refund",
...     "content": [{"type": "text/plain", "value": "It is on its way."}],
... }).status_code
202
>>> [e.fields["to"] for e in fake.ledger.entries("mail.sent")]
[['ap@acme.test']]

The package, bottom up (a module imports only those above it in this list):

* :mod:`~chaoskit.fakes.sendgrid.wire` — the wire format: the error envelope, API keys and
  scopes, rate-limit headers.
* :mod:`~chaoskit.fakes.sendgrid.params` — the routes' parameters, declared once.
* :mod:`~chaoskit.fakes.sendgrid.mail` — a Mail Send body read with SendGrid's rules.
* :mod:`~chaoskit.fakes.sendgrid.activity` — the Email Activity query language.
* :mod:`~chaoskit.fakes.sendgrid.backend` — :class:`SendGrid`, its routes and options.
"""

from __future__ import annotations

from chaoskit.fakes.sendgrid.backend import SendGrid, SendGridOptions

__all__ = ["SendGrid", "SendGridOptions"]
