"""Reading one segment of a reply: normalising and cutting the text, then the intents a segment
names and the readings its cues (hedges, negations…) allow."""

from __future__ import annotations

import re
from dataclasses import dataclass

from chaoskit.invariants.claims.rules import ClaimRules, Reading

__all__ = ["_Segment", "_normalise", "_segment", "_sentences", "_split"]

_LATER: frozenset[Reading] = frozenset({"success", "pending_approval"})
#: "The refund has not gone through yet": not done, or done and still settling.
_NOT_YET: frozenset[Reading] = frozenset({"success", "failure"})
#: The words before a negation that make the writer its subject: "I could not", "we have not".
_OWN_MODALS = frozenset({"could", "can", "did", "have", "was", "were", "am"})
_UNSURE: frozenset[Reading] = frozenset({"success", "failure"})

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
    # What ``ignore`` removes names no intent either: "you won't be charged twice" is no charge.
    said = rules.pattern("ignore").sub(" ", text)
    named = [n for n in rules.intents if rules.pattern(f"intent:{n}").search(said)]
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
    # "I have not refunded it yet" is not done; "… yet, the approval is pending" awaits approval.
    not_yet = yet == "own" and not pending
    failed = negated or not_yet or bool(rules.pattern("failure").search(text))
    found = _plain_readings(text, failed, pending, rules)
    if unsure:
        return _UNSURE | (found or frozenset()), True, "does not say for sure"
    if rules.pattern("conditional").search(text):
        return _LATER, True, "says only what happens later"
    if found is None and yet == "passive":
        return _NOT_YET, True, "says it has not happened yet"
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


def _negations(text: str, rules: ClaimRules) -> tuple[bool, str | None, str]:
    """Negated actions (a failure); "not … yet"; and the text with both cut out.

    "not … yet" is ``"own"`` when the writer says they have not done it ("I could not refund
    it yet", "I have not refunded it yet"): it is not done, a failure to report. Otherwise
    ("the refund has not gone through yet") it is ``"passive"``: not done, or done and still
    settling. A negation reaches ``negation_window`` words ahead and stops at its clause's end.
    """
    tokens = _TOKENS.findall(text)
    negated = False
    yet: str | None = None
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
            own = i > 0 and tokens[i - 1].lower() in _OWN_MODALS
            acted = bool(rules.pattern("negatable").search(" ".join(scope)))
            yet = "own" if own and acted else (yet or "passive")
            skip_until = i + len(scope)
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
