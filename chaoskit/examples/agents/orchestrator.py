"""An orchestrator: the shell that runs the tool calls a planner proposes, step after step.

``naive`` runs every proposed step and, when a step fails, runs it again until it works: no
step budget, no deadline, no circuit breaker, and no human in the loop however large the
refund. Under a 5xx storm it hammers the failing backend; above the approval threshold it
refunds on its own. ``hardened`` caps its steps and time with the task's budget, keeps one
circuit breaker per tool, runs only allowlisted tools, and puts refunds above $250 in front of a
person first (polling the approvals queue, honouring ``Retry-After``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from chaoskit import Reply, Task
from chaoskit.examples.agents.toolkit import (
    JSON,
    NO_ORDER,
    CircuitBreaker,
    Http,
    Outcome,
    careful,
    deadline,
    find_order,
    lookup_order,
    refund,
    refund_amount,
    refund_reply,
    reply,
    retrying,
)

__all__ = ["APPROVAL_THRESHOLD", "hardened", "naive"]

#: Refunds above this many cents need a person's approval first.
APPROVAL_THRESHOLD = 25_000
#: Seconds between two looks at a pending approval.
POLL_EVERY = 10.0

Tool = Callable[[Http, JSON], Outcome]

TOOLS: dict[str, Tool] = {
    "lookup_order": lambda http, a: lookup_order(http, a["order_id"]),
    "refund": lambda http, a: refund(http, a["charge"], a["amount"], key=a["key"]),
    "request_approval": lambda http, a: http.send("approvals", "POST", "/v1/approvals", json=a),
    "check_approval": lambda http, a: http.send("approvals", "GET", f"/v1/approvals/{a['id']}"),
}
#: What this deployment lets the planner use; anything else it proposes is refused.
ALLOWED_TOOLS = frozenset({"lookup_order", "refund", "request_approval", "check_approval"})


def _next_step(message: str, results: dict[str, JSON]) -> tuple[str, JSON] | None:
    """The scripted planner: look the order up, then refund it, then stop."""
    if "lookup_order" not in results:
        return "lookup_order", {"order_id": find_order(message) or "unknown"}
    if "refund" not in results:
        order = results["lookup_order"]
        charge, amount = order["charge_id"], refund_amount(message, order)
        return "refund", {"charge": charge, "amount": amount, "key": f"refund-{charge}-{amount}"}
    return None


def _done(results: dict[str, JSON]) -> Reply:
    made = results["refund"]["id"]
    return reply(f"Refund {made} submitted.", "refund", "done", made)


def naive(task: Task) -> Reply:
    """Runs every step until it works: no budget, no breaker, no approval."""
    http, results = Http(task), dict[str, JSON]()
    while (step := _next_step(task.message, results)) is not None:
        name, args = step
        outcome = TOOLS[name](http, args)
        while not outcome.ok:  # the model "tries again", for as long as it takes
            time.sleep(1.0)
            outcome = TOOLS[name](http, args)
        results[name] = outcome.json()
    return _done(results)


class _Shell:
    """Runs allowlisted tools within the task's budget, one circuit breaker per tool."""

    def __init__(self, task: Task) -> None:
        self.http, self.policy = careful(task, max_calls=task.budget.tool_calls)
        self.deadline = self.policy.deadline or deadline(task)
        self.breakers: dict[str, CircuitBreaker] = {}

    def run(self, name: str, args: JSON) -> Outcome:
        if name not in ALLOWED_TOOLS:
            return Outcome(refused=f"the tool {name!r} is not allowed here")
        breaker = self.breakers.setdefault(name, CircuitBreaker(failures=3))
        return retrying(lambda: TOOLS[name](self.http, args), self.policy, breaker=breaker)


def hardened(task: Task) -> Reply:
    """Budgets, per-tool breakers, a tool allowlist and approval above the threshold."""
    shell, results = _Shell(task), dict[str, JSON]()
    while (step := _next_step(task.message, results)) is not None:
        name, args = step
        if name == "refund" and args["amount"] > APPROVAL_THRESHOLD:
            decision = _approval(shell, task, args)
            if decision != "approved":
                return _not_approved(decision, args["amount"])
        outcome = shell.run(name, args)
        if name == "refund" and not outcome.ok:
            return refund_reply(outcome)
        if not outcome.ok:
            return reply(NO_ORDER, "refund", "failed")
        results[name] = outcome.json()
    return _done(results)


def _approval(shell: _Shell, task: Task, refund_args: JSON) -> str:
    """File an approval request and wait for the decision: approved, denied or pending."""
    filed = shell.run(
        "request_approval",
        {
            "action": "refund",
            "amount": refund_args["amount"],
            "currency": "usd",
            "reason": task.message[:200],
            "requested_by": task.principal.user_id,
        },
    )
    if not filed.ok:
        return "unavailable"
    approval = {"id": filed.json()["id"]}
    while time.monotonic() + POLL_EVERY < shell.deadline:
        time.sleep(POLL_EVERY)
        seen = shell.run("check_approval", approval)
        if seen.ok and seen.json()["status"] != "pending":
            return str(seen.json()["status"])
        if seen.refused is not None:
            break
    return "pending"


def _not_approved(decision: str, amount: int) -> Reply:
    dollars = f"${amount / 100:,.2f}"
    if decision == "denied":
        return reply(
            f"A refund of {dollars} needs a manager's approval, and it was declined, so no "
            "refund was made.",
            "refund",
            "failed",
        )
    return reply(
        f"A refund of {dollars} needs a manager's approval; I have asked for it and will "
        "refund as soon as it is granted.",
        "refund",
        "pending_approval",
    )
