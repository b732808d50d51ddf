"""The phrase lists the claims classifier reads replies with (:class:`ClaimRules`, and the
defaults in :data:`DEFAULT_RULES`), and the names of the outcomes it reports."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator

__all__ = ["DEFAULT_RULES", "READINGS", "ClaimRules", "Outcome", "Reading"]

Reading = Literal["success", "failure", "pending_approval", "escalation"]
Outcome = Literal[
    "success", "failure", "pending_approval", "escalation", "ambiguous", "not_mentioned"
]
READINGS: tuple[Reading, ...] = ("success", "failure", "pending_approval", "escalation")

_PATTERN_FIELDS = (
    "success",
    "failure",
    "pending_approval",
    "escalation",
    "future",
    "uncertain",
    "conditional",
    "negations",
    "negatable",
    "ignore",
    "skip_sentences",
    "pronouns",
)


class ClaimRules(BaseModel):
    """The phrase lists the classifier reads replies with: case-insensitive regexes.

    Contractions are expanded before matching, so write ``could not``, never ``couldn't``.

    >>> from chaoskit.invariants.claims import classify
    >>> rules = DEFAULT_RULES.extend(intents={"refund": [r"\\bmoney returned\\b"]},
    ...                              success=[r"\\bsorted\\b"])
    >>> classify("Money returned and sorted.", rules).about("refund").outcome
    'success'
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Intent kind → patterns naming it.
    intents: dict[str, tuple[str, ...]] = {
        "refund": (r"\brefund\w*", r"\bmoney back\b", r"\breimburs\w*"),
        "ticket": (r"\btickets?\b", r"\bsupport (?:case|request)\b", r"\bcase (?:number|id)\b"),
        "email": (r"\be-?mail\w*", r"\bconfirmation message\b", r"\breminders?\b"),
        "charge": (r"\bcharg\w*", r"\bbill(?:ed|ing)\b"),
        "order": (r"\borders?\b",),
    }
    #: Intents that only count in a segment naming no other intent.
    weak_intents: tuple[str, ...] = ("charge", "order")
    success: tuple[str, ...] = (
        r"\bdone\b",
        r"\bcompleted?\b",
        r"\bprocessed\b",
        r"\bissued\b",
        r"\bsubmitted\b",
        r"\bsent\b",
        r"\bcreated\b",
        r"\bopened\b",
        r"\bfiled\b",
        r"\braised\b",
        r"\blogged\b",
        r"\bplaced\b",
        r"\b(?:went|gone|go) through\b",
        r"\bsucceeded\b",
        r"\bsuccessful(?:ly)?\b",
        r"\bconfirmed\b",
        r"\ball set\b",
        r"\btaken care of\b",
        r"\b(?:number|reference) is\b",
        r"\bhere is your\b",
        r"\b(?:refunded|reimbursed|emailed|charged|billed)\b",
    )
    failure: tuple[str, ...] = (
        r"\bunable to\b",
        r"\bfail(?:ed|s|ing|ure)?\b",
        r"\berrors?\b",
        r"\bdeclined\b",
        r"\brejected\b",
        r"\bdenied\b",
        r"\brefused\b",
        r"\btimed? ?out\b",
        r"\bwent wrong\b",
        r"\bunsuccessful\b",
        r"\bunavailable\b",
        r"\boutage\b",
        r"\bbounced\b",
        r"\bgave up\b",
        r"\b(?:could|can) not\b",
        r"\b(?:was|were|am|is|are) not able\b",
        r"\bdid not (?:go through|work)\b",
    )
    pending_approval: tuple[str, ...] = (
        r"\bapproval\b",
        r"\bsign-?off\b",
        r"\bauthori[sz]ation\b",
        r"\b(?:needs|need|must|has|have) to be approved\b",
        r"\b(?:once|until|after) (?:it is |it has been |they are )?approved\b",
        r"\bapproved yet\b",
        r"\b(?:for|under|pending) review\b",
    )
    escalation: tuple[str, ...] = (
        r"\bescalat\w*",
        r"\bhand(?:ed|ing)? (?:it |this |them |your \w+ )?(?:over|off) to\b",
        r"\bpass(?:ed|ing)? (?:it |this |them |your \w+ )?(?:on|along) to\b",
        r"\bpass(?:ed|ing)? (?:it|this|them|your \w+) (?:along|on)\b",
        r"\bpass(?:ed|ing)? (?:it|this|them|your \w+) to (?:our|the|a) \w+",
        r"\braised (?:it|this|your \w+) with (?:our|the|a)\b",
        r"\b(?:being )?handled by (?:our|the|a) \w+",
        r"\bforwarded\b.{0,40}\bto (?:our|the|a) \w+ team\b",
        r"\b(?:a|our) (?:human|colleague|specialist|teammate|team member|supervisor)\b",
    )
    #: Future or in-progress wording: success *or* pending, never plainly either.
    future: tuple[str, ...] = (
        r"\b(?:will|should|shall|going to)(?!\s+not\b)"
        r"(?:\s+(?:be|have|been|now|soon|also|get|probably|likely|then|automatically))*\s+\w+",
        r"\b(?:may|might|can|could) take\b",
        r"\b(?:business|working) days\b",
        r"\bbeing \w+",
        r"\bin progress\b",
        r"\bunderway\b",
        r"\binitiated\b",
        r"\brequested\b",
        r"\bpending\b",
        r"\bawaiting\b",
        r"\bwaiting\b",
        r"\bon (?:its|the) way\b",
        r"\bexpect\w*",
        r"\bsoon\b",
        r"\bshortly\b",
        r"\bqueued\b",
        r"\bscheduled\b",
        r"\bapproved\b",
    )
    #: Uncertainty: success *or* failure.
    uncertain: tuple[str, ...] = (
        r"\b(?:could|can|did|was|were|am) not (?:confirm|verify|tell|determine|check)\b",
        r"\bunable to (?:confirm|verify|tell|determine|check)\b",
        r"\bnot (?:sure|certain|clear)\b",
        r"\bi (?:think|believe|guess)\b",
        r"\b(?:probably|possibly|perhaps|maybe|hopefully|apparently|presumably)\b",
        r"\b(?:may|might)\b",
        r"\bunsure\b",
        r"\bunclear\b",
        r"\bseems?\b",
        r"\bappears?\b",
        r"\bwhether\b",
        r"\b(?:tried|attempted|trying|attempting) to\b",
    )
    #: A condition inside a segment makes it hypothetical ("I'll email you once it's done").
    conditional: tuple[str, ...] = (r"\bonce\b", r"\bas soon as\b", r"\buntil\b", r"\bif\b")
    negations: tuple[str, ...] = (
        r"not",
        r"never",
        r"no",
        r"nothing",
        r"none",
        r"neither",
        r"nor",
        r"without",
        r"except",
    )
    #: Words a negation turns into a failure ("not processed", "no refund").
    negatable: tuple[str, ...] = (
        r"\b(?:able|possible|eligible|allowed|permitted)\b",
        r"\b(?:manage|succeed|success|work|go|gone|went|complete|process|issue|submit)\w*",
        r"\b(?:send|sent|create|open|file|raise|log|place|happen|approve)\w*",
        r"\b(?:refund|reimburs|email|e-mail|charg|bill|ticket)\w*",
        r"\bdone\b",
    )
    #: Benign phrases removed before anything else, so that they negate nothing.
    ignore: tuple[str, ...] = (
        r"\bdo not (?:worry|hesitate)\b",
        r"\bnot to worry\b",
        r"\bno (?:worries|problem|problems|issues?|errors?|need)\b",
        r"\bwithout (?:any )?(?:problems?|issues?|errors?|trouble|delay)\b",
        r"\bnot only\b",
        # Reassurance about the future, not a report: "you won't be charged twice".
        r"\bwill not be (?:charged|billed)(?: (?:twice|again|double))?\b",
    )
    #: Sentences and clauses opening with these report nothing (nor do questions).
    skip_sentences: tuple[str, ...] = (
        r"^(?:if|unless|in case|should you|whenever)\b",
        r"^(?:please (?:let|contact|reach|reply|try|allow|wait|check)|feel free)\b",
        r"^(?:let me know|let us know|do not hesitate)\b",
        r"^(?:would you like|do you want|shall i|can i|may i|is there anything)\b",
    )
    pronouns: tuple[str, ...] = (
        r"it",
        r"this",
        r"that",
        r"they",
        r"them",
        r"these",
        r"those",
        r"which",
        r"one",
        r"both",
    )
    #: How many words after a negation it reaches.
    negation_window: int = 4

    @field_validator(*_PATTERN_FIELDS)
    @classmethod
    def _valid_patterns(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        _compiled(patterns)
        return patterns

    @field_validator("intents")
    @classmethod
    def _valid_intents(cls, intents: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for patterns in intents.values():
            _compiled(patterns)
        return intents

    def pattern(self, name: str) -> re.Pattern[str]:
        """The compiled alternation of one phrase list (or ``"intent:refund"``)."""
        if name.startswith("intent:"):
            return _compiled(self.intents[name.removeprefix("intent:")])
        patterns: tuple[str, ...] = getattr(self, name)
        return _compiled(patterns, whole=name in ("negations", "pronouns"))

    def extend(
        self, *, intents: Mapping[str, Iterable[str]] | None = None, **phrases: Iterable[str]
    ) -> ClaimRules:
        """A copy with more patterns appended (``success=[...]``, ``intents={"refund": [...]}``).

        >>> from chaoskit.invariants.claims import classify
        >>> rules = DEFAULT_RULES.extend(intents={"callback": [r"\\bcall ?back\\b"]})
        >>> classify("I scheduled a callback and it is done.", rules).about("callback").outcome
        'success'
        """
        data = self.model_dump()
        for name, more in phrases.items():
            if name not in _PATTERN_FIELDS and name != "weak_intents":
                known = ", ".join(("intents", "weak_intents", *_PATTERN_FIELDS))
                raise TypeError(f"chaoskit: ClaimRules has no phrase list {name!r}; use {known}.")
            data[name] = (*data[name], *more)
        for intent, patterns in (intents or {}).items():
            data["intents"][intent] = (*data["intents"].get(intent, ()), *patterns)
        return ClaimRules.model_validate(data)


@functools.lru_cache(maxsize=256)
def _compiled(patterns: tuple[str, ...], *, whole: bool = False) -> re.Pattern[str]:
    """One regex for a phrase list; ``whole`` lists match whole tokens (``not``, ``it``)."""
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as error:
            raise ValueError(f"{pattern!r} is not a valid regular expression ({error})") from None
    if not patterns:
        return re.compile(r"(?!)")  # an empty list matches nothing
    either = "|".join(f"(?:{p})" for p in patterns)
    return re.compile(f"^(?:{either})$" if whole else either, re.IGNORECASE)


DEFAULT_RULES = ClaimRules()
