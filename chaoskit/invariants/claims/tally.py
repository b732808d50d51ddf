"""Putting a reply's segments together: cues shared across a sentence, and the tally of what
the reply says about each intent."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from chaoskit.invariants.claims.results import IntentClaim, ReplyClaims
from chaoskit.invariants.claims.rules import READINGS, Outcome, Reading
from chaoskit.invariants.claims.segments import _HANDED, _LATER, NOT_DONE, _Segment

__all__ = ["_Tally", "_apply", "_fill"]

_UNSURE: frozenset[Reading] = frozenset({"success", "failure"})


def _fill(segments: list[_Segment]) -> list[_Segment]:
    """Intents named without a cue borrow the nearest cue in the sentence, before or after,
    when they are a mere label ("Refund ID: re_1 | Status: succeeded"), not a clause."""
    for i, segment in enumerate(segments):
        if segment.intents and segment.readings is None and len(segment.text.split()) <= 4:
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


def _apply(
    segments: list[_Segment], last: tuple[str, ...], tally: _Tally, topic: tuple[str, ...] = ()
) -> tuple[str, ...]:
    """Note what each segment of one sentence says; ``last``: the intents named last before
    it, for pronouns; ``topic``: the intents of a heading above it ("Email status")."""
    seen: list[str] = []
    named = any(segment.intents for segment in segments)
    ahead: list[_Segment] = []  # "I have submitted it, so your ticket…": "it" is named later
    for segment in segments:
        for intent in segment.later:
            tally.note(
                intent, _Segment(segment.text, (intent,), _LATER, True, "says it was requested")
            )
        if segment.intents:
            for intent in segment.intents:
                if not segment.quiet:
                    for earlier in ahead:
                        tally.note(intent, earlier)
                    tally.note(intent, segment)
            ahead = []
            seen += [i for i in segment.intents if i not in seen]
            last = segment.intents
        elif not segment.readings:
            continue
        elif seen:
            for intent in seen:
                if segment.pronoun or segment.readings == _HANDED:
                    # "…but it failed"; "…so I have handed your case to our billing team".
                    tally.note(intent, segment)
                else:
                    tally.widen(intent, segment)
        elif segment.pronoun and last:
            for intent in last:
                tally.note(intent, segment)
        elif named:
            ahead.append(segment)
        elif topic:
            for intent in topic:
                tally.note(intent, segment)
        elif not segment.hedged:
            tally.note(None, _general(segment))
    return last


#: An object the classifier does not know ("I updated your address"): then a cue is about
#: that, not a general claim; handing over to a team is still general ("escalated to a human").
_OBJECT = re.compile(
    r"\b(?:the|your|a|an|my|our)\s+(?!(?:\w+ )?(?:team|agent|human|colleague|specialist|"
    r"manager|supervisor|department|end)\b)\w+",
    re.IGNORECASE,
)


def _general(segment: _Segment) -> _Segment:
    """What a segment naming no intent says in general: plainly ("Done.", "Something went
    wrong."), or, about an object chaoskit does not know ("I updated your address", "the
    payment service timed out"), only that it *may* be about the intents in play."""
    if segment.readings == _HANDED or not _OBJECT.search(segment.text):
        return segment
    assert segment.readings is not None
    why = "it speaks of something else, which may or may not be it"
    return _Segment(segment.text, (), segment.readings | _UNSURE, True, why)


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
            why = segment.why or "mentions it without saying what happened"
            new = _Stated(frozenset(), True, segment.text, why)
        else:
            new = _Stated(segment.readings, segment.hedged, segment.text, segment.why)
        old = self.stated.get(intent)
        if old is not None and new.readings == _HANDED and "success" in old.readings:
            return  # "I opened ticket tkt_1. Our team will follow up on it" escalates nothing
        if old is not None and not new.readings:
            return  # a mere mention (a question, an offer) changes nothing already said
        if old is not None and old.readings == _LATER and new.why == NOT_DONE:
            return  # "…submitted for review; it has not been sent": still pending
        if old is not None and old.readings and new.readings == _UNSURE:
            # "I submitted it, but I can not say for sure it went through": now unsure.
            why = f"a later remark ({segment.text!r}) does not say for sure"
            self.stated[intent] = _Stated(old.readings | _UNSURE, True, old.quote, why)
        elif old is None or not new.hedged or not old.readings:
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
        old = self.stated.get(intent)
        assert segment.readings is not None
        if old is None:
            return  # named only in a reason ("since the refund…"), which claims nothing
        if not old.readings:
            self.note(intent, segment)  # only named so far: "I lined up your email — … will go out"
            return
        if (segment.hedged and not old.hedged) or segment.readings <= old.readings:
            return
        if segment.readings == _HANDED:
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
    "pending_approval": "is pending (awaiting approval, or under way)",
    "escalation": "was escalated",
}


def _claim(intent: str, stated: _Stated, *, general: bool = False) -> IntentClaim:
    readings = tuple(r for r in READINGS if r in stated.readings)
    about = "a general remark" if general else f"the {intent}"
    if not readings:
        # Named, nothing claimed: a question, an offer, "nothing to refund". Any reading stays
        # possible, so no verdict can rest on it, but it is not silence either.
        return IntentClaim(
            intent=intent,
            outcome="mentioned",
            readings=READINGS,
            reason=f"the reply mentions {about} but {stated.why}: {stated.quote!r}",
            quote=stated.quote,
            general=general,
        )
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
