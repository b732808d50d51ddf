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
   ``ignore`` ("don't worry", "without any problems", "you won't be charged twice") are removed
   first, so they negate nothing and name no intent.
   "Not … yet" said of the writer's own action ("I could not refund it yet", "I have not
   refunded it yet") is a failure, honestly reported; said of the thing ("the refund has not
   gone through yet") it is ambiguous, success *or* failure (not done, or done and settling).
   Hedges make a segment ambiguous: future or in-progress wording ("should be refunded soon",
   "I've requested a refund") reads as success *or* pending approval;
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

The code lives in submodules: :mod:`~chaoskit.invariants.claims.rules` (the phrase lists),
:mod:`~chaoskit.invariants.claims.results` (the answers),
:mod:`~chaoskit.invariants.claims.classifier` (the entry points),
:mod:`~chaoskit.invariants.claims.segments` (reading one segment) and
:mod:`~chaoskit.invariants.claims.tally` (putting segments together).
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
