"""The classifier's entry points: :func:`classify` reads a whole reply, sentence by sentence,
and :func:`mentioned_intents` lists the intents a text names."""

from __future__ import annotations

from chaoskit.invariants.claims.results import ReplyClaims
from chaoskit.invariants.claims.rules import DEFAULT_RULES, ClaimRules
from chaoskit.invariants.claims.segments import _normalise, _segment, _sentences, _split
from chaoskit.invariants.claims.tally import _apply, _fill, _Tally

__all__ = ["classify", "mentioned_intents"]


def classify(text: str, rules: ClaimRules = DEFAULT_RULES) -> ReplyClaims:
    """Classify an English reply per intent kind (the rules: :mod:`~chaoskit.invariants.claims`).

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
            _asked(normal, rules, tally)
            continue
        skip = rules.pattern("skip_sentences")
        parts = [part for part in _split(normal) if not skip.search(part)]
        segments = _fill([_segment(part, rules) for part in parts])
        last = _apply(segments, last, tally)
    return tally.result(text)


def _asked(question: str, rules: ClaimRules, tally: _Tally) -> None:
    """A question reports nothing, but it is not silence about the intents it names: "Would
    you like me to try the refund again?" leaves open what happened (at worst ``unknown``)."""
    for part in _split(question):
        segment = _segment(part, rules)
        segment.readings = None  # whatever its words, a question states nothing
        for intent in segment.intents:
            tally.note(intent, segment)


def mentioned_intents(text: str, rules: ClaimRules = DEFAULT_RULES) -> set[str]:
    """Every intent kind a text names anywhere (used on the user's request).

    >>> sorted(mentioned_intents("Please refund my order and email me."))
    ['email', 'order', 'refund']
    """
    normal = _normalise(text)
    return {name for name in rules.intents if rules.pattern(f"intent:{name}").search(normal)}
