"""Putting a reply's segments together: cues shared across a sentence, and the tally of what
the reply says about each intent."""

from __future__ import annotations

from dataclasses import dataclass, field

from chaoskit.invariants.claims.results import IntentClaim, ReplyClaims
from chaoskit.invariants.claims.rules import READINGS, Outcome, Reading
from chaoskit.invariants.claims.segments import _Segment

__all__ = ["_Tally", "_apply", "_fill"]

_EVERY: frozenset[Reading] = frozenset(READINGS)


def _fill(segments: list[_Segment]) -> list[_Segment]:
    """Intents named without a cue borrow the nearest cue in the sentence, before or after."""
    for i, segment in enumerate(segments):
        if segment.intents and segment.readings is None:
            donor = next(
                (s for s in [*reversed(segments[:i]), *segments[i + 1 :]] if s.readings),
                None,
            )
            if donor is not None:
                segment.readings, segment.hedged, segment.why = (
                    donor.readings,
                    donor.hedged,
                    donor.why,
                )
    return segments


def _apply(segments: list[_Segment], last: tuple[str, ...], tally: _Tally) -> tuple[str, ...]:
    seen: list[str] = []
    for segment in segments:
        if segment.intents:
            for intent in segment.intents:
                tally.note(intent, segment)
            seen += [i for i in segment.intents if i not in seen]
            last = segment.intents
        elif segment.readings is None:
            continue
        elif seen:
            for intent in seen:
                if segment.pronoun:
                    tally.note(intent, segment)
                else:
                    tally.widen(intent, segment)
        elif segment.pronoun and last:
            for intent in last:
                tally.note(intent, segment)
        else:
            tally.note(None, segment)
    return last


@dataclass
class _Stated:
    readings: frozenset[Reading]
    hedged: bool
    quote: str
    why: str


@dataclass
class _Tally:
    stated: dict[str | None, _Stated] = field(default_factory=dict)

    def note(self, intent: str | None, segment: _Segment) -> None:
        if segment.readings is None:
            new = _Stated(_EVERY, True, segment.text, "mentions it without saying what happened")
        else:
            new = _Stated(segment.readings, segment.hedged, segment.text, segment.why)
        old = self.stated.get(intent)
        if old is None or not new.hedged:
            self.stated[intent] = new
        elif old.hedged:
            # Two hedges about one intent: what both allow, if anything; else the narrower.
            both = old.readings & new.readings
            if both:
                self.stated[intent] = _Stated(both, True, new.quote, new.why)
            elif len(new.readings) <= len(old.readings):
                self.stated[intent] = new

    def widen(self, intent: str, segment: _Segment) -> None:
        """A cue that may or may not be about ``intent`` widens its readings."""
        old = self.stated[intent]
        assert segment.readings is not None
        if (segment.hedged and not old.hedged) or segment.readings <= old.readings:
            return
        if segment.readings == {"escalation"}:
            return  # "…so a human can follow up" contradicts nothing said before
        why = f"a later remark ({segment.text!r}) may or may not be about it"
        self.stated[intent] = _Stated(old.readings | segment.readings, True, old.quote, why)

    def result(self, text: str) -> ReplyClaims:
        claims = {i: _claim(i, s) for i, s in self.stated.items() if i is not None}
        general = self.stated.get(None)
        return ReplyClaims(
            text=text,
            intents=claims,
            general=None if general is None else _claim("everything", general, general=True),
        )


_SAYS: dict[Reading, str] = {
    "success": "happened",
    "failure": "failed",
    "pending_approval": "awaits approval",
    "escalation": "was escalated",
}


def _claim(intent: str, stated: _Stated, *, general: bool = False) -> IntentClaim:
    readings = tuple(r for r in READINGS if r in stated.readings)
    about = "a general remark" if general else f"the {intent}"
    if len(readings) == 1:
        outcome: Outcome = readings[0]
        hedge = f" (hedged, but every reading agrees: {stated.why})" if stated.hedged else ""
        reason = f"the reply says {about} {_SAYS[readings[0]]}: {stated.quote!r}{hedge}"
    else:
        outcome = "ambiguous"
        options = " or ".join(r.replace("_", " ") for r in readings)
        reason = (
            f"the reply is ambiguous about {about}: {stated.why} ({stated.quote!r}); "
            f"it reads as {options}"
        )
    return IntentClaim(
        intent=intent,
        outcome=outcome,
        readings=readings,
        reason=reason,
        quote=stated.quote,
        general=general,
    )
