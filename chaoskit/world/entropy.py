"""Seeded entropy: the same seed gives the same random numbers, uuids and idempotency keys.

Agents and SDKs draw randomness for retry jitter (``random``), request ids (``uuid.uuid4``)
and idempotency keys (the stripe SDK reads ``os.urandom``). Inside a world all of these come
from the world's seed, so a run's trace is the same byte for byte and a replay repeats it.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["seeded_entropy"]


@contextmanager
def seeded_entropy(seed: int) -> Iterator[None]:
    """Seed ``random`` and replace ``os.urandom`` (and so ``uuid.uuid4``) while active."""
    source = random.Random(f"chaoskit-entropy:{seed}")
    saved_state = random.getstate()
    real_urandom = os.urandom

    def urandom(size: int, /) -> bytes:
        return source.randbytes(size)

    random.seed(f"chaoskit-random:{seed}")
    os.urandom = urandom
    try:
        yield
    finally:
        os.urandom = real_urandom
        random.setstate(saved_state)
