"""Helpful names in error messages: the one "did you mean" of chaoskit."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable

__all__ = ["did_you_mean"]


def did_you_mean(
    name: str,
    known: Iterable[str],
    *,
    cutoff: float = 0.6,
    show: Callable[[str], str] = repr,
) -> str:
    """``" Did you mean 'refund'?"`` for the closest known name, or ``""`` when none is close.

    >>> did_you_mean("refnd", ["refund", "ticket"])
    " Did you mean 'refund'?"
    >>> did_you_mean("note.txt", ["note.text"], show="{{{}}}".format)
    ' Did you mean {note.text}?'
    """
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=cutoff)
    return f" Did you mean {show(close[0])}?" if close else ""
