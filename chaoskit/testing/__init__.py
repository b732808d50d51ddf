"""The pytest glue behind :mod:`chaoskit.plugin`; :class:`Chaos` is the ``chaos`` fixture's type.

>>> from chaoskit.testing import Chaos
>>> def test_refunds_survive_timeouts(chaos: Chaos) -> None:
...     chaos.check("refund-timeout-after-commit", agent=refund_agent)
"""

from __future__ import annotations

from chaoskit.testing.collect import ChaosFailure
from chaoskit.testing.fixture import Chaos

__all__ = ["Chaos", "ChaosFailure"]
