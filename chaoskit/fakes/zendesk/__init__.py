"""The zendesk fake: a Zendesk Support account that zenpy (and raw REST) talks to unchanged.

It serves ``{subdomain}.zendesk.com`` (``chaoskit.zendesk.com`` by default): tickets (create,
show, update with a public or private ``comment``, list, ``external_id`` lookup), a ticket's
comments, users (show, ``me``, create_or_update, search) and search
(``/api/v2/search?query=type:ticket status<solved …``), in Zendesk's JSON envelopes and error
bodies, with API-token authentication as zenpy sends it and ``Idempotency-Key`` on ticket
creation as Zendesk documents it.

The package, bottom up (a module imports only those above it in this list):

* :mod:`~chaoskit.fakes.zendesk.wire` — error bodies, basic ``{email}/token`` credentials,
  timestamps.
* :mod:`~chaoskit.fakes.zendesk.records` — users, tickets and comments, and their JSON.
* :mod:`~chaoskit.fakes.zendesk.idempotency` — the idempotency keys of ticket creation.
* :mod:`~chaoskit.fakes.zendesk.search` — the search query language, as far as it goes.
* :mod:`~chaoskit.fakes.zendesk.params` — each route's parameters, for handlers and docs.
* :mod:`~chaoskit.fakes.zendesk.backend` — :class:`Zendesk`, its routes and seeding.
"""

from __future__ import annotations

from chaoskit.fakes.zendesk.backend import DEFAULT_SUBDOMAIN, Zendesk, ZendeskOptions
from chaoskit.fakes.zendesk.idempotency import IDEMPOTENCY_TTL as IDEMPOTENCY_TTL

__all__ = ["DEFAULT_SUBDOMAIN", "Zendesk", "ZendeskOptions"]
