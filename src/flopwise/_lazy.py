"""Names a package exports but imports only when first used (so ``import flopwise`` stays light).

A package lists ``name -> module`` in a dict and forwards its ``__getattr__`` here::

    def __getattr__(name: str) -> Any:
        return lazy_attribute(__name__, _LAZY, globals(), name)

>>> namespace: dict = {}
>>> lazy_attribute("demo", {"sqrt": "math"}, namespace, "sqrt")(9.0), "sqrt" in namespace
(3.0, True)
>>> lazy_attribute("demo", {"sqrt": "math"}, namespace, "cbrt")
Traceback (most recent call last):
...
AttributeError: module 'demo' has no attribute 'cbrt'
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

__all__ = ["lazy_attribute"]


def lazy_attribute(package: str, names: Mapping[str, str], namespace: dict[str, Any],
                   name: str) -> Any:
    """``name`` imported from its module in ``names`` and kept in ``namespace`` (the package's
    ``globals()``, so the next lookup is a plain attribute read); :class:`AttributeError` for a
    name the package does not export."""
    module = names.get(name)
    if module is None:
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    namespace[name] = value
    return value
