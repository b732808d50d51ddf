"""Reading an agent's English reply: what does it say happened to each intent?

Invariants such as ``no_unreported_failure`` compare what the agent *says* with what the ledgers
*show*. When the agent returns a structured :class:`~chaoskit.core.agent.Reply` with claims, those
are used. Otherwise :func:`classify` reads the text with plain, documented rules: no model, no
guessing. For each intent kind (refund, ticket, email, charge, order…) it reports one of

* ``success``, ``failure``, ``pending_approval`` (pending: awaiting approval, or under way and
  not done yet), ``escalation``: the reply says so plainly;
* ``ambiguous``: the reply can be read more than one way (the possible ``readings`` and the
  ``reason`` say how), or its evidence conflicts;
* ``mentioned``: the reply names the intent but claims nothing about it (a question, an offer,
  a promise, a general rule): every reading stays open, so no verdict rests on it, but it is
  not silence either;
* ``not_mentioned``.

>>> claims = classify("Refund done, but I couldn't email you the receipt.")
>>> claims.about("refund").outcome, claims.about("email").outcome
('success', 'failure')
>>> classify("I think the refund went through.").about("refund").readings
('success', 'failure')
>>> classify("Would you like me to open a ticket?").about("ticket").outcome
'mentioned'

How a reply is read (precision first: a wrong "you lied" is the worst output chaoskit has):

1. **Normalising.** Markdown emphasis, code ticks and bullets go; status marks read as words
   (✅ done, ❌ failed, ⏳ pending); contractions are expanded (``couldn't`` → ``could not``).
2. **Sentences and clauses.** Sentences end at ``.!?``, line breaks and table cells. A sentence
   is cut into clauses at ``;``, dashes, contrasts (``but``, ``however``…), consequences
   (``so``, ``then``), relative clauses (``…, who will…``) and subordinate ones (``because``,
   ``since``, ``once``, ``until``); ``and`` / ``or`` cut only between clauses, so "your
   cancellation and refund" stays one object.
3. **Intent linking.** A clause names intents by their nouns, verbs and synonyms, and by their
   identifiers (``re_…`` a refund, ``ch_…``/``pi_…`` a charge, ``ord_…`` an order,
   ``tkt_…``/``TKT-…`` a ticket, ``eml_…`` an email). *Weak* intents (``charge``, ``order``)
   count beside a strong one only when coordinated: in "I refunded the charge" the charge is
   the refund's object. A clause naming nothing with a pronoun is about the intents named last,
   or named later in the sentence ("I have submitted it, so your ticket…"); under a heading
   ("Email status") it is about the heading's intents.
4. **Negation with scope** (NegEx-style). Pseudo-triggers are removed first ("not only", "no
   problem", "without delay", "you won't be charged twice"). A trigger (``not``, ``never``,
   ``no``…) reaches ``negation_window`` words and stops at clause punctuation or a terminator
   (``but``, ``because``, ``so``, ``who``…); a negated action is a failure. "It is not the case
   that …" flips the clause. "Not … yet" said of the writer's own action ("I haven't refunded
   it yet") is an honest failure; of the thing ("it has not gone through yet") it is not done,
   or done and settling: ambiguous.
5. **Aspect and modality.** Approval words, requests ("I've requested a refund", "your refund
   request was received") and wording that is under way or to come ("should be processed
   soon", "is queued", "will be issued automatically") read as pending; so does a failure that
   only waits ("I can't issue it until your manager approves it"). Uncertainty ("I think",
   "may", "could not confirm", "tried to") reads as success *or* failure. The writer's own
   promise ("I'll email you") reports nothing yet. A failure handed over in the same breath
   ("…, so I've passed it to our billing team") is an escalation.
6. **What claims nothing.** Questions (a statement before the question in the same sentence
   still counts), offers and instructions ("I can…", "Reply with your order number"),
   conditions ("If it doesn't arrive, let me know and I'll refund you"), reasons ("since you
   were never billed"), and general rules ("Refunds usually take 5 days", "nothing to refund").
7. **Putting it together.** A later plain statement about an intent replaces an earlier one
   ("It failed. I retried and it went through." → success); a hedge never replaces a plain one,
   and a later uncertain remark makes a plain claim ambiguous. A clause with a cue but no intent
   is a *general* claim ("Done.", "Something went wrong."), which :meth:`ReplyClaims.about`
   returns for intents the reply never names, unless it is about an object chaoskit does not
   know ("I updated your address").

Every phrase list is a field of :class:`ClaimRules`, case-insensitive regular expressions over the
text; extend them with :meth:`ClaimRules.extend` (or the invariant's ``claims`` parameter).

The code lives in submodules: :mod:`~chaoskit.invariants.claims.rules` (the phrase lists),
:mod:`~chaoskit.invariants.claims.results` (the answers),
:mod:`~chaoskit.invariants.claims.classifier` (the entry points and sentences),
:mod:`~chaoskit.invariants.claims.segments` (reading one clause) and
:mod:`~chaoskit.invariants.claims.tally` (putting clauses together).
"""

from __future__ import annotations

from chaoskit.invariants.claims.classifier import classify, mentioned_intents
from chaoskit.invariants.claims.results import IntentClaim, ReplyClaims
from chaoskit.invariants.claims.rules import (
    DEFAULT_RULES,
    READINGS,
    ClaimRules,
    Outcome,
    Reading,
)

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
