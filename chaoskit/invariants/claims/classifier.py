"""The classifier's entry points: :func:`classify` reads a whole reply, sentence by sentence,
and :func:`mentioned_intents` lists the intents a text names."""

from __future__ import annotations

import re

from chaoskit.invariants.claims.results import ReplyClaims
from chaoskit.invariants.claims.rules import DEFAULT_RULES, ClaimRules, Reading
from chaoskit.invariants.claims.segments import (
    _FAILED,
    _normalise,
    _Segment,
    _segment,
    _sentences,
    _split,
)
from chaoskit.invariants.claims.tally import _apply, _fill, _Tally

__all__ = ["classify", "mentioned_intents"]

_CONDITION = re.compile(r"(?:if|unless|in case|should you|whenever)\b", re.IGNORECASE)
_LEADING = re.compile(r"(?:once|when|as soon as|after)\b", re.IGNORECASE)
_PROMISE = "only promises it"
_NOTHING = "claims nothing"
_SUBORDINATE = re.compile(r"(?:once|until|unless|because|since|as soon as)\b", re.IGNORECASE)
_UNTIL = re.compile(r"(?:until|unless)\b", re.IGNORECASE)
_PENDING: frozenset[Reading] = frozenset({"pending_approval"})
#: Where a question begins after a statement in the same sentence.
_QUESTION = re.compile(r"\s+[—–]\s+|;\s+|:\s+|[.!]\s+")
_CONTRAST = re.compile(r"\b(?:but|however|although|though|whereas)\b", re.IGNORECASE)


def classify(text: str, rules: ClaimRules = DEFAULT_RULES) -> ReplyClaims:
    """Classify an English reply per intent kind (the rules: :mod:`~chaoskit.invariants.claims`).

    >>> classify("I could not issue the refund.").about("refund").outcome
    'failure'
    >>> classify("Thanks for reaching out!").about("refund").outcome
    'not_mentioned'
    """
    tally = _Tally()
    last: tuple[str, ...] = ()
    topic: tuple[str, ...] = ()
    for sentence in _sentences(text):
        normal = _normalise(sentence)
        if normal.endswith("?"):
            # "I tried, but the card was declined — could you check it?": a statement, then
            # the question.
            *stated, normal = _QUESTION.split(normal)
            if stated:
                last = _apply(_fill(_read(" ".join(stated), rules)), last, tally)
            _asked(normal, rules, tally)
            continue
        segments = _fill(_read(normal, rules))
        last = _apply(segments, last, tally, topic)
        if any(s.intents for s in segments):
            topic = _heading(segments)
    return tally.result(text)


def _heading(segments: list[_Segment]) -> tuple[str, ...]:
    """The intents of a heading ("Email status", "Refund summary") that the lines below
    it (a table, a list) are about; () when the sentence is no heading."""
    if len(segments) == 1 and segments[0].readings is None and len(segments[0].text.split()) <= 3:
        return segments[0].intents
    return ()


def _read(sentence: str, rules: ClaimRules) -> list[_Segment]:
    """The segments of one statement, without those that report nothing: a condition and what
    hangs on it ("If it does not arrive, let me know and I will refund you"), an offer, an
    instruction. A reason ("because …", "since …") is kept, quiet, for the pronouns after it."""
    skip, background = rules.pattern("skip_sentences"), rules.pattern("background")
    if _CONDITION.match(sentence):
        # Only a contrast ("…, but the refund is done") leaves the condition behind.
        sentence = "".join(_CONTRAST.split(sentence, maxsplit=1)[1:])
    segments: list[_Segment] = []
    timed = bool(_LEADING.match(sentence))
    for part in _split(sentence, rules):
        if skip.search(part):
            continue
        segment = _segment(part, rules)
        if timed and segment.readings == frozenset() and segment.why == _PROMISE:
            # "Once the item is scanned, we will release the refund": it waits on the condition.
            segment.readings, segment.why = _PENDING, "says what happens once something else does"
        if background.search(part):
            if segment.readings and "pending_approval" in segment.readings:
                _waits(segments)  # "I have not refunded you yet because approval is pending"
            segment.readings, segment.quiet = None, True
        if segments and segments[-1].why == _NOTHING and _SUBORDINATE.match(part):
            segment.readings = None  # "Refunds usually take 5 days once issued": still general
        if _UNTIL.match(part) and _waits(segments):
            segment.readings = None  # "I can not issue the refund until a manager approves it"
        segments.append(segment)
    return segments


def _waits(segments: list[_Segment]) -> bool:
    """A failure just before "until …" or "because … approval" only waits: pending."""
    if not segments or segments[-1].readings != _FAILED:
        return False
    segments[-1].readings, segments[-1].why = _PENDING, "says it waits on something else"
    return True


def _asked(question: str, rules: ClaimRules, tally: _Tally) -> None:
    """A question reports nothing, but it is not silence about the intents it names: "Would
    you like me to try the refund again?" mentions the refund and leaves open what happened."""
    for part in _split(question):
        segment = _segment(part, rules)
        # Whatever its words, a question states nothing.
        segment.readings, segment.hedged, segment.why = frozenset(), True, "only asks about it"
        for intent in segment.intents:
            tally.note(intent, segment)


def mentioned_intents(text: str, rules: ClaimRules = DEFAULT_RULES) -> set[str]:
    """Every intent kind a text names anywhere (used on the user's request).

    >>> sorted(mentioned_intents("Please refund my order and email me."))
    ['email', 'order', 'refund']
    """
    normal = _normalise(text)
    return {name for name in rules.intents if rules.pattern(f"intent:{name}").search(normal)}
