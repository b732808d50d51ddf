"""Tamper evidence for the ground truth: the fakes' ledgers are checked before a run is judged.

The fakes live in the agent's process, so an agent can reach them (through ``gc``, or by
patching a class). That cannot be prevented; it can be made evident. Every entry a call
commits is also written, as a digest, to the world's own record (``World.commits``) when it
is made. Before judging, :func:`tampering` checks that

- the methods that write and read ledgers are still chaoskit's own (and puts them back if
  not, so that a patch cannot poison the rest of the process);
- no fake has its ``record`` or ``ledger`` replaced on the instance;
- every committed entry is still in its ledger, unchanged.

What it cannot see: entries an agent adds by calling a fake directly (they count against the
agent, never for it), and an agent that rewrites both the ledger and chaoskit's record.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, Protocol

from chaoskit.fakes.base import FakeBackend, Ledger, LedgerEntry

__all__ = ["entry_digest", "tampering"]

#: The methods the ground truth goes through, as chaoskit defines them.
_GUARDED: tuple[tuple[type, str], ...] = (
    (FakeBackend, "record"),
    (Ledger, "append"),
    (Ledger, "entries"),
    (Ledger, "since"),
    (Ledger, "clear"),
    (Ledger, "__len__"),
)
_PRISTINE: dict[tuple[type, str], Any] = {(cls, name): cls.__dict__[name] for cls, name in _GUARDED}


class _Checked(Protocol):
    @property
    def backends(self) -> Mapping[str, FakeBackend]: ...

    @property
    def commits(self) -> Mapping[tuple[str, int], str]: ...


def entry_digest(entry: LedgerEntry) -> str:
    """A digest of everything a ledger entry says."""
    return hashlib.sha256(entry.model_dump_json().encode()).hexdigest()[:32]


def tampering(world: _Checked) -> list[str]:
    """What was done to the ground truth during this run, in words; empty when nothing was."""
    problems = _patched_methods()
    for name, fake in world.backends.items():
        problems += _patched_instance(name, fake)
    problems += _changed_entries(world)
    return problems


def _patched_methods() -> list[str]:
    problems = []
    for (cls, name), original in _PRISTINE.items():
        if cls.__dict__.get(name) is not original:
            problems.append(f"{cls.__qualname__}.{name} was replaced (chaoskit put its own back)")
            setattr(cls, name, original)
    return problems


def _patched_instance(name: str, fake: FakeBackend) -> list[str]:
    problems = []
    if "record" in vars(fake):
        del fake.record
        problems.append(f"the {name} fake's record method was replaced on the instance")
    if type(fake.ledger) is not Ledger or fake.ledger.backend != name:
        problems.append(f"the {name} fake's ledger was replaced by another object")
    return problems


def _changed_entries(world: _Checked) -> list[str]:
    problems = []
    by_seq = {
        name: {e.seq: e for e in fake.ledger.entries()} for name, fake in world.backends.items()
    }
    for (backend, seq), digest in sorted(world.commits.items()):
        entry = by_seq.get(backend, {}).get(seq)
        if entry is None:
            problems.append(f"entry {seq} of the {backend} ledger, committed by a call, is gone")
        elif entry_digest(entry) != digest:
            problems.append(f"entry {seq} of the {backend} ledger was changed after it was made")
    return problems
