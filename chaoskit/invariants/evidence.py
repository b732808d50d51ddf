"""Evidence and the plain words of stories: shared by every invariant family."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from chaoskit.fakes import LedgerEntry
from chaoskit.invariants.base import Outcome, RunView
from chaoskit.results import Evidence
from chaoskit.world.trace import Event, ExceptionEvent, RequestEvent


def ledger_evidence(entry: LedgerEntry) -> Evidence:
    """Evidence pointing at a ledger entry (``payments#3``)."""
    fields = ", ".join(f"{k}={v}" for k, v in entry.fields.items() if k != "body")
    return Evidence(
        kind="ledger",
        ref=f"{entry.backend}#{entry.seq}",
        detail=f"{entry.kind} {entry.object_id} at {at(entry.at)} ({fields})",
    )


def trace_evidence(event: Event, detail: str) -> Evidence:
    """Evidence pointing at a trace position (``trace#12``)."""
    return Evidence(kind="trace", ref=f"trace#{event.seq}", detail=detail)


def call_evidence(run: RunView, request: RequestEvent) -> Evidence:
    """Evidence for one call: where it is in the trace and how it ended."""
    return trace_evidence(request, describe_call(run, request))


def reply_evidence(detail: str) -> Evidence:
    """Evidence pointing at the agent's final reply."""
    return Evidence(kind="reply", ref="reply", detail=detail)


def describe_call(run: RunView, request: RequestEvent) -> str:
    """``call #3 POST /v1/refunds on payments at t=1s → 500 api_error``."""
    return (
        f"call #{request.call} {request.method} {request.path} on {request.backend} "
        f"at {at(request.at)} → {describe_outcome(run.outcome(request.call))}"
    )


def describe_outcome(outcome: Outcome | None) -> str:
    """``200``, ``429 rate_limited (Retry-After 2s)``, ``timeout``, ``no answer``."""
    if outcome is None:
        return "no answer"
    if isinstance(outcome, ExceptionEvent):
        return outcome.error
    text = str(outcome.status) + (f" {outcome.error_code}" if outcome.error_code else "")
    if outcome.retry_after is not None:
        text += f" (Retry-After {outcome.retry_after:g}s)"
    return text + (" (replayed)" if outcome.replayed else "")


def at(seconds: float) -> str:
    """A virtual time for stories: ``t=0.8s``."""
    return f"t={round(seconds, 3):g}s"


#: How many problems a story spells out before "(N more like this.)", and evidence items kept.
_SHOWN = 3
EVIDENCE_CAP = 10


def story(problems: Sequence[str]) -> str:
    """The first few problems, each as a sentence, then how many more there are."""
    shown = " ".join(_sentence(p) for p in problems[:_SHOWN])
    more = len(problems) - _SHOWN
    return shown + (f" ({more} more like this.)" if more > 0 else "")


def _sentence(text: str) -> str:
    # Not capitalised: problems often open with a name ("crm refused…", "refund.created…").
    return text if text.endswith(".") else text + "."


def strings(value: Any) -> Iterator[str]:
    """Every string inside a JSON value (ledger fields nest lists and objects)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings(item)
