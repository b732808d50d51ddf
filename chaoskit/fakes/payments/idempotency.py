"""Stripe's idempotency keys, as the payments fake honours them.

``POST`` requests honour ``Idempotency-Key`` as Stripe documents it: the first result is stored
once execution begins (declines and 500s included) and replayed with ``Idempotent-Replayed:
true``; the same key with other parameters, or on another endpoint, is a 400
``idempotency_error``; a key still in flight is a 409 ``idempotency_key_in_use``; validation
errors are not stored; keys expire after :data:`IDEMPOTENCY_TTL` of virtual time; a key longer
than :data:`MAX_KEY_LENGTH` characters is refused. Keys are scoped to the principal and live
outside the fake's ``state``, so a stale read never swaps them.

A stored answer becomes visible to other requests ``commit_latency`` virtual seconds after its
request began (0 by default): until then the key is in flight and a request reusing it gets
the 409, so concurrent requests, or a client's own retry after a timeout, can meet the
window deterministically.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import httpx

from chaoskit.core.errors import WorldError
from chaoskit.fakes.base import FakeRequest, Route
from chaoskit.fakes.payments.wire import _Invalid, _pairs, _Refused, _StripeWire

#: Stripe prunes idempotency keys once they are at least this old.
IDEMPOTENCY_TTL: Final = 24 * 60 * 60.0
#: Stripe refuses longer ``Idempotency-Key`` values.
MAX_KEY_LENGTH: Final = 255


@dataclass(frozen=True, slots=True)
class _Answer:
    """A stored response: what a replay under the same idempotency key gives back."""

    status: int
    content: bytes
    headers: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, response: httpx.Response) -> _Answer:
        return cls(response.status_code, response.content, tuple(response.headers.items()))

    def replay(self) -> httpx.Response:
        response = httpx.Response(self.status, content=self.content, headers=self.headers)
        response.headers["Idempotent-Replayed"] = "true"
        return response


@dataclass(slots=True)
class _KeyRecord:
    """One idempotency key: in flight until ``answer`` is set, then replayed for 24 hours."""

    path: str
    params: tuple[tuple[str, str], ...]
    started_at: float
    #: When the answer becomes visible to other requests (its commit, in virtual time).
    visible_at: float
    answer: _Answer | None = None

    def in_flight(self, now: float) -> bool:
        return self.answer is None or now < self.visible_at

    def expired(self, now: float) -> bool:
        return self.answer is not None and now - self.started_at >= IDEMPOTENCY_TTL


class _Idempotent(_StripeWire):
    """Stripe's request pipeline: authentication, then idempotency, then the handler."""

    def __init__(self, *, host: str | None = None, commit_latency: float = 0.0) -> None:
        # Idempotency keys live outside `state`: a stale read swaps `state`, never these.
        self._keys: dict[tuple[str, str], _KeyRecord] = {}
        self._keys_lock = threading.Lock()
        self.commit_latency = _latency(commit_latency)
        super().__init__(host=host)

    def set_commit_latency(self, seconds: float) -> None:
        """How many virtual seconds a keyed request stays in flight (409 to its key's reuse)."""
        self.commit_latency = _latency(seconds)

    def reset(self) -> None:
        """Forget everything, idempotency keys included."""
        with self.lock:
            super().reset()
            with self._keys_lock:
                self._keys.clear()

    # -- requests: authentication, then idempotency, then the handler ------------------------

    def handle(self, raw: httpx.Request, route: Route, params: Mapping[str, str]) -> httpx.Response:
        """Authenticate, then run the handler behind Stripe's idempotency layer."""
        req = FakeRequest(raw, params, request_id=self.new_request_id(), route=route)
        response = self._answer(req, route)
        response.headers["Request-Id"] = req.request_id
        return response

    def dispatch(self, req: FakeRequest, route: Route) -> httpx.Response:
        """Call the handler, turning refusals and crashes into Stripe error responses."""
        return self._run(req, route)[0]

    def _answer(self, req: FakeRequest, route: Route) -> httpx.Response:
        # Authentication reads only `api_keys`, so it too runs without the lock.
        denied = self.authenticate(req)
        if denied is not None:
            return denied
        key = req.headers.get("idempotency-key")
        if req.method != "POST" or not key:
            with self.lock:
                return self.dispatch(req, route)
        if len(key) > MAX_KEY_LENGTH:
            # Refused before anything runs, so nothing is stored under it.
            return self._refusal(_Invalid(_KEY_LENGTH.format(length=len(key))))
        return self._idempotent(req, route, key)

    def _idempotent(self, req: FakeRequest, route: Route, key: str) -> httpx.Response:
        """Phase 1 claims the key, phase 2 executes, phase 3 stores; the lock is free between."""
        slot = (req.principal or "", key)
        claimed = self._claim(slot, req)
        if isinstance(claimed, httpx.Response):
            return claimed
        stored: httpx.Response | None = None
        try:
            with self.lock:
                response, began = self._run(req, route)
            response.headers["Idempotency-Key"] = key
            stored = response if began else None
            return response
        finally:
            self._store(slot, claimed, stored)

    def _claim(self, slot: tuple[str, str], req: FakeRequest) -> _KeyRecord | httpx.Response:
        """Mark the key in flight, or answer at once: a replay, a 409 or an idempotency_error."""
        params = tuple(sorted(_pairs(req)))
        with self._keys_lock:
            now = self.now()
            record = self._keys.get(slot)
            if record is None or record.expired(now):
                record = _KeyRecord(req.path, params, now, visible_at=now + self.commit_latency)
                self._keys[slot] = record
                return record
            return self._conflict(record, slot[1], req.path, params)

    def _conflict(
        self, record: _KeyRecord, key: str, path: str, params: tuple[tuple[str, str], ...]
    ) -> httpx.Response:
        if record.answer is None or record.in_flight(self.now()):
            return self.error(
                409,
                "There is currently another in-progress request using this Idempotent Key (that "
                "probably means you submitted twice, and the other request is still going "
                f"through): {key}. Please try again later.",
                code="idempotency_key_in_use",
            )
        other = f"Try using a key other than '{key}' if you meant to execute a different request."
        if record.path != path:
            return self.error(
                400,
                "Keys for idempotent requests can only be used for the same endpoint they were "
                f"first used for ('{path}' vs '{record.path}'). {other}",
                type="idempotency_error",
            )
        if record.params != params:
            return self.error(
                400,
                "Keys for idempotent requests can only be used with the same parameters they "
                f"were first used with. {other}",
                type="idempotency_error",
            )
        return record.answer.replay()

    def _store(
        self, slot: tuple[str, str], record: _KeyRecord, response: httpx.Response | None
    ) -> None:
        """Keep the answer for replays, or free the key when execution never began."""
        with self._keys_lock:
            if self._keys.get(slot) is not record:
                return  # reset() ran while the request was in flight
            if response is None:
                del self._keys[slot]
            else:
                record.answer = _Answer.of(response)

    def _run(self, req: FakeRequest, route: Route) -> tuple[httpx.Response, bool]:
        """The handler's answer, and whether execution began (Stripe stores only those)."""
        try:
            return super().dispatch(req, route), True
        except _Invalid as refusal:
            return self._refusal(refusal), False
        except _Refused as refusal:
            return self._refusal(refusal), True
        except Exception as exc:
            return self._crash(req, exc), True


_KEY_LENGTH = (
    "Idempotent key length is {length}, which is outside accepted lengths. Idempotent Keys "
    f"must be 1-{MAX_KEY_LENGTH} characters long. If you're looking for a decent generator, "
    "try using a UUID defined by IETF RFC 4122."
)


def _latency(seconds: float) -> float:
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not seconds >= 0:
        raise WorldError(
            f"chaoskit: commit_latency must be a number of virtual seconds >= 0, got "
            f"{seconds!r}; 0 (the default) makes a stored answer visible at once."
        )
    return float(seconds)
