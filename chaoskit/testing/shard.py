"""``--chaos-shard=i/n``: this machine runs one shard of the items, the rest are deselected.

Every collected item belongs to one shard by a hash of its stable id (a scenario file's item:
the scenario's name and the agent; any other test: its node id; see
:mod:`chaoskit.engine.shard`), so every machine collects the same items and keeps its own
share, xdist workers included. The shard and its counts go
into the results JSON, even when the shard is empty, for ``chaoskit merge``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from chaoskit.testing.collect import ScenarioItem
from chaoskit.testing.settings import SETTINGS, is_worker

if TYPE_CHECKING:
    from chaoskit.engine import RunRecorder
    from chaoskit.results import Shard

__all__ = ["ShardSelection"]

_COUNTS = "chaoskit_shard"


class ShardSelection:
    """Keeps the items of the configured shard and reports the others as deselected."""

    def __init__(self, config: pytest.Config, shard: Shard, recorder: RunRecorder) -> None:
        self.config = config
        self.shard = shard
        self.recorder = recorder

    def stable_id(self, item: pytest.Item) -> str:
        from chaoskit.engine.shard import item_id

        if isinstance(item, ScenarioItem):
            return item_id(item.scenario.name, self.config.stash[SETTINGS].agent_spec)
        return item.nodeid

    @pytest.hookimpl(trylast=True)  # after -k and -m: the counts are of what was selected
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        from chaoskit.engine.shard import members

        ids = [self.stable_id(item) for item in items]
        chosen = members(ids, self.shard)
        keep = [item for item, kept in zip(items, chosen, strict=True) if kept]
        dropped = [item for item, kept in zip(items, chosen, strict=True) if not kept]
        if dropped:
            self.config.hook.pytest_deselected(items=dropped)
        items[:] = keep
        # Counted by stable id: the parts of a scenario split across workers are one item.
        selected = len({i for i, kept in zip(ids, chosen, strict=True) if kept})
        counts = [selected, len(set(ids))]
        self._count(*counts)
        if is_worker(self.config):  # the controller collects nothing: tell it the counts
            self.config.workeroutput[_COUNTS] = counts  # type: ignore[attr-defined]

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        counts = getattr(node, "workeroutput", {}).get(_COUNTS)
        if counts:
            self._count(*counts)

    def _count(self, selected: int, collected: int) -> None:
        update = {"selected": selected, "collected": collected}
        self.recorder.shard = self.shard.model_copy(update=update)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        # A shard whose share of the items is empty ran everything it had to: not exit 5.
        recorded = self.recorder.shard
        if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED and recorded and recorded.collected:
            session.exitstatus = pytest.ExitCode.OK

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if is_worker(self.config):
            return
        shard = self.recorder.shard or self.shard
        terminalreporter.write_line(
            f"chaoskit: shard {shard.label}: {shard.selected} of {shard.collected} items ran "
            "here, the others were deselected for the other shards"
        )
