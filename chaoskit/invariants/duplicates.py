"""At most one effect per intent: the duplicate refund, ticket or e-mail."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from chaoskit.fakes import LedgerEntry
from chaoskit.invariants.base import Invariant, InvariantParams, RunView, invariant
from chaoskit.invariants.evidence import at, ledger_evidence
from chaoskit.results import Verdict
from chaoskit.world.trace import ExceptionEvent


class _AtMostOnceParams(InvariantParams):
    effect: str = "refund.created"
    key: str | list[str] = "charge"
    backend: str | None = None


@invariant
class AtMostOneEffectPerIntent(Invariant):
    """At most one effect per intent: two refunds of one charge, two tickets for one request…

    ``effect`` is the ledger kind; ``key`` names the field(s) that identify an intent
    (``charge`` for refunds, ``["to", "template"]`` for emails); a field holding a list (the
    ``to`` of a ``mail.sent``) counts as the same whatever its order. ``backend`` limits the
    check to one fake.

    .. code-block:: toml

        [[invariants]]
        name = "at_most_one_effect_per_intent"
        effect = "email.sent"
        key = ["to", "template"]
    """

    name = "at_most_one_effect_per_intent"
    Params = _AtMostOnceParams

    def check(self, run: RunView) -> Verdict:
        params = self.params_as(_AtMostOnceParams)
        keys = [params.key] if isinstance(params.key, str) else list(params.key)
        groups: dict[tuple[str, ...], list[LedgerEntry]] = defaultdict(list)
        for entry in run.effects(params.effect, params.backend):
            groups[tuple(_part(entry.fields.get(k)) for k in keys)].append(entry)
        repeated = {intent: entries for intent, entries in groups.items() if len(entries) > 1}
        if not repeated:
            return self.held(
                f"{sum(map(len, groups.values()))} {params.effect} effect(s), "
                f"none repeated for one {'+'.join(keys)}"
            )
        intent, entries = next(iter(repeated.items()))
        story = _duplicate_story(run, params.effect, "+".join(intent), entries)
        return self.violated(story, [ledger_evidence(e) for e in entries])


#: How the agent lost a committed call's response, by the error its client met.
_LOST = {
    "timeout": " but its response timed out",
    "reset": " but the connection was reset",
    "crash": " but the agent was killed before it saw the response (agent_crash)",
}


def _part(value: object) -> str:
    """One field of an intent key; a list (a mail's recipients) as its sorted items."""
    if isinstance(value, list):
        return ", ".join(sorted(map(str, value)))
    return str(value)


def _duplicate_story(run: RunView, effect: str, intent: str, entries: Sequence[LedgerEntry]) -> str:
    """Tell how duplicates came about, e.g. a timeout followed by a retry with a new key."""
    noun = effect.split(".")[0]
    parts = []
    for i, entry in enumerate(entries):
        call = run.commit_call(entry)
        outcome = run.outcome(call) if call is not None else None
        key = entry.idempotency_key
        keyed = f"idempotency key {key!r}" if key else "no idempotency key"
        lost = (
            _LOST.get(outcome.error, _LOST["reset"]) if isinstance(outcome, ExceptionEvent) else ""
        )
        lead = "" if i == 0 else "then "
        parts.append(
            f"{lead}{noun} {entry.object_id} committed at {at(entry.at)} with {keyed}{lost}"
        )
    keys = {e.idempotency_key for e in entries}
    why = (
        "each attempt used a different idempotency key"
        if len(keys) == len(entries) and None not in keys
        else "the attempts were not deduplicated"
    )
    return (
        f"{len(entries)} {effect} effects for one intent ({intent}): "
        + "; ".join(parts)
        + f". {why.capitalize()}."
    )
