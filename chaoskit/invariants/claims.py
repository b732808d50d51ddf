"""Reading an agent's English reply: what does it say happened to each intent?

Invariants such as ``no_unreported_failure`` compare what the agent *says* with what the ledgers
*show*. When the agent returns a structured :class:`~chaoskit.core.agent.Reply` with claims, those
are used. Otherwise :func:`classify` reads the text with plain, documented rules: no model, no
guessing. For each intent kind (refund, ticket, email, charge, order…) it reports one of

* ``success``, ``failure``, ``pending_approval``, ``escalation``: the reply says so plainly;
* ``ambiguous``: the reply mentions the intent but can be read more than one way (the possible
  ``readings`` and the ``reason`` say how);
* ``not_mentioned``.

>>> claims = classify("Refund done, but I couldn't email you the receipt.")
>>> claims.about("refund").outcome, claims.about("email").outcome
('success', 'failure')
>>> classify("Your refund should be processed soon.").about("refund").readings
('success', 'pending_approval')

How a reply is read:

1. Contractions are expanded (``couldn't`` → ``could not``); matching ignores case.
2. It is cut into sentences, and sentences into segments at ``;`` and at connectives (``but``,
   ``however``, ``although``, ``and``, ``or``, ``so``, ``then``…). Questions, and segments that
   open with a condition, an instruction or an offer (``if``, ``unless``, ``please contact``,
   ``let me know``, ``would you like``…), report nothing and are skipped.
3. A segment names intents through the ``intents`` patterns. *Weak* intents (``charge``,
   ``order``) only count in segments naming no other intent: in "I refunded the charge" the
   charge is the object of the refund, not an intent of its own.
4. A segment's cues decide its readings, strongest first: approval words → pending approval
   (with a failure cue as well: ambiguous); escalation; failure (failure words, or a negation
   such as ``not`` / ``never`` / ``no`` followed within ``negation_window`` words, inside the
   same clause, by an action word: "the refund was **not processed**"); success. Phrases in
   ``ignore`` ("don't worry", "without any problems") are removed first so they negate nothing.
   Hedges make a segment ambiguous: future or in-progress wording ("should be refunded soon",
   "I've requested a refund", "not processed yet") reads as success *or* pending approval;
   uncertainty ("I think", "tried to", "could not confirm") as success *or* failure; a condition
   inside the segment ("once", "as soon as") as success or pending approval.
5. A segment naming intents but no cue takes the cue of the segment before it in the sentence
   (or after it): "I could not refund **or email** you" fails both. A segment with a cue but no
   intent is about the intents named earlier in the sentence when it has a pronoun ("…but
   **it** failed"); without one it *may* be about them, so their readings widen ("I submitted
   the refund, but the provider returned an error": success or failure). A sentence opening
   with a pronoun ("It failed.") is about the last intents named. Anything else ("Done.",
   "Something went wrong.") is a *general* claim, which :meth:`ReplyClaims.about` returns for
   intents the reply never names.
6. A later plain statement about an intent replaces an earlier one ("It failed. I retried and
   it went through." → success); a hedged one never replaces a plain one.

Every phrase list is a field of :class:`ClaimRules`, case-insensitive regular expressions over the
text; extend them with :meth:`ClaimRules.extend`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator

__all__ = [
    "DEFAULT_RULES",
    "READINGS",
    "ClaimRules",
    "IntentClaim",
    "Outcome",
    "Reading",
    "ReplyClaims",
    "classify",
    "mentioned_intents",
]

Reading = Literal["success", "failure", "pending_approval", "escalation"]
Outcome = Literal[
    "success", "failure", "pending_approval", "escalation", "ambiguous", "not_mentioned"
]
READINGS: tuple[Reading, ...] = ("success", "failure", "pending_approval", "escalation")

_EVERY: frozenset[Reading] = frozenset(READINGS)
_LATER: frozenset[Reading] = frozenset({"success", "pending_approval"})
_UNSURE: frozenset[Reading] = frozenset({"success", "failure"})

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
        "email": (r"\be-?mail\w*", r"\bconfirmation message\b"),
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
        r"\bforwarded\b.{0,40}\bto (?:our|the|a) \w+ team\b",
        r"\b(?:a|our) (?:human|colleague|specialist|teammate|team member|supervisor)\b",
    )
    #: Future or in-progress wording: success *or* pending, never plainly either.
    future: tuple[str, ...] = (
        r"\b(?:will|should|shall|going to)(?!\s+not\b)(?:\s+(?:be|have|been|now|soon|also|get))*"
        r"\s+\w+",
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


class IntentClaim(BaseModel):
    """What the reply says about one intent, with its possible readings and why."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    intent: str
    outcome: Outcome
    #: Every way the statement can be read: one for a plain statement, several if ambiguous.
    readings: tuple[Reading, ...] = ()
    reason: str
    #: The part of the reply the outcome rests on.
    quote: str = ""
    #: True when the reply never names the intent and this is a general claim ("Done.").
    general: bool = False


class ReplyClaims(BaseModel):
    """The classification of a whole reply: per named intent, plus any general claim."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str
    intents: dict[str, IntentClaim] = {}
    general: IntentClaim | None = None

    def about(self, intent: str) -> IntentClaim:
        """The claim about ``intent``: its own, else the general one, else ``not_mentioned``.

        >>> classify("All set!").about("refund").general
        True
        """
        own = self.intents.get(intent)
        if own is not None:
            return own
        if self.general is not None:
            return self.general.model_copy(update={"intent": intent})
        return IntentClaim(
            intent=intent,
            outcome="not_mentioned",
            reason=f"the reply does not mention the {intent}",
        )


def classify(text: str, rules: ClaimRules = DEFAULT_RULES) -> ReplyClaims:
    """Classify an English reply per intent kind (see the module docstring for the rules).

    >>> classify("I could not issue the refund.").about("refund").outcome
    'failure'
    >>> classify("Thanks for reaching out!").about("refund").outcome
    'not_mentioned'
    """
    tally = _Tally()
    last: tuple[str, ...] = ()
    for sentence in _sentences(text):
        normal = _normalise(sentence)
        if normal.endswith("?"):
            continue
        skip = rules.pattern("skip_sentences")
        parts = [part for part in _split(normal) if not skip.search(part)]
        segments = _fill([_segment(part, rules) for part in parts])
        last = _apply(segments, last, tally)
    return tally.result(text)


def mentioned_intents(text: str, rules: ClaimRules = DEFAULT_RULES) -> set[str]:
    """Every intent kind a text names anywhere (used on the user's request).

    >>> sorted(mentioned_intents("Please refund my order and email me."))
    ['email', 'order', 'refund']
    """
    normal = _normalise(text)
    return {name for name in rules.intents if rules.pattern(f"intent:{name}").search(normal)}


# -- reading one segment ---------------------------------------------------------------------------

_CONTRACTIONS = tuple(
    (re.compile(pattern, re.IGNORECASE), replacement)
    for pattern, replacement in (
        (r"\bwon't\b", "will not"),
        (r"\bcan't\b|\bcannot\b", "can not"),
        (r"n't\b", " not"),
        (r"'ve\b", " have"),
        (r"'ll\b", " will"),
        (r"'re\b", " are"),
        (r"'m\b", " am"),
        (r"\b(it|that|here|there|what)'s\b", r"\1 is"),
    )
)
_SENTENCES = re.compile(r"(?<=[.!?])\s+|\n+")
_CONNECTIVES = re.compile(
    r"\s*(?:;|,?\s*\b(?:but|however|although|though|whereas|while|and|or|"
    r"so(?! far| that| much| many)|then|also)\b)\s*",
    re.IGNORECASE,
)
_TOKENS = re.compile(r"[\w'-]+|[^\w\s]")
_CLAUSE_END = frozenset(",.;:!?()—–")


def _normalise(text: str) -> str:
    # Case is kept for quoting: every pattern matches case-insensitively.
    text = text.replace("’", "'").replace("‘", "'")
    for pattern, replacement in _CONTRACTIONS:
        text = pattern.sub(replacement, text)
    return re.sub(r"\s+", " ", text).strip()


def _sentences(text: str) -> list[str]:
    return [s for s in (part.strip() for part in _SENTENCES.split(text)) if s]


def _split(sentence: str) -> list[str]:
    return [p.strip(" ,") for p in _CONNECTIVES.split(sentence) if p.strip(" ,.!")]


@dataclass
class _Segment:
    text: str
    intents: tuple[str, ...]
    readings: frozenset[Reading] | None
    hedged: bool = False
    why: str = ""
    pronoun: bool = False


def _segment(text: str, rules: ClaimRules) -> _Segment:
    named = [n for n in rules.intents if rules.pattern(f"intent:{n}").search(text)]
    strong = [n for n in named if n not in rules.weak_intents]
    intents = tuple(strong or named)
    tokens = _TOKENS.findall(text)
    pronoun = any(rules.pattern("pronouns").match(t) for t in tokens)
    readings, hedged, why = _cues(text, rules)
    return _Segment(text.strip(" .!"), intents, readings, hedged, why, pronoun)


def _cues(text: str, rules: ClaimRules) -> tuple[frozenset[Reading] | None, bool, str]:
    """The readings a segment's cues allow, whether they are hedged, and why."""
    text = rules.pattern("ignore").sub(" ", text)
    # Approval words are looked for before hedges and negations cut text out: in "not approved
    # yet" the approval is the point.
    pending = bool(rules.pattern("pending_approval").search(text))
    future, text = _take(rules.pattern("future"), text)
    unsure, text = _take(rules.pattern("uncertain"), text)
    negated, yet, text = _negations(text, rules)
    failed = negated or bool(rules.pattern("failure").search(text))
    found = _plain_readings(text, failed, pending, rules)
    if unsure:
        return _UNSURE | (found or frozenset()), True, "does not say for sure"
    if rules.pattern("conditional").search(text):
        return _LATER, True, "says only what happens later"
    if found is None and (future or yet):
        return _LATER, True, "hedges about what will happen"
    if found is not None and len(found) > 1:
        return found, True, "both reports a failure and says it awaits approval"
    return found, False, ""


def _plain_readings(
    text: str, failed: bool, pending: bool, rules: ClaimRules
) -> frozenset[Reading] | None:
    if pending and failed:
        return frozenset({"failure", "pending_approval"})
    if pending:
        return frozenset({"pending_approval"})
    if rules.pattern("escalation").search(text):
        return frozenset({"escalation"})
    if failed:
        return frozenset({"failure"})
    if rules.pattern("success").search(text):
        return frozenset({"success"})
    return None


def _take(pattern: re.Pattern[str], text: str) -> tuple[bool, str]:
    """Whether ``pattern`` occurs, and the text with its matches cut out."""
    cut = pattern.sub(" ", text)
    return cut != text, cut


def _negations(text: str, rules: ClaimRules) -> tuple[bool, bool, str]:
    """Negated actions (a failure), "not … yet" (a hedge), and the text with both cut out.

    A negation reaches ``negation_window`` words ahead and stops at the end of its clause.
    """
    tokens = _TOKENS.findall(text)
    negated = yet = False
    kept: list[str] = []
    skip_until = -1
    for i, token in enumerate(tokens):
        if i <= skip_until:
            continue
        if not rules.pattern("negations").match(token):
            kept.append(token)
            continue
        scope = _scope(tokens, i + 1, rules.negation_window)
        words = " ".join(scope)
        if "yet" in (word.lower() for word in scope):
            yet, skip_until = True, i + len(scope)
        elif rules.pattern("negatable").search(words):
            negated, skip_until = True, i + len(scope)
        else:
            kept.append(token)
    return negated, yet, " ".join(kept)


def _scope(tokens: list[str], start: int, window: int) -> list[str]:
    scope: list[str] = []
    for token in tokens[start : start + window]:
        if token in _CLAUSE_END:
            break
        scope.append(token)
    return scope


# -- putting segments together ---------------------------------------------------------------------


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
