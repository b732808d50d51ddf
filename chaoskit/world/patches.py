"""Attributes replaced while a world is active and put back exactly as they were after."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

__all__ = ["Patch", "applied"]

#: ``(owner, attribute name, replacement)``.
Patch = tuple[Any, str, Any]
_INHERITED = object()


@contextmanager
def applied(patches: Sequence[Patch]) -> Iterator[None]:
    """Set every replacement; on exit restore the originals.

    An inherited attribute (``socket.socket.connect`` lives on ``_socket.socket``) is deleted
    again rather than copied down, so the classes end exactly as they started.
    """
    saved = [(owner, name, owner.__dict__.get(name, _INHERITED)) for owner, name, _ in patches]
    try:
        for owner, name, replacement in patches:
            setattr(owner, name, replacement)
        yield
    finally:
        for owner, name, original in saved:
            if original is _INHERITED:
                delattr(owner, name)
            else:
                setattr(owner, name, original)
