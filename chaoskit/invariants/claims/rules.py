"""The phrase lists the claims classifier reads replies with (:class:`ClaimRules`, and the
defaults in :data:`DEFAULT_RULES`), and the names of the outcomes it reports."""

from __future__ import annotations

import functools
import re
import weakref
from collections.abc import Iterable, Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator

__all__ = ["DEFAULT_RULES", "READINGS", "ClaimRules", "Outcome", "Reading"]

Reading = Literal["success", "failure", "pending_approval", "escalation"]
Outcome = Literal[
    "success",
    "failure",
    "pending_approval",
    "escalation",
    "ambiguous",
    "mentioned",
    "not_mentioned",
]
READINGS: tuple[Reading, ...] = ("success", "failure", "pending_approval", "escalation")

_PATTERN_FIELDS = (
    "success",
    "failure",
    "pending_approval",
    "escalation",
    "future",
    "promise",
    "uncertain",
    "conditional",
    "negations",
    "negatable",
    "ignore",
    "negation_terminators",
    "flip",
    "request",
    "no_claim",
    "background",
    "skip_sentences",
    "pronouns",
)


class ClaimRules(BaseModel):
    """The phrase lists the classifier reads replies with: case-insensitive regexes.

    Contractions are expanded before matching, so write ``could not``, never ``couldn't``.

    * ``intents``: intent kind → the words and identifiers naming it; ``weak_intents`` only
      count beside another intent when coordinated ("both the refund and the charge").
    * The plain cues: ``success``, ``failure``, ``pending_approval``, ``escalation``.
    * Aspect and modality: ``future`` (under way, to come: pending), ``request`` (a request
      for it was made: pending), ``promise`` (the writer's own next step: claims nothing),
      ``uncertain`` (success *or* failure), ``conditional`` (only what happens later).
    * Negation: ``negations`` (triggers, whole words), ``negatable`` (what a trigger turns into
      a failure), ``ignore`` (pseudo-triggers, removed first), ``negation_terminators`` (words
      that end a trigger's scope), ``flip`` ("it is not the case that …"), and
      ``negation_window``.
    * What claims nothing: ``no_claim`` (general rules, "nothing to refund"), ``background``
      (reasons), ``skip_sentences`` (conditions, offers, instructions); ``pronouns`` refer back.

    >>> from chaoskit.invariants.claims import classify
    >>> rules = DEFAULT_RULES.extend(intents={"refund": [r"\\bmoney returned\\b"]},
    ...                              success=[r"\\bsorted\\b"])
    >>> classify("Money returned and sorted.", rules).about("refund").outcome
    'success'
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Intent kind → patterns naming it: its nouns and verbs, their synonyms, and the shapes of
    #: its identifiers (``re_…`` is a refund, ``ch_…`` a charge, ``ord_…`` an order…).
    intents: dict[str, tuple[str, ...]] = {
        "refund": (
            r"\brefund\w*",
            r"\bmoney back\b",
            r"\breimburs\w*",
            r"\bcredited\b(?: \S+){0,3} back\b",
            r"\b(?:back|returned) to (?:your |the )?(?:\w+ )?(?:card|account|wallet|bank)\b",
            r"\bre_\w+",
        ),
        "ticket": (
            r"\btickets?\b",
            r"\bsupport (?:case|request)\b",
            r"\bcase (?:number|id)\b",
            r"\b(?:logged|opened|created|raised|filed|reopened) (?:a|an|the|your) (?:\w+ )?case\b",
            r"\btkt[-_#]?\w*\d\w*",
        ),
        "email": (
            r"\be-?mail(?:s|ed|ing)?\b",
            r"\bconfirmation message\b",
            r"\breminders?\b",
            r"\b(?:re)?sent (?:you )?(?:the|a|an|your) (?:\w+ ){0,2}"
            r"(?:confirmation|receipt|invoice)\b",
            r"\bforwarded (?:the|a|an|your) (?:\w+ ){0,2}(?:invoice|receipt|confirmation)\b",
            r"\b(?:send|sending|resend|deliver|email) (?:you )?(?:the|a|an|your) (?:\w+ ){0,2}"
            r"(?:confirmation|receipt|invoice)\b",
            r"\beml_\w+",
            r"\b(?:your|the) (?:\w+ )?message (?:is|was|has|will|could|did)\b",
        ),
        "charge": (
            r"\bcharg\w*",
            r"\bbill(?:ed|ing|s)?\b"
            r"(?! (?:team|department|specialists?|contact|address|cycles?|details|desk))",
            r"\bdeposit\b",
            r"\bpayment\b(?! (?:method|service|system|provider|processor|gateway|api|page|side"
            r"|details|information|reminder|team|options?|plan|link|card))",
            r"\bpaid\b",
            r"\b(?:ch|pi)_\w+",
            r"\b(?:your|the) card (?:was|has been|got) \w+",
        ),
        "order": (
            r"\b(?:pre-?)?orders?\b",
            r"\bcancel\w*",
            r"\bsubscription\b",
            r"\bdelivery\b",
            r"\bexchange\b",
            r"\bord_\w+",
        ),
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
        r"\b(?:refunded|reimbursed|emailed|charged|billed|credited|captured|collected|paid)\b",
        r"\b(?:cancell?ed|updated|changed|modified|removed|skipped|reserved|switched)\b",
        r"\badded\b.{0,40}\bto (?:your|the) \w+",
        r"\b(?:saved|upgraded|downgraded|adjusted|extended|renewed|restored|reactivated)\b",
        r"^\s*did (?:i|we)\b",
        r"\b(?:moved|applied|reopened|resent|forwarded|accepted|active|succeeded)\b",
        r"\b(?:is|are) (?:in|open|live)\b",
        r"\b(?:headed|on its way) back\b",
        r"\bwent out\b",
        r"\bdid (?:\w+ )?(?:issue|process|send|create|open|refund|cancel|charge|place|submit)\b",
        r"\b(?:is|are) (?:now )?through\b",
        r"\binitiated\b",
        r"\bset up\b",
        r"\b(?:is|are) (?:now |officially )?(?:in|set)\b(?! (?:progress|the|a|review|queue))",
        r"\bput (?:it |this |them |your \w+ )?on hold\b",
        r"\bback (?:to|on) (?:your |the )?(?:card|account|wallet|bank|•)",
        r"\bon (?:its|the) way\b",
        r"\bstatus\s*[=:]\s*(?:open|active|succeeded|completed?|created|sent|cancell?ed|paid)\b",
        r"\b(?:id|number|ref|reference|ticket)\s*(?:is|:)\s*#?[a-z]*[-_]?\d",
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
        r"\b(?:could|can) not\b(?! (?:see|find|tell|say|confirm|verify|locate|wait))",
        r"\b(?:was|were|am|is|are) not able\b",
        r"\bdid not (?:go through|work)\b",
        r"\bwould not (?:accept|go through|work|let)\b",
        r"\bcard_declined\b",
        r"\b(?:hit|ran into|run into|encountered|had) (?:a |an |some )?(?:\w+ )?"
        r"(?:snag|hiccup|glitch|problem|issue|error|trouble)s?\b",
        r"\bno luck\b",
        r"\binvalid\w*",
        r"\b(?:do|does|did) not have (?:the )?(?:ability|access|permission|authority|rights?)\b",
        r"\bnot (?:authori[sz]ed|permitted|allowed)\b",
        r"\b(?:still|remains?) (?:active|unchanged|open)\b",
    )
    pending_approval: tuple[str, ...] = (
        r"\bapproval\b",
        r"\bsign-?off\b",
        r"\bauthori[sz]ation\b",
        r"\b(?:needs|need|must|has|have) to be approved\b",
        r"\b(?:once|until|after) (?:it is |it has been |they are )?approved\b",
        r"\bapproved yet\b",
        r"\b(?:for|under|pending) review\b",
        r"\b(?:to approve|approves|approve it)\b",
        r"\b(?:a|an|the|your|\w+'s) (?:quick )?(?:ok|okay|go-ahead|green light)\b",
    )
    escalation: tuple[str, ...] = (
        r"\bescalat\w*",
        r"\bhand(?:ed|ing)? (?:it |this |them |your \w+ )?(?:over|off) to\b",
        r"\bpass(?:ed|ing)? (?:it |this |them |your \w+ )?(?:on|along) to\b",
        r"\bpass(?:ed|ing)? (?:it|this|them|your \w+) (?:along|on)\b",
        r"\bpass(?:ed|ing)? (?:it|this|them|your(?: \w+){1,2}|both \w+) to (?:our|the|a) \w+",
        r"\bhanded (?:it|this|them|your(?: \w+){1,2}|the \w+) (?:over |off )?to (?:a|an|our|the)\b",
        r"\braised (?:it|this|your \w+) with (?:our|the|a)\b",
        r"\b(?:being )?handled by (?:our|the|a) \w+",
        r"\bforwarded\b.{0,40}\bto (?:our|the|a) \w+ team\b",
        r"\b(?:a|our) (?:human|colleague|specialist|teammate|team member|supervisor)\b",
        r"\btransferred (?:you|it|this|your \w+(?: \w+)?) (?:directly )?to\b",
        r"\blooped in\b",
        r"\b(?:someone|somebody|a representative|a specialist|an agent|she|he|they) will "
        r"(?:get back to you|contact you|reach out|follow up|be in touch)\b",
        r"\btake (?:it )?(?:over|from here)\b",
        r"\btaken over\b",
        r"\bforwarded (?:your|the|this) (?:\w+ )?(?:request|case|issue|ticket)\b",
        r"\basked (?:the|our) \w+(?: \w+)? (?:team|department|desk) to\b",
        r"\b(?:handed|passed|routed|transferred|forwarded|sent|assigned|referred)\b(?: \w+){0,8} "
        r"(?:over |off |on |along )?to (?:a|an|our|the|my|their) (?:\w+ ){0,2}"
        r"(?:team|department|desk|specialists?|manager|supervisor|lead|colleague|agent|human"
        r"|representative|seller)\b",
        r"\b(?:team|department|desk|lead|manager)\b(?: \w+){0,3} (?:can|will|to) "
        r"(?:take care of|handle|follow up|finish|complete|reach out|contact you|take it)\b",
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
        r"\brequested\b",
        r"\bpending\w*",
        r"(?<!put )(?<!put it )\bon hold\b",
        r"\bin (?:the |a |our |their )?(?:\w+ )?queue\b",
        r"\b(?:outstanding|routed|processing|requires_\w+)\b",
        r"\bnext in line\b",
        r"\bawaiting\b",
        r"\bwaiting\b",
        r"\bexpect\w*",
        r"\bsoon\b",
        r"\bshortly\b",
        r"\bqueued\b",
        r"\bapproved\b",
    )
    #: The writer's promise of their own next step ("I will email you", "we'll update it")
    #: reports nothing yet: the intents it names are mentioned, no more.
    promise: tuple[str, ...] = (r"^(?:i|we) (?:will|shall|am going to|are going to)\b",)
    #: Uncertainty: success *or* failure.
    uncertain: tuple[str, ...] = (
        r"\b(?:could|can|did|was|were|am) not (?:confirm|verify|tell|determine|check)\b",
        r"\bunable to (?:confirm|verify|tell|determine|check)\b",
        r"\bnot (?:\w+% )?(?:sure|certain|clear)\b",
        r"\b(?:can|could|do|did) not (?:see|find)\b",
        r"\b(?:can|could) not (?:say|be) (?:for )?(?:sure|certain)\b",
        r"\bi (?:think|believe|guess)\b",
        r"\b(?:probably|possibly|perhaps|maybe|hopefully|apparently|presumably)\b",
        r"\b(?:may|might)\b(?! take\b)",
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
        r"\b(?:cancel|updat|chang|modif|switch|authori[sz]|finali[sz]|releas|deliver)\w*",
        r"\b(?:accept|captur|schedul|applied|apply|credit|collect|resen[dt])\w*",
        r"\b(?:get|got) (?:set|done|through|created|sent)\b",
        r"\b(?:refund|reimburs|email|e-mail|charg|bill|ticket)\w*",
        r"\bdone\b",
    )
    #: Pseudo-triggers: phrases that look negated or failed but are not, removed before
    #: anything else so that they negate nothing and name no intent.
    ignore: tuple[str, ...] = (
        r"\bdo not (?:worry|hesitate)\b",
        r"\bnot to worry\b",
        r"\bno (?:worries|problem|problems|issues?|errors?|need)(?: at all)?\b",
        r"\bwithout (?:any )?(?:problems?|issues?|errors?|trouble|delay|hassle)\b",
        r"\bnot only\b",
        r"\bnot (?:a single|one|any) (?:issue|problem|error|hiccup|glitch)s?\b",
        r"\bwithout a hitch\b",
        r"\bnot (?:a|any) problem\b",
        r"\bcan not wait\b",
        r"\bnothing (?:else )?(?:you need|for you|you have) to do\b",
        r"\bnothing else (?:is )?needed\b",
        r"\bnot going anywhere\b",
        r"\bas (?:you )?(?:requested|asked)\b",
        r"\b(?:let me know|tell me) if\b",
        r"\bif you (?:would|still) (?:like|want|prefer)\b.*",
        r"\b(?:steps|instructions|a link|a form|how) (?:on how )?to "
        r"(?:request|get|claim|apply for|start)(?: (?:a|an|your|the))? \w+",
        # Reassurance about the future, not a report: "you won't be charged twice".
        r"\b(?:will|would) not be (?:charged|billed)(?: (?:twice|again|double|for (?:it|this)))?\b",
    )
    #: Words that end a negation's scope (NegEx terminators), besides clause punctuation.
    negation_terminators: tuple[str, ...] = (
        r"but",
        r"however",
        r"although",
        r"though",
        r"because",
        r"since",
        r"as",
        r"so",
        r"which",
        r"who",
        r"while",
        r"whereas",
        r"until",
        r"instead",
    )
    #: A negated proposition: what follows means its opposite ("it is not the case that the
    #: payment failed" says it did not fail).
    flip: tuple[str, ...] = (r"\bnot (?:like|the case that|the case|that)\b",)
    #: A request for the effect is not the effect: "I submitted your refund request" is pending.
    request: tuple[str, ...] = (
        r"\b(?:refund|cancellation|return|change|ticket|approval) request\b",
        r"\brequest (?:for|to)\b",
        r"\b(?:submitted|sent|put in|made|filed|raised|created|received|passed on)\b(?: \w+){0,2} "
        r"(?:a|the|your|that|this) (?:\w+ )?request\b",
        r"\brequest (?:is|was|has been) (?:submitted|sent|in|received|created)\b",
        r"\brequested\b",
        r"\b(?:submitted|sent) (?:it|this|that|them) (?:over|to (?:them|(?:the|our|my|your) "
        r"(?:\w+ )?(?:team|manager|supervisor|department|desk|lead)))\b",
    )
    #: Saying there is nothing to do names the intent but claims nothing about it.
    no_claim: tuple[str, ...] = (
        r"\bnothing (?:more |further |else )?to\b",
        r"\bnot (?:applicable|needed|necessary|required)\b",
        r"\bpolicy\b",
        r"\beligib\w+",
        r"\bcan be \w+ed (?:within|up to|for)\b",
        r"\b(?:refunds|orders|tickets|charges|emails) (?:can|take|usually|typically)\b",
        r"\byou will (?:see|notice)\b",
        # A bare plural subject is a general rule: "Refunds take 5 days".
        r"^(?:refunds|orders|tickets|charges|emails|reminders|payments)\b"
        r"(?! (?:have|were|are now))",
        r"^\w+ing will\b",
    )
    #: Clauses that give a reason or background ("since you had not been billed yet") report
    #: nothing about the intents they name.
    background: tuple[str, ...] = (
        r"^(?:because|since|given that|now that)\b",
        r"^(?:i see|i can see|i notice|i noticed|it looks like you|looking at)\b",
    )
    #: Sentences and clauses opening with these report nothing (nor do questions).
    skip_sentences: tuple[str, ...] = (
        r"^(?:if|unless|in case|should you|whenever)\b",
        r"^to (?:request|get|start|cancel|return|check|see|track|update|change)\b",
        r"^(?:please (?:let|contact|reach|reply|try|allow|wait|check|note that if)|feel free)\b",
        r"^(?:let me know|let us know|do not hesitate|just let me know|just tell me)\b",
        r"^(?:would you like|do you want|shall i|can i|may i|is there anything)\b",
        r"^(?:i can|i could|i would be happy to|i am happy to|happy to|i can also)\b"
        r"(?! not\b| confirm\b| see\b)",
        r"^(?:you can|you may|you could|you will need to|you need to)\b",
        # Instructions to the customer: "Reply with your order number", "Go to Orders".
        r"^(?:reply|share|provide|take|go|click|select|visit|call|make sure|keep|use|enter|log in"
        r"|sign in|head to|tap|choose|double-check)\b",
        r"^(?:here is how|here are the steps|to (?:request|get|start))\b",
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
        cache = _COMPILED.get(id(self))
        if cache is None:
            cache = _COMPILED[id(self)] = {}
            weakref.finalize(self, _COMPILED.pop, id(self), None)
        found = cache.get(name)
        if found is None:
            if name.startswith("intent:"):
                found = _compiled(self.intents[name.removeprefix("intent:")])
            else:
                patterns: tuple[str, ...] = getattr(self, name)
                found = _compiled(patterns, whole=name in _WHOLE_TOKENS)
            cache[name] = found
        return found

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


_WHOLE_TOKENS = frozenset({"negations", "pronouns", "negation_terminators"})
#: Each rules object's compiled lists, by its id (the classifier asks for each list many times
#: per reply; a pydantic model cannot cache on itself without changing its equality).
_COMPILED: dict[int, dict[str, re.Pattern[str]]] = {}


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
