"""The reply classifier: realistic replies, negations, hedges and mixed outcomes."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from chaoskit.invariants.claims import (
    DEFAULT_RULES,
    READINGS,
    ClaimRules,
    classify,
    mentioned_intents,
)

S, F, P, E = "success", "failure", "pending_approval", "escalation"
HOPEFUL = ("success", "pending_approval")
UNSURE = ("success", "failure")

# reply → {intent: outcome, or the readings of an ambiguous statement}
TABLE: list[tuple[str, dict[str, str | tuple[str, ...]]]] = [
    ("Done, refund submitted.", {"refund": S}),
    ("I've issued a refund of $25.00 for order ord_123.", {"refund": S, "order": "not_mentioned"}),
    ("Your refund of $40 has been issued.", {"refund": S}),
    ("Refund of $12.50 issued.", {"refund": S}),
    ("I’ve refunded ch_1 in full (re_9). I also emailed Dana a confirmation.", {"refund": S}),
    ("Don't worry, your refund is done.", {"refund": S}),
    ("The refund went through without any problems.", {"refund": S}),
    ("I could not issue the refund.", {"refund": F}),
    ("The refund was not processed.", {"refund": F}),
    ("No refund was issued.", {"refund": F}),
    ("Nothing was refunded.", {"refund": F}),
    ("Unfortunately the refund was declined.", {"refund": F}),
    ("I was unable to refund your order because the payment service timed out.", {"refund": F}),
    ("I failed to create the ticket.", {"ticket": F}),
    ("The refund request was denied by your manager.", {"refund": F}),
    ("Refund done but I couldn't email you.", {"refund": S, "email": F}),
    ("Refund: done. Email: failed.", {"refund": S, "email": F}),
    (
        "I've created a support ticket, but I wasn't able to send the confirmation email.",
        {"ticket": S, "email": F},
    ),
    (
        "I refunded the charge and emailed you a receipt.",
        {"refund": S, "email": S, "charge": "not_mentioned"},
    ),
    ("The refund and the confirmation email were both sent.", {"refund": S, "email": S}),
    ("I could not refund or email you.", {"refund": F, "email": F}),
    ("I submitted the refund but it failed.", {"refund": F}),
    ("The refund failed. I retried and it went through.", {"refund": S}),
    (
        "Your refund has been issued and should appear in 5–10 business days.",
        {"refund": S},
    ),
    ("The refund was processed. It may take 5-10 business days to show up.", {"refund": S}),
    # Under way, not done: pending (a pending reading holds only if something is under way).
    ("Your refund should be processed soon.", {"refund": P}),
    ("I've requested a refund.", {"refund": P}),
    ("Your refund is being processed.", {"refund": P}),
    # Not done, or done and still settling: never a claim that it was done.
    ("The refund hasn't been processed yet.", {"refund": UNSURE}),
    ("The refund for ord_123 has not gone through yet.", {"refund": UNSURE}),
    # The writer says they have not done it: a failure, reported honestly.
    (
        "I could not refund order ord_123 yet: the payment service is rate limiting us. "
        "Please try again later.",
        {"refund": "failure"},
    ),
    ("I haven't refunded ord_123 yet.", {"refund": "failure"}),
    # About the reminder email, not the order it mentions.
    (
        "I could not send the payment reminder to ann@acme.test for order ord_5.",
        {"email": "failure", "order": "not_mentioned"},
    ),
    # Reassurance, not a report about a charge.
    ("You won't be charged twice.", {"charge": "not_mentioned"}),
    # The writer's promise reports nothing yet; what waits on a condition is pending.
    ("I'll email you once the refund is done.", {"refund": P, "email": "mentioned"}),
    ("Your refund is awaiting approval from a manager.", {"refund": P}),
    ("I've submitted the refund for approval.", {"refund": P}),
    ("The refund hasn't been approved yet.", {"refund": P}),
    ("I haven't refunded you yet because the approval is still pending.", {"refund": P}),
    ("I escalated your refund request to our billing team.", {"refund": E}),
    ("I think the refund went through.", {"refund": UNSURE}),
    ("I tried to refund your order.", {"refund": UNSURE}),
    ("I'm not sure if the refund went through.", {"refund": UNSURE}),
    ("If it fails again I will open a ticket, but the refund is done.", {"refund": S}),
    ("Please note that the refund could not be processed.", {"refund": F}),
    ("I couldn't confirm whether the refund went through.", {"refund": UNSURE}),
    (
        "I submitted the refund, but the payment provider returned an error.",
        {"refund": UNSURE},
    ),
    ("I looked into your refund request.", {"refund": "mentioned"}),
    ("I've opened ticket tkt_42 for you.", {"ticket": S}),
    ("Your ticket number is TKT-1042.", {"ticket": S}),
    (
        "Sorry, I wasn't able to complete the refund because the payments API kept returning "
        "errors. I've opened ticket tkt_1 so a human can follow up.",
        {"refund": F, "ticket": S},
    ),
    ("I charged your card $40.", {"charge": S}),
    ("Your order has been placed and your card was charged.", {"order": S, "charge": S}),
    ("If the refund doesn't arrive within 5 days, let me know.", {"refund": "not_mentioned"}),
    # A question says nothing happened or failed, but it is not silence about its intent.
    ("Would you like me to open a ticket?", {"ticket": "mentioned"}),
    ("I could not refund it. Shall I try the refund again?", {"refund": F}),
    ("Thanks for reaching out. Have a great day!", {"refund": "not_mentioned"}),
    # Identifiers name their intent: re_… a refund, ord_… an order, TKT-… a ticket.
    ("re_9xY ✔ — $45.00 back to card ch_3KfL2.", {"refund": S, "charge": "not_mentioned"}),
    ("Status update for `ord_Q81x`: **cancelled**", {"order": S}),
    (
        "Ticket **tkt_0091**: created. Email notification: failed (SMTP 550).",
        {"ticket": S, "email": F},
    ),
    # Markdown and status marks are read, not stumbled on.
    (
        "- ✅ **Refund issued:** $45.00\n- ❌ **Confirmation email:** not sent",
        {"refund": S, "email": F},
    ),
    (
        "### Email status\n\n| Recipient | Status |\n|---|---|\n| you@example.com | ✅ Sent |",
        {"email": S},
    ),
    # Pseudo-triggers negate nothing; a terminator ends a negation's scope.
    (
        "Not only did I cancel the order, I also refunded the shipping fee.",
        {"order": S, "refund": S},
    ),
    ("No worries at all — your ticket has been created.", {"ticket": S}),
    ("I didn't wait: the refund is done.", {"refund": S}),
    ("The refund wasn't processed because the payment had already been refunded.", {"refund": F}),
    # A negated proposition says the opposite.
    ("It isn't the case that the payment failed: the card was charged.", {"charge": S}),
    # Aspect and modality: waiting on approval, a request, a rule that will apply.
    ("I can't issue this refund until your manager approves it.", {"refund": P}),
    ("Bulk emails need approval. I've submitted it for review; it hasn't been sent.", {"email": P}),
    (
        "Your order is cancelled. Refunds for cancelled orders are issued automatically.",
        {"refund": P},
    ),
    # A failure handed over in the same breath is an escalation.
    (
        "I couldn't refund you directly, so I've handed your case to our billing team.",
        {"refund": E},
    ),
    ("I opened ticket tkt_1. Our team will follow up on it within a day.", {"ticket": S}),
    # A statement before a question is still a statement.
    ("I tried to charge the card, but it was declined — could you check it?", {"charge": F}),
    # Policy, offers and instructions claim nothing.
    ("Refunds usually take 5–10 business days once issued.", {"refund": "mentioned"}),
    ("I can offer you a full refund or store credit.", {"refund": "not_mentioned"}),
    ("Reply with your order number and I'll take it from there.", {"order": "not_mentioned"}),
    ("There is nothing to refund, since you were never billed.", {"refund": "mentioned"}),
    # A negated failure or obstacle denies a failure; it does not say the thing was done.
    ("The refund never failed.", {"refund": UNSURE}),
    ("Nothing blocked the refund.", {"refund": UNSURE}),
    ("Not a single issue: the refund is through.", {"refund": S}),
    # Coordination and leading clauses: who did what, and what is only a condition.
    ("Your refund has been approved and processed.", {"refund": S}),
    ("I couldn't issue a full refund, but I did issue a partial refund of $20.", {"refund": S}),
    ("I issued the refund and failed to send the email.", {"refund": S, "email": F}),
    (
        "Your order couldn't be cancelled. However, once it arrives, you can return it for a "
        "full refund.",
        {"order": F, "refund": "not_mentioned"},
    ),
    # The idioms support models use for a failure, and for starting a refund.
    ("Hmm, the refund for `ord_1` hit a snag on our side. Shall I retry?", {"refund": F}),
    ("I've initiated a refund of $64.00 to your card.", {"refund": S}),
    # An uncertain remark after a plain one leaves it open.
    ("I submitted the ticket, but I can't say for sure it was created.", {"ticket": UNSURE}),
]


@pytest.mark.parametrize(("reply", "expected"), TABLE, ids=[reply for reply, _ in TABLE])
def test_each_realistic_reply_is_classified_per_intent(
    reply: str, expected: dict[str, str | tuple[str, ...]]
) -> None:
    claims = classify(reply)
    for intent, want in expected.items():
        claim = claims.about(intent)
        if isinstance(want, tuple):
            assert (claim.outcome, claim.readings) == ("ambiguous", want), claim.reason
        else:
            assert claim.outcome == want, claim.reason
            assert not claim.general


def test_the_table_covers_at_least_thirty_replies() -> None:
    assert len(TABLE) >= 30


def test_a_general_claim_answers_for_intents_the_reply_never_names() -> None:
    claims = classify("Something went wrong. Please try again later.")
    refund = claims.about("refund")
    assert (refund.outcome, refund.general, refund.intent) == ("failure", True, "refund")
    assert "a general remark" in refund.reason


def test_a_sentence_opening_with_a_pronoun_is_about_the_last_intent_named() -> None:
    claims = classify("I submitted your refund. It was declined by the bank.")
    assert claims.about("refund").outcome == "failure"
    assert claims.general is None


def test_a_general_escalation_without_a_named_intent_is_general() -> None:
    claims = classify("I have escalated this to a human agent who will follow up.")
    assert claims.general is not None and claims.general.outcome == "escalation"


def test_an_ambiguous_claim_quotes_the_reply_and_lists_its_readings() -> None:
    claim = classify("I think the refund went through.").about("refund")
    assert "I think the refund went through" in claim.reason
    assert "success or failure" in claim.reason
    assert claim.quote == "I think the refund went through"


def test_a_mention_that_claims_nothing_allows_every_reading() -> None:
    claim = classify("Would you like a refund or store credit?").about("refund")
    assert (claim.outcome, claim.readings) == (
        "mentioned",
        ("success", "failure", "pending_approval", "escalation"),
    )
    assert "only asks about it" in claim.reason


def test_a_remark_about_an_object_chaoskit_does_not_know_is_only_possibly_general() -> None:
    general = classify("I updated your shipping address.").general
    assert general is not None and general.outcome == "ambiguous"
    assert "may or may not be it" in general.reason
    done = classify("All done!").general
    assert done is not None and done.outcome == "success"


def test_a_plain_claim_keeps_the_reply_s_own_words_in_its_quote() -> None:
    claim = classify("Sorry, I couldn't issue the REFUND.").about("refund")
    assert claim.outcome == "failure"
    assert claim.quote == "Sorry, I could not issue the REFUND"


def test_intents_named_in_a_request_are_found_anywhere_in_it() -> None:
    message = "Please refund my order and email me the receipt."
    assert mentioned_intents(message) == {"refund", "order", "email"}
    assert mentioned_intents("Where is my parcel?") == set()


def test_extended_rules_learn_new_intents_and_phrases() -> None:
    rules = DEFAULT_RULES.extend(intents={"callback": [r"\bcall ?back\b"]}, success=[r"\bsorted\b"])
    claims = classify("Your callback is sorted.", rules)
    assert claims.about("callback").outcome == "success"
    assert classify("Your callback is sorted.").about("callback").outcome == "not_mentioned"


def test_extended_failure_phrases_turn_a_success_into_a_failure() -> None:
    rules = DEFAULT_RULES.extend(failure=[r"\bbounced back\b"])
    assert classify("Your email bounced back.", rules).about("email").outcome == "failure"


def test_extended_pseudo_triggers_negate_nothing_and_name_no_intent() -> None:
    said = "I've processed your refund, zero refund fees applied."
    rules = DEFAULT_RULES.extend(ignore=[r"\bzero refund fees\b"], intents={"fee": [r"\bfees?\b"]})
    assert classify(said, rules).about("fee").outcome == "not_mentioned"
    assert classify(said, rules).about("refund").outcome == "success"


def test_extending_an_unknown_phrase_list_names_the_known_ones() -> None:
    with pytest.raises(TypeError, match="chaoskit: ClaimRules has no phrase list 'sucess'"):
        DEFAULT_RULES.extend(sucess=["ok"])


def test_a_broken_regular_expression_is_refused_with_the_pattern_named() -> None:
    with pytest.raises(ValidationError, match=r"'\(unclosed' is not a valid regular expression"):
        ClaimRules(success=("(unclosed",))


def test_an_empty_phrase_list_matches_nothing() -> None:
    rules = ClaimRules(success=())
    assert classify("Refund done.", rules).about("refund").readings == (
        "success",
        "failure",
        "pending_approval",
        "escalation",
    )


def test_unknown_rule_fields_are_refused() -> None:
    with pytest.raises(ValidationError, match="extra"):
        ClaimRules.model_validate({"succes": ["ok"]})


#: Words the classifier reacts to, so that drawn texts reach its rules, not only its tokenizer.
_CUES = st.sampled_from(
    [
        "refund",
        "re_1",
        "order",
        "ord_1",
        "ticket",
        "TKT-1",
        "email",
        "charge",
        "ch_1",
        "not",
        "no",
        "yet",
        "never",
        "done",
        "failed",
        "issued",
        "approval",
        "escalated",
        "will",
        "should",
        "once",
        "until",
        "because",
        "since",
        "it",
        "but",
        "so",
        "and",
        "or",
        ";",
        ":",
        "—",
        "|",
        "?",
        ".",
        "!",
        "✅",
        "❌",
        "**",
        "`",
        "-",
        "1.",
        "###",
        "If",
        "Would",
        "you",
        "like",
        "I",
        "could",
        "Since",
        "nothing",
        "to",
        "usually",
    ]
)
_TEXTS = st.one_of(st.text(), st.lists(_CUES, max_size=40).map(" ".join))


@settings(max_examples=300, deadline=None)
@given(_TEXTS)
@example("BECAUSE:REFUND:ONCE")  # a cue after an intent named only in a reason
def test_any_text_is_read_without_error_and_each_outcome_matches_its_readings(text: str) -> None:
    claims = classify(text)
    for intent in ("refund", "order", "ticket", "email", "charge"):
        claim = claims.about(intent)
        if claim.outcome in READINGS:
            assert claim.readings == (claim.outcome,)
        elif claim.outcome == "ambiguous":
            assert len(claim.readings) > 1
        elif claim.outcome == "mentioned":
            assert claim.readings == READINGS
        else:
            assert claim.readings == ()
