"""Runs split across machines: which shard runs which scenario × agent item.

An item belongs to shard ``hash(id) mod n + 1``, where ``id`` is stable: the scenario's name
and the agent (:func:`item_id`), or pytest's node id for a test of its own. The place of an
item in the collection never matters, so adding a scenario moves no other item, and every
item lands in exactly one shard whatever order the files are found in.

>>> shard = parse_shard("2/3")
>>> [in_shard(item_id(name, "shop:agent"), shard) for name in ("a", "b", "c")]  # doctest: +SKIP
[False, True, False]
"""

from __future__ import annotations

import hashlib
import re

from chaoskit.core.errors import UsageError
from chaoskit.results import Shard

__all__ = ["in_shard", "item_id", "parse_shard", "shard_of"]

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


def shard_of(stable_id: str, total: int) -> int:
    """The shard (1 to ``total``) that runs the item with this id."""
    digest = hashlib.sha256(stable_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % total + 1


def in_shard(stable_id: str, shard: Shard) -> bool:
    """Whether the item with this id runs in ``shard``."""
    return shard_of(stable_id, shard.total) == shard.index
