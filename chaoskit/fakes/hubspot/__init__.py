"""The hubspot fake: an in-memory HubSpot CRM that the official ``hubspot-api-client`` talks
to unchanged, on HubSpot's own host (``api.hubapi.com``).

It speaks CRM v3's objects API for contacts, companies, deals and notes (create, read, update,
archive, batch read and create, search with ``filterGroups``, paging with ``after``), v4
associations, private-app tokens with scopes, and HubSpot's error envelope
``{"status": "error", "message", "correlationId", "category"}``.

>>> import httpx
>>> fake = HubSpot()
>>> client = httpx.Client(
...     transport=httpx.MockTransport(fake.serve),
...     base_url="https://api.hubapi.com",
...     headers={"Authorization": f"Bearer {HubSpot.DEFAULT_TOKEN}"},
... )
>>> created = client.post("/crm/v3/objects/contacts",
...                       json={"properties": {"email": "ada@example.com"}})
>>> client.post("/crm/v3/objects/contacts",
...             json={"properties": {"email": "ada@example.com"}}).json()["category"]
'CONFLICT'

The package, bottom up (a module imports only those above it in this list):

* :mod:`~chaoskit.fakes.hubspot.wire` — the error envelope, tokens, the 429, timestamps, and
  reading a request's body and query.
* :mod:`~chaoskit.fakes.hubspot.objects` — object types, properties, records, associations.
* :mod:`~chaoskit.fakes.hubspot.search` — filterGroups, query, sorts and paging.
* :mod:`~chaoskit.fakes.hubspot.params` — what each route takes, for the API reference.
* :mod:`~chaoskit.fakes.hubspot.store` — creating, finding, seeding and showing records.
* :mod:`~chaoskit.fakes.hubspot.backend` — :class:`HubSpot`: tokens, answers and routes.
"""

from __future__ import annotations

from chaoskit.fakes.hubspot.backend import HubSpot, HubSpotOptions

__all__ = ["HubSpot", "HubSpotOptions"]
