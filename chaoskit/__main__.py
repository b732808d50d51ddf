"""``python -m chaoskit``: the ``chaoskit`` command."""

from __future__ import annotations

from chaoskit.cli import main

raise SystemExit(main())
