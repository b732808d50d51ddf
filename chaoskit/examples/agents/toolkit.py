"""What the reference agents share: the planner's parsing, HTTP tools, retry policies, replies.

Nothing here is chaoskit-specific: it is the plumbing any agent that calls HTTP tools has.
The agents differ only in *how* they use it, which is what the scenarios tell apart.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from chaoskit import Claim, Reply, Task

__all__ = [
    "JSON",
    "NO_ORDER",
    "ORDER_ID",
    "ORDER_REFERENCE",
    "TRACKING_NUMBER",
    "Backoff",
    "CircuitBreaker",
    "Http",
    "Outcome",
    "RetryEverything",
    "backoff_delay",
    "careful",
    "deadline",
    "find_order",
    "lookup_order",
    "refund",
    "refund_amount",
    "refund_gave_up",
    "refund_reply",
    "reply",
    "retrying",
    "the_order",
]

JSON = dict[str, Any]
Status = Literal["done", "failed", "pending_approval", "escalated"]

ORDER_ID = re.compile(r"\bord_[0-9A-Za-z]{14}\b")
TRACKING_NUMBER = re.compile(r"\b1Z[A-Z]{3}[0-9]{13}\b")
#: What the user calls their order: "order ord_…", "order #1Z…", "order number …".
ORDER_REFERENCE = re.compile(r"\border\s+(?:number\s+|#)?([\w-]+)", re.IGNORECASE)

# Errors worth another try: the request may not have run, or ran and can be replayed.
_TRANSIENT = frozenset({409, 429, 500, 502, 503, 504})


# -- outcomes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """How one HTTP call ended: a response, or the client's own transport error."""

    response: httpx.Response | None = None
    error: httpx.TransportError | None = None
    #: Why the agent's own guard did not send the call (a budget, an allowlist…).
    refused: str | None = None

    @property
    def ok(self) -> bool:
        return self.response is not None and self.response.status_code < 400

    @property
    def transient(self) -> bool:
        """Worth retrying: a transport error, a 409 (key in use), a 429 or a 5xx."""
        return self.error is not None or (
            self.response is not None and self.response.status_code in _TRANSIENT
        )

    @property
    def uncertain(self) -> bool:
        """The call may have taken effect: it never came back."""
        return self.error is not None

    @property
    def retry_after(self) -> float | None:
        value = None if self.response is None else self.response.headers.get("retry-after")
        try:
            return None if value is None else float(value)
        except ValueError:
            return None

    def json(self) -> JSON:
        assert self.response is not None, "no response to read"
        data: JSON = self.response.json()
        return data

    def describe(self) -> str:
        if self.refused is not None:
            return self.refused
        if self.error is not None:
            return "timed out" if isinstance(self.error, httpx.TimeoutException) else "failed"
        assert self.response is not None
        try:
            message = self.response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = self.response.reason_phrase
        return f"HTTP {self.response.status_code}: {message}"


class Http:
    """The agent's HTTP tool: one call to one backend, with the task's credentials for it.

    ``max_calls`` caps how many requests it sends in all; past it, calls are refused. With
    ``honour_retry_after``, a ``Retry-After`` holds back every later call to that backend, not
    only the retry of the refused one: the limit is the server's, not the request's.
    """

    def __init__(
        self,
        task: Task,
        *,
        max_calls: int | None = None,
        honour_retry_after: bool = False,
    ) -> None:
        self.task = task
        self.calls_left = max_calls
        self.honour_retry_after = honour_retry_after
        self._not_before: dict[str, float] = {}

    def send(
        self,
        backend: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: JSON | None = None,
        form: Mapping[str, str | int] | None = None,
        key: str | None = None,
    ) -> Outcome:
        """Send one request; transport errors come back as an :class:`Outcome`, not raised."""
        if self.calls_left is not None:
            if self.calls_left <= 0:
                return Outcome(refused="the step budget is spent")
            self.calls_left -= 1
        headers = dict(self.task.auth(backend))
        if key is not None:
            headers["Idempotency-Key"] = key
        self._hold_back(backend)
        try:
            response = self.task.clients.httpx.request(
                method,
                f"{self.task.urls[backend]}{path}",
                params=params,
                json=json,
                data=form,
                headers=headers,
            )
        except httpx.TransportError as error:
            return Outcome(error=error)
        outcome = Outcome(response=response)
        if self.honour_retry_after and outcome.retry_after:
            self._not_before[backend] = time.monotonic() + outcome.retry_after
        return outcome

    def _hold_back(self, backend: str) -> None:
        wait = self._not_before.get(backend, 0.0) - time.monotonic()
        if wait > 0:
            time.sleep(wait)


# -- retry policies ---------------------------------------------------------------------------


class RetryEverything:
    """The policy people write first: any failure, try again after a fixed pause."""

    def __init__(self, attempts: int, *, pause: float = 1.0) -> None:
        self.attempts = attempts
        self.pause = pause

    def wait(self, outcome: Outcome, attempt: int) -> float | None:
        return self.pause


def backoff_delay(attempt: int, retry_after: float | None, *, base: float = 1.0) -> float:
    """Exponential backoff (1, 2, 4 … s, at most 30), never shorter than ``Retry-After``."""
    exponential: float = min(base * 2.0**attempt, 30.0)
    return max(retry_after or 0.0, exponential)


class Backoff:
    """Retry only transient failures, at most ``attempts`` times in all, honouring ``Retry-After``.

    A wait that would end past ``deadline`` (a ``time.monotonic()`` value) is not started.
    """

    def __init__(self, attempts: int = 3, *, deadline: float | None = None) -> None:
        self.attempts = attempts
        self.deadline = deadline

    def wait(self, outcome: Outcome, attempt: int) -> float | None:
        if not outcome.transient:
            return None
        delay = backoff_delay(attempt, outcome.retry_after)
        if self.deadline is not None and time.monotonic() + delay > self.deadline:
            return None
        return delay


@dataclass
class CircuitBreaker:
    """Opens after ``failures`` consecutive transient failures and stays open for the task."""

    failures: int = 3
    _count: int = 0

    @property
    def open(self) -> bool:
        return self._count >= self.failures

    def record(self, *, failed: bool) -> None:
        """Count a transient failure, or close the count again after a success."""
        self._count = self._count + 1 if failed else 0


def retrying(
    send: Callable[[], Outcome],
    policy: RetryEverything | Backoff,
    *,
    breaker: CircuitBreaker | None = None,
) -> Outcome:
    """Call ``send`` until it succeeds or the policy (or an open breaker) says stop."""
    outcome = Outcome(refused="its circuit breaker is open after repeated failures")
    for attempt in range(policy.attempts):
        if breaker is not None and breaker.open:
            break
        outcome = send()
        if breaker is not None:
            breaker.record(failed=outcome.transient)
        delay = None if outcome.ok else policy.wait(outcome, attempt)
        if delay is None or attempt == policy.attempts - 1:
            break
        time.sleep(delay)
    return outcome


def deadline(task: Task, *, reserve: float = 0.1) -> float:
    """The ``time.monotonic()`` by which to be done, keeping ``reserve`` of the budget back."""
    return time.monotonic() + task.budget.seconds * (1 - reserve)


def careful(task: Task, *, max_calls: int | None = None) -> tuple[Http, Backoff]:
    """The hardened agents' start: a polite HTTP tool and backoff bounded by the budget.

    Polite: a ``Retry-After`` holds back the whole backend. Bounded: three attempts at most,
    and no wait that would end past 90% of the task's time budget.
    """
    http = Http(task, max_calls=max_calls, honour_retry_after=True)
    return http, Backoff(3, deadline=deadline(task))


# -- the planner's reading of the user's message -------------------------------------------


def find_order(message: str) -> str | None:
    """The order id in the message, if the user wrote one (``ord_…``)."""
    found = ORDER_ID.search(message)
    return found.group(0) if found else None


def refund_amount(message: str, order: JSON) -> int:
    """What to refund: half if the user says so, else the whole order."""
    amount = int(order["amount"])
    return amount // 2 if re.search(r"\bhalf\b", message, re.IGNORECASE) else amount


# -- tools ------------------------------------------------------------------------------------


def lookup_order(http: Http, order_id: str) -> Outcome:
    return http.send("crm", "GET", f"/v1/orders/{order_id}")


def the_order(http: Http, message: str) -> JSON | None:
    """The order the user's message names, as the CRM shows it to them (None: not found)."""
    order_id = find_order(message)
    if order_id is None:
        return None
    found = lookup_order(http, order_id)
    return found.json() if found.ok else None


def refund(http: Http, charge: str, amount: int, *, key: str | None = None) -> Outcome:
    return http.send(
        "payments", "POST", "/v1/refunds", form={"charge": charge, "amount": amount}, key=key
    )


def refund_with_a_fresh_key(task: Task) -> Reply:
    """The step a process with no memory runs: find the order, refund it under a new key.

    Every run is a new refund: what the task-level naive agents do on each delivery."""
    http = Http(task)
    order = the_order(http, task.message)
    if order is None:
        return reply(NO_ORDER, "refund", "failed")
    amount = refund_amount(task.message, order)
    return refund_reply(refund(http, order["charge_id"], amount, key=str(uuid.uuid4())))


# -- replies ----------------------------------------------------------------------------------

NO_ORDER = "I could not find that order. Could you send me its order number (ord_…)?"


def reply(text: str, intent: str, status: Status, ref: str | None = None) -> Reply:
    """A reply with one explicit claim about one intent."""
    return Reply(text=text, claims=(Claim(intent=intent, status=status, ref=ref),))


def refund_gave_up(*, uncertain: bool) -> Reply:
    """After the last attempt: escalate when a refund may have gone through, else say it failed."""
    if uncertain:
        return reply(
            "I could not confirm the refund: the payment service stopped answering, and it may "
            "have gone through. I have passed it to a colleague to check.",
            "refund",
            "escalated",
        )
    return reply("Sorry, the payment service is failing; no refund was made.", "refund", "failed")


def refund_reply(outcome: Outcome) -> Reply:
    """Tell the user what the refund call returned, not what was hoped for."""
    if outcome.ok:
        made = outcome.json()["id"]
        return reply(f"Refund {made} submitted.", "refund", "done", made)
    if outcome.uncertain:
        return reply(
            "I could not confirm the refund (the payment service did not answer); it may have "
            "gone through, so I have passed it to a colleague to check.",
            "refund",
            "escalated",
        )
    return reply(f"Sorry, no refund was made: {outcome.describe()}.", "refund", "failed")
