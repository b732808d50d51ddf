"""Zendesk's idempotency keys on ticket creation, as its Ticketing API documents them.

``POST /api/v2/tickets`` with ``Idempotency-Key: <key>``: the first request creates the ticket
and answers with ``x-idempotency-lookup: miss``; the same key with the same body within
:data:`IDEMPOTENCY_TTL` replays that answer (status, body, headers) with
``x-idempotency-lookup: hit`` and creates nothing; the same key with another body is a 400
``IdempotentRequestError``. Keys belong to the account and expire two hours after first use.
Only a created ticket is stored: a refused request (422) leaves the key free, so the corrected
request may use it. Keys live outside the fake's ``state``, so a stale read never swaps them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

import httpx

from chaoskit.fakes.zendesk.wire import ZendeskError

__all__ = ["IDEMPOTENCY_TTL", "IdempotencyKeys"]

#: How long Zendesk keeps an idempotency key: two hours from its first use.
IDEMPOTENCY_TTL: Final = 2 * 60 * 60.0
#: The header that says whether an answer was replayed (``hit``) or made fresh (``miss``).
LOOKUP: Final = "x-idempotency-lookup"


@dataclass(frozen=True, slots=True)
class _Stored:
    body: str
    at: float
    status: int
    content: bytes
    headers: tuple[tuple[str, str], ...]


class IdempotencyKeys:
    """The account's idempotency keys; callers hold the fake's lock."""

    def __init__(self) -> None:
        self._keys: dict[str, _Stored] = {}

    def clear(self) -> None:
        self._keys.clear()

    def replay(self, key: str, body: Any, now: float) -> httpx.Response | None:
        """The stored answer for ``key`` (marked ``hit``), or ``None`` when the key is new or
        expired; a different body under a live key raises ``IdempotentRequestError``."""
        stored = self._keys.get(key)
        if stored is None or now - stored.at >= IDEMPOTENCY_TTL:
            return None
        if stored.body != _canonical(body):
            raise ZendeskError(
                400,
                "IdempotentRequestError",
                "Request parameters don't match the given idempotency key",
            )
        response = httpx.Response(stored.status, content=stored.content, headers=stored.headers)
        response.headers[LOOKUP] = "hit"
        return response

    def store(self, key: str, body: Any, now: float, response: httpx.Response) -> None:
        """Keep a created ticket's answer under ``key`` and mark it ``miss``."""
        response.headers[LOOKUP] = "miss"
        self._keys[key] = _Stored(
            _canonical(body),
            now,
            response.status_code,
            response.content,
            tuple(response.headers.items()),
        )


def _canonical(body: Any) -> str:
    """The body as compared: the same JSON however its keys were ordered."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"))
