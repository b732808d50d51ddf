"""What the claims classifier answers: an :class:`IntentClaim` per intent, gathered in a
:class:`ReplyClaims` for the whole reply."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from chaoskit.invariants.claims.rules import Outcome, Reading

__all__ = ["IntentClaim", "ReplyClaims"]


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

        >>> from chaoskit.invariants.claims import classify
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
