"""Runs split across machines: which shard runs which scenario × agent item.

Every item has a stable id: the scenario's name and the agent (:func:`item_id`), or pytest's
node id for a test of its own. The items are ordered by a hash of their ids, never by where
they were found, and shard *i* of *n* takes the *i*-th of *n* equal runs of that order. So
every item lands in exactly one shard, the shards' sizes differ by one at most, and adding a
scenario moves at most one other item across each boundary between shards (n - 1 in all).

>>> shard = parse_shard("2/3")
>>> members([item_id(name, "shop:agent") for name in "abcdef"], shard)  # doctest: +SKIP
[False, True, False, False, True, False]
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from chaoskit.core.errors import UsageError
from chaoskit.results import Shard

__all__ = ["assign", "item_id", "members", "parse_shard"]

_SPEC = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")


def parse_shard(text: str, *, option: str = "--shard") -> Shard:
    """``"i/n"`` as a :class:`Shard`: the i-th of n shards, counted from 1."""
    match = _SPEC.fullmatch(text)
    if match is None:
        raise UsageError(
            f"chaoskit: {option} takes i/n, the shard to run and how many there are, counted "
            f"from 1 (e.g. {option} 2/3 on the second of three machines); got {text!r}."
        )
    index, total = int(match[1]), int(match[2])
    if total < 1:
        raise UsageError(f"chaoskit: {option} {text}: there must be at least 1 shard.")
    if not 1 <= index <= total:
        raise UsageError(
            f"chaoskit: {option} {text}: shards are counted from 1 to {total}, so i must be "
            f"between 1 and {total} (e.g. {option} 1/{total} … {option} {total}/{total})."
        )
    return Shard(index=index, total=total)


def item_id(scenario: str, agent: str | None) -> str:
    """The stable id of a scenario explored against an agent."""
    return f"{scenario}::{agent or ''}"


def assign(ids: Sequence[str], total: int) -> list[int]:
    """The shard (1 to ``total``) of each item, given the ids of all the run's items.

    Items with one id (the parts of a scenario split across xdist workers) share a shard."""
    unique = sorted(set(ids), key=lambda i: (_hash(i), i))
    shard_of = {stable: rank * total // len(unique) + 1 for rank, stable in enumerate(unique)}
    return [shard_of[stable] for stable in ids]


def members(ids: Sequence[str], shard: Shard) -> list[bool]:
    """For each of the run's items, whether it runs in ``shard``."""
    return [number == shard.index for number in assign(ids, shard.total)]


def _hash(stable_id: str) -> int:
    return int.from_bytes(hashlib.sha256(stable_id.encode("utf-8")).digest()[:8], "big")
