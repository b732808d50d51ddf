"""Reading one segment of a reply: normalising and cutting the text, then the intents a segment
names and the readings its cues (negations with their scope, aspect, modality…) allow."""

from __future__ import annotations

import re
from dataclasses import dataclass

from chaoskit.invariants.claims.rules import ClaimRules, Reading

__all__ = [
    "NOT_DONE",
    "_FAILED",
    "_HANDED",
    "_LATER",
    "_Segment",
    "_normalise",
    "_segment",
    "_sentences",
    "_split",
]

#: Future, in-progress or conditional wording: not done yet, on its way.
_LATER: frozenset[Reading] = frozenset({"pending_approval"})
_DONE: frozenset[Reading] = frozenset({"success"})
_FAILED: frozenset[Reading] = frozenset({"failure"})
_HANDED: frozenset[Reading] = frozenset({"escalation"})
#: "The refund has not gone through yet": not done, or done and still settling.
_NOT_YET: frozenset[Reading] = frozenset({"success", "failure"})
#: The words before a negation that make the writer its subject: "I could not", "we have not".
_OWN_MODALS = frozenset({"could", "can", "did", "have", "was", "were", "am"})
_UNSURE: frozenset[Reading] = frozenset({"success", "failure"})
#: "Refunds for cancelled orders are issued automatically": a general rule that will apply.
_AUTOMATIC = re.compile(r"\bautomatically\b", re.IGNORECASE)
_COORDINATED = re.compile(r"\bboth\b|\b\w+ and (?:the |your |a )?(?:new )?\w+ to\b", re.I)
#: Why a bare "it has not been sent" reads as failure: it agrees with pending said before.
NOT_DONE = "says it has not been done"
#: Obstacles a negation can deny: "nothing blocked the refund" reports no failure.
_OBSTACLE = re.compile(
    r"(?:\w+ )?(?:stop|block|prevent|hold(?:ing)? up|held up|delay|interrupt|fail|go wrong|"
    r"went wrong|gone wrong|break|broke)",
    re.IGNORECASE,
)
_SCHEDULED = re.compile(r"\bscheduled\b", re.IGNORECASE)
_SCHEDULED_READINGS: frozenset[Reading] = frozenset({"success", "pending_approval"})
_FLIPPED: dict[Reading, Reading] = {"success": "failure", "failure": "success"}

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
        (r"'d\b", " would"),
        (r"\b(it|that|here|there|what|refund|order|ticket|email|charge)'s\b", r"\1 is"),
    )
)
#: Status marks models put next to a line ("Refund ✅", "Email ❌ failed") read as words.
_MARKS = (
    (re.compile("[✅✔☑]\ufe0f?"), " done "),
    (re.compile("[❌✖✗]\ufe0f?"), " failed "),
    (re.compile("⏳\ufe0f?"), " pending "),
)
#: Markdown that carries no meaning here: emphasis, inline code, headings.
_MARKUP = re.compile(r"\*\*|__|`|^#+\s*", re.MULTILINE)
#: Sentence ends, line breaks, and the separators of one-line summaries ("A ✅ | B ❌").
_SENTENCES = re.compile(r"(?<=[.!?])\s+|\n+")
#: Pictographs carry no claim once the status marks are read; they would hide a clause's start.
_PICTOGRAPHS = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\ufe0f\u200d]")
_BULLET = re.compile(r"^(?:[-*•·]|\d+[.)])\s+")
#: Where clauses meet: contrasts, consequences, dashes, relative clauses ("…, who will…").
_CONNECTIVES = re.compile(
    r"\s*(?:;|\s[—–]\s|,\s*(?=(?:who|which)\b)|,?\s*\b(?:but|however|although|though|"
    r"whereas|while|so(?! far| that| much| many)|then|also)\b)\s*|\s+\|\s+",
    re.IGNORECASE,
)
#: "and" / "or" join clauses, or only nouns ("your cancellation and refund"): see _joined.
_AND = re.compile(r",?\s*\b(?:and|or)\b\s*", re.IGNORECASE)
#: A word that makes a part a clause of its own: an auxiliary, a participle, a pronoun subject.
_VERBISH = re.compile(
    r"\b(?:i|we|you|it|they|is|are|was|were|has|have|had|will|would|can|could|should|did|do|"
    r"does|been|be|not|never|\w+ed|sent|done|gone|went|made|put|set)\b",
    re.IGNORECASE,
)
#: A leading condition in time ("Once it arrives, …") is a segment of its own.
_LEADING = re.compile(r"(?:once|when|as soon as|after|before)\b", re.IGNORECASE)
#: Subordinate clauses start their own segment, which keeps its opening word: a reason
#: ("because …") reports nothing, a condition ("once …") only what happens later.
_SUBORDINATE = re.compile(
    r"\s*,?\s*(?=\b(?:because|since|once|as soon as|until|unless)\b)", re.IGNORECASE
)
_TOKENS = re.compile(r"[\w'%-]+|[^\w\s]")
_CLAUSE_END = frozenset(",.;:!?()—–")


def _normalise(text: str) -> str:
    # Case is kept for quoting: every pattern matches case-insensitively.
    text = text.replace("’", "'").replace("‘", "'")
    for pattern, replacement in _CONTRACTIONS:
        text = pattern.sub(replacement, text)
    return re.sub(r"\s+", " ", text).strip()


def _sentences(text: str) -> list[str]:
    text = _MARKUP.sub("", text)
    for mark, word in _MARKS:
        text = mark.sub(word, text)
    text = _PICTOGRAPHS.sub(" ", text)
    parts = (_BULLET.sub("", part.strip()) for part in _SENTENCES.split(text))
    return [s for s in (part.strip() for part in parts) if s]


def _split(sentence: str, rules: ClaimRules | None = None) -> list[str]:
    """The clauses of a sentence; a leading condition or reason ("Once it arrives, …",
    "Since X, …") is a clause of its own."""
    return [
        joined.strip(" ,")
        for part in _CONNECTIVES.split(sentence)
        for piece in _leading(part.strip(" ,"), rules)
        for clause in _SUBORDINATE.split(piece)
        for joined in _joined(clause)
        if joined.strip(" ,.!")
    ]


def _leading(part: str, rules: ClaimRules | None) -> list[str]:
    starts = _LEADING.match(part) or (
        rules is not None and rules.pattern("background").search(part)
    )
    head, comma, rest = part.partition(",")
    return [head, rest] if starts and comma else [part]


def _joined(text: str) -> list[str]:
    """Cut at "and" / "or" only between clauses: "I refunded you and emailed the receipt" is
    two, "I could not refund or email you" and "your cancellation and refund" are one."""
    parts = _AND.split(text)
    clauses = [parts[0]]
    for part in parts[1:]:
        # A lone participle shares the clause before it: "approved and processed".
        if _VERBISH.search(part) and len(part.split()) > 1:
            clauses.append(part)
        else:
            clauses[-1] += f" and {part}"
    return clauses


@dataclass
class _Segment:
    text: str
    intents: tuple[str, ...]
    readings: frozenset[Reading] | None
    hedged: bool = False
    why: str = ""
    pronoun: bool = False
    #: A reason or background clause: it names intents (for pronouns) but claims nothing.
    quiet: bool = False
    #: Intents only requested here ("…your refund request"): pending, whatever else is said.
    later: tuple[str, ...] = ()


def _segment(text: str, rules: ClaimRules) -> _Segment:
    # What ``ignore`` removes names no intent either: "you won't be charged twice" is no charge.
    said = rules.pattern("ignore").sub(" ", text)
    named = [n for n in rules.intents if rules.pattern(f"intent:{n}").search(said)]
    strong = [n for n in named if n not in rules.weak_intents]
    # Weak intents count beside strong ones only when coordinated: "both the refund and the
    # new charge"; in "I refunded the charge" the charge is the refund's object.
    coordinated = bool(_COORDINATED.search(said))
    intents = tuple(named if coordinated else (strong or named))
    tokens = _TOKENS.findall(text)
    pronoun = any(rules.pattern("pronouns").match(t) for t in tokens)
    later: tuple[str, ...] = ()
    if len(intents) > 1 and rules.pattern("request").search(said):
        # "I emailed you that we received your refund request": a request for the refund only.
        asked = tuple(i for i in intents if _in_request(i, said, rules))
        if asked and len(asked) < len(intents):
            intents = tuple(i for i in intents if i not in asked)
            said = rules.pattern("request").sub(" ", said)
            later = asked
    if rules.pattern("no_claim").search(said) and not _AUTOMATIC.search(said):
        # "there is nothing to refund", "refunds can take 5 days": named, nothing claimed.
        return _Segment(text.strip(" .!"), intents, frozenset(), True, "claims nothing", pronoun)
    if rules.pattern("promise").search(said.strip()) and not _says_more(said, rules):
        return _Segment(text.strip(" .!"), intents, frozenset(), True, "only promises it", pronoun)
    readings, hedged, why = _cues(said, rules)
    return _Segment(text.strip(" .!"), intents, readings, hedged, why, pronoun, later=later)


def _in_request(intent: str, text: str, rules: ClaimRules) -> bool:
    named = rules.pattern(f"intent:{intent}")
    return any(named.search(m.group()) for m in rules.pattern("request").finditer(text))


def _says_more(text: str, rules: ClaimRules) -> bool:
    """Whether a promise also reports something: a failure, an escalation, an approval."""
    return any(
        rules.pattern(name).search(text) for name in ("failure", "escalation", "pending_approval")
    )


def _cues(text: str, rules: ClaimRules) -> tuple[frozenset[Reading] | None, bool, str]:
    """The readings a segment's cues allow, whether they are hedged, and why."""
    flipped, text = _take(rules.pattern("flip"), text)
    # Approval words are looked for before hedges and negations cut text out: in "not approved
    # yet" the approval is the point.
    pending = bool(rules.pattern("pending_approval").search(text))
    escalated = bool(rules.pattern("escalation").search(text))
    asked = bool(rules.pattern("request").search(text))
    # Uncertainty first ("not sure it was processed" negates nothing), then negations with
    # their scope, then aspect and modality ("will", "being processed", "queued").
    unsure, text = _take(rules.pattern("uncertain"), text)
    negation = _negations(text, rules)
    negated, yet, text, bare = negation.failed, negation.yet, negation.text, negation.bare
    scheduled, text = _take(_SCHEDULED, text)
    future, text = _take(rules.pattern("future"), text)
    # "I have not refunded it yet" is not done; "… yet, the approval is pending" awaits approval.
    not_yet = yet == "own" and not pending
    failed = negated or not_yet or bool(rules.pattern("failure").search(text))
    if _AUTOMATIC.search(text) and rules.pattern("no_claim").search(text):
        return _LATER, True, "says a general rule will make it happen"
    found = _plain_readings(text, failed, pending, escalated, rules)
    if flipped and found is not None:
        found = frozenset(_FLIPPED.get(r, r) for r in found)
    if found == _DONE and asked:
        # A request was sent: the request exists, not yet what it asks for.
        return _LATER, True, "says a request for it was made"
    if unsure:
        return _UNSURE | (found or frozenset()), True, "does not say for sure"
    if rules.pattern("conditional").search(text):
        return _LATER, True, "says only what happens later"
    if found is None and scheduled:
        # A reminder scheduled is set up; a refund scheduled is still to come.
        return _SCHEDULED_READINGS, True, "says it is scheduled"
    if found is None and negation.denied:
        return _UNSURE, True, "says it did not fail, not that it was done"
    if found is None and yet == "passive":
        return _NOT_YET, True, "says it has not happened yet"
    if found is None and (future or yet):
        return _LATER, True, "says it is under way, not done"
    if found is not None and len(found) > 1:
        return found, True, "both reports a failure and says it awaits approval"
    if found == _FAILED and bare and not rules.pattern("failure").search(text):
        return found, False, NOT_DONE
    return found, False, ""


def _plain_readings(
    text: str, failed: bool, pending: bool, escalated: bool, rules: ClaimRules
) -> frozenset[Reading] | None:
    if pending and failed:
        return frozenset({"failure", "pending_approval"})
    if pending:
        return frozenset({"pending_approval"})
    if escalated:
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


@dataclass
class _Negated:
    """What the negations of a clause say (see :func:`_negations`)."""

    text: str  # the clause with every negation and its scope cut out
    failed: bool = False  # an action negated: "the refund was not processed"
    yet: str | None = None  # "own" ("I have not refunded it yet") or "passive"
    bare: bool = False  # only a bare "has not been sent": agrees with pending said before
    denied: bool = False  # a failure negated: "it never failed", "nothing blocked it"


def _negations(text: str, rules: ClaimRules) -> _Negated:
    """Negated actions (a failure), denied failures, "not … yet"; the text without them.

    NegEx-style: a trigger (``not``, ``never``, ``no``…) reaches ``negation_window`` words
    ahead, and its scope ends early at clause punctuation or at a terminator (``but``,
    ``because``, ``so``…); pseudo-triggers ("no problem", "not only") were removed before.
    A negated failure or obstacle ("never failed", "nothing blocked it") denies a failure, it
    reports none. "not … yet" is ``"own"`` when the writer says they have not done it ("I
    could not refund it yet"): not done, a failure to report; otherwise ("the refund has not
    gone through yet") it is ``"passive"``: not done, or done and still settling.
    """
    tokens = _TOKENS.findall(text)
    found = _Negated("")
    bare = True
    kept: list[str] = []
    skip_until = -1
    for i, token in enumerate(tokens):
        if i <= skip_until:
            continue
        if not rules.pattern("negations").match(token):
            kept.append(token)
            continue
        scope = _scope(tokens, i + 1, rules)
        words = " ".join(scope)
        if "yet" in (word.lower() for word in scope):
            own = i > 0 and tokens[i - 1].lower() in _OWN_MODALS
            acted = bool(rules.pattern("negatable").search(words))
            found.yet = "own" if own and acted else (found.yet or "passive")
        elif _OBSTACLE.match(words) or rules.pattern("failure").match(words):
            found.denied = True
        elif rules.pattern("negatable").search(words):
            found.failed = True
            bare = bare and bool(scope) and scope[0].lower() == "been"
        else:
            kept.append(token)
            continue
        skip_until = i + len(scope)
    found.text, found.bare = " ".join(kept), found.failed and bare
    return found


def _scope(tokens: list[str], start: int, rules: ClaimRules) -> list[str]:
    scope: list[str] = []
    stop = rules.pattern("negation_terminators")
    for token in tokens[start : start + rules.negation_window]:
        if token in _CLAUSE_END or stop.match(token):
            break
        scope.append(token)
    return scope
