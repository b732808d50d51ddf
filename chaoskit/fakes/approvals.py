"""A fake approvals queue with a scripted human reviewer.

The agent files a request (``POST /v1/approvals``) and polls it (``GET /v1/approvals/{id}``).
The reviewer is configured on the instance: it approves, denies, or never answers, and it
decides ``decision_after`` virtual seconds after the request was filed. The decision is made
lazily, when a poll arrives at or after that time, so an agent that never polls never learns it,
and the ``approval.decided`` entry is stamped with the moment the agent could first know it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, get_args

import httpx
from pydantic import Field

from chaoskit.core.errors import WorldError
from chaoskit.core.models import FrozenModel
from chaoskit.fakes.base import FakeRequest, route
from chaoskit.fakes.jsonapi import (
    ApiError,
    Fields,
    TokenAuthBackend,
    currency,
    json_body,
    positive_int,
    require_str,
)

__all__ = ["Approvals", "ApprovalsOptions", "ApprovalsState", "Reviewer"]

Reviewer = Literal["approve", "deny", "never"]


class ApprovalsOptions(FrozenModel):
    """A scenario's ``[approvals]`` table: what the scripted reviewer decides, and when.

    .. code-block:: toml

        [approvals]
        reviewer = "deny"      # approve (default), deny, or never (never answers)
        decision_after = 30    # virtual seconds after the request was filed
    """

    reviewer: Reviewer = "approve"
    decision_after: float = Field(default=0.0, ge=0)


_DECISIONS: dict[str, str] = {"approve": "approved", "deny": "denied"}


class _NewApproval(Fields):
    action: str = Field(description="What needs approving, e.g. refund.")
    amount: int = Field(gt=0, description="In the smallest currency unit (cents).")
    currency: str = Field(description="Three-letter ISO code, e.g. usd.")
    reason: str = Field(description="Why, in a sentence the reviewer reads.")
    requested_by: str = Field(description="The user the action is for.")


class _ApprovalFilter(Fields):
    status: Literal["pending", "approved", "denied"] | None = Field(
        None, description="Only requests in this status."
    )


@dataclass(slots=True)
class _Approval:
    id: str
    created: int
    action: str
    amount: int
    currency: str
    reason: str
    requested_by: str
    requested_at: float
    status: str = "pending"
    decided_at: float | None = None
    reviewer_comment: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"object": "approval", **asdict(self)}


@dataclass(slots=True)
class ApprovalsState:
    """Every approval request and its decision; deep-copyable for stale reads."""

    approvals: dict[str, _Approval] = field(default_factory=dict)


class Approvals(TokenAuthBackend):
    """The fake approvals queue (``approvals.chaoskit.test``) and its scripted reviewer.

    >>> from chaoskit.core.clock import VirtualClock
    >>> clock = VirtualClock()
    >>> approvals = Approvals(reviewer="deny", decision_after=60)
    >>> approvals.bind(clock=clock, seed=0)
    >>> client = httpx.Client(transport=httpx.MockTransport(approvals.serve),
    ...                       base_url="https://approvals.chaoskit.test")
    >>> filed = client.post("/v1/approvals", json={"action": "refund", "amount": 5000,
    ...     "currency": "usd", "reason": "damaged", "requested_by": "usr_dana"}).json()
    >>> client.get(f"/v1/approvals/{filed['id']}").json()["status"]
    'pending'
    >>> clock.advance(60)
    >>> client.get(f"/v1/approvals/{filed['id']}").json()["status"]
    'denied'
    """

    name = "approvals"
    default_host = "approvals.chaoskit.test"
    Options = ApprovalsOptions
    state: ApprovalsState
    #: What the scripted reviewer decides (``"never"``: the request stays pending forever).
    reviewer: Reviewer
    #: Virtual seconds between a request and its decision.
    decision_after: float

    def __init__(
        self,
        *,
        host: str | None = None,
        reviewer: Reviewer = "approve",
        decision_after: float = 0.0,
    ) -> None:
        # Decisions live outside `state`: a stale read swaps `state` for an older copy, and the
        # reviewer must not decide (and be recorded) a second time on that copy.
        self._decisions: dict[str, tuple[str, float]] = {}
        super().__init__(host=host)
        self.configure(reviewer=reviewer, decision_after=decision_after)

    def new_state(self) -> ApprovalsState:
        return ApprovalsState()

    def reset(self) -> None:
        with self.lock:
            super().reset()
            self._decisions.clear()

    def sample(self) -> dict[str, str]:
        """A token for ``usr_dana`` and one request filed (the reviewer approves at once)."""
        self.add_token("tok_dana", "usr_dana")
        filed = self.request(
            "POST",
            "/v1/approvals",
            json={
                "action": "refund",
                "amount": 4200,
                "currency": "usd",
                "reason": "Parcel arrived damaged.",
                "requested_by": "usr_dana",
            },
            headers={"Authorization": "Bearer tok_dana"},
        )
        return {"token": "tok_dana", "approval": filed.json()["id"]}

    def configure(self, *, reviewer: Reviewer, decision_after: float) -> None:
        """Script the reviewer: what it decides and how many virtual seconds it takes.

        >>> Approvals().configure(reviewer="never", decision_after=0)
        """
        if reviewer not in get_args(Reviewer):
            raise WorldError(
                f"chaoskit: unknown approvals reviewer {reviewer!r}; "
                f"use one of {', '.join(get_args(Reviewer))}."
            )
        if not decision_after >= 0:  # also refuses NaN
            raise WorldError(
                f"chaoskit: decision_after must be >= 0 virtual seconds, got {decision_after!r}."
            )
        with self.lock:
            self.reviewer = reviewer
            self.decision_after = float(decision_after)

    def apply_options(self, options: ApprovalsOptions) -> None:
        self.configure(reviewer=options.reviewer, decision_after=options.decision_after)

    @route(
        "POST",
        "/v1/approvals",
        body=_NewApproval,
        example={
            "action": "refund",
            "amount": 25000,
            "currency": "usd",
            "reason": "Refund above the $100 threshold for a damaged order.",
            "requested_by": "usr_dana",
        },
    )
    def request_approval(self, req: FakeRequest) -> httpx.Response:
        """File a request for a human's approval; poll it until it is decided."""
        body = json_body(req)
        action, reason = require_str(body, "action"), require_str(body, "reason")
        amount, code = positive_int(body, "amount"), currency(body)
        requested_by = require_str(body, "requested_by")
        approval = _Approval(
            self.new_id("apr"),
            self.timestamp(),
            action,
            amount,
            code,
            reason,
            requested_by,
            requested_at=self.now(),
        )
        self.state.approvals[approval.id] = approval
        fields = {k: v for k, v in approval.to_json().items() if k not in ("object", "id")}
        self.record(req, "approval.requested", approval.id, **fields)
        return self.respond(201, approval.to_json())

    @route("GET", "/v1/approvals/{id}", example={"id": "{approval}"})
    def get_approval(self, req: FakeRequest) -> httpx.Response:
        """Poll a request: ``pending`` until the reviewer decides (``approved``, ``denied``)."""
        approval = self.state.approvals.get(req.params["id"])
        if approval is None:
            raise ApiError(
                404,
                f"No such approval: {req.params['id']!r}.",
                code="resource_missing",
                param="id",
            )
        self._maybe_decide(req, approval)
        return self.respond(200, approval.to_json())

    @route("GET", "/v1/approvals", query=_ApprovalFilter, example={"status": "approved"})
    def list_approvals(self, req: FakeRequest) -> httpx.Response:
        """List requests, oldest first, optionally by ``status``."""
        status = req.query.get("status")
        data = []
        for approval in self.state.approvals.values():
            self._maybe_decide(req, approval)
            if status in (None, approval.status):
                data.append(approval.to_json())
        return self.respond(200, {"object": "list", "data": data})

    def _maybe_decide(self, req: FakeRequest, approval: _Approval) -> None:
        """Let the reviewer decide, if it ever does and its time has come."""
        decision = self._decisions.get(approval.id)
        if decision is None:
            decision = self._decide(req, approval)
        if decision is not None:
            approval.status, approval.decided_at = decision
            approval.reviewer_comment = f"{approval.status.capitalize()} by the scripted reviewer."

    def _decide(self, req: FakeRequest, approval: _Approval) -> tuple[str, float] | None:
        if self.reviewer == "never":
            return None
        decided_at = approval.requested_at + self.decision_after
        if self.now() < decided_at:
            return None
        decision = self._decisions[approval.id] = (_DECISIONS[self.reviewer], decided_at)
        self.record(
            req,
            "approval.decided",
            approval.id,
            decision=decision[0],
            decided_at=decided_at,
            action=approval.action,
            amount=approval.amount,
            currency=approval.currency,
            requested_by=approval.requested_by,
        )
        return decision
