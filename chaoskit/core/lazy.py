"""Package façades whose names are imported on first use (PEP 562's module ``__getattr__``).

A pytest start with the plugin installed, or an xdist controller that only records results,
must not pay for Hypothesis, the world and the fakes; a façade built with :func:`lazy_names`
imports each name's module only when the name is first read, then keeps it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_names"]


def lazy_names(
    package: str, namespace: dict[str, Any], homes: Mapping[str, str]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """A module's ``__getattr__`` and ``__dir__`` for names imported from ``homes`` on first use.

    >>> namespace = {"__all__": ["dumps"]}
    >>> getattr_, _ = lazy_names("demo", namespace, {"dumps": "json"})
    >>> getattr_("dumps").__module__, "dumps" in namespace
    ('json', True)
    """

    def __getattr__(name: str) -> object:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *namespace.get("__all__", ())})

    return __getattr__, __dir__
