"""Fake LLMs that speak OpenAI's and Anthropic's wire formats, played from a script.

An agent under test keeps its real SDK (``openai.OpenAI()``, ``anthropic.Anthropic()``); inside
a world, its chat calls reach :class:`OpenAIModel` (``POST /v1/chat/completions``) or
:class:`AnthropicModel` (``POST /v1/messages``). Each call plays the next turn of a
:class:`ModelScript` — what a competent model would do — and a ``misbehave`` hook may perturb
that turn the way real models go wrong. Every completion lands in the ledger as
``model.completion`` (with tokens and USD), every applied misbehaviour as ``model.misbehaved``.

The package, bottom up (a module imports only those above it in this list):

* :mod:`~chaoskit.fakes.model.script` — :class:`ModelScript`, :class:`ScriptTurn`,
  :class:`ScriptToolCall`, :class:`ModelCall`, and how a call plays its turn.
* :mod:`~chaoskit.fakes.model.misbehaviours` — :data:`MISBEHAVIOURS` and how each perturbs
  the turn about to be played.
* :mod:`~chaoskit.fakes.model.scripted` — :class:`ScriptedModel`, what both providers share:
  the script, the ``misbehave`` hook, tokens, prices and the ledger.
* :mod:`~chaoskit.fakes.model.openai` — :class:`OpenAIModel` and OpenAI's wire format.
* :mod:`~chaoskit.fakes.model.anthropic` — :class:`AnthropicModel` and Anthropic's.
* :mod:`~chaoskit.fakes.model.cassette` — :class:`Cassette`: real model traffic recorded once
  and answered again.
* :mod:`~chaoskit.fakes.model.passthrough` — :class:`PassthroughModel`: not a fake at all, the
  agent's real model (``model = "passthrough"``), live, recorded or replayed.

Misbehaviours are listed in :mod:`~chaoskit.fakes.model.misbehaviours`, the conventions
both providers follow (tool errors, what the model has read, tokens, prices) in
:mod:`~chaoskit.fakes.model.scripted`.
"""

from __future__ import annotations

from chaoskit.fakes.model.anthropic import AnthropicModel
from chaoskit.fakes.model.cassette import Cassette
from chaoskit.fakes.model.misbehaviours import CLAIMED_SUCCESS as CLAIMED_SUCCESS
from chaoskit.fakes.model.misbehaviours import MISBEHAVIOURS
from chaoskit.fakes.model.openai import OpenAIModel
from chaoskit.fakes.model.passthrough import PassthroughModel
from chaoskit.fakes.model.script import ModelCall, ModelScript, ScriptToolCall, ScriptTurn
from chaoskit.fakes.model.script import Provider as Provider
from chaoskit.fakes.model.scripted import DEFAULT_PRICES, ScriptedModel
from chaoskit.fakes.model.scripted import estimate_tokens as estimate_tokens

__all__ = [
    "DEFAULT_PRICES",
    "MISBEHAVIOURS",
    "AnthropicModel",
    "Cassette",
    "ModelCall",
    "ModelScript",
    "OpenAIModel",
    "PassthroughModel",
    "ScriptToolCall",
    "ScriptTurn",
    "ScriptedModel",
]
