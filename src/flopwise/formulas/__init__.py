"""Per-operator cost formulas, one module per family, in one registry.

Each family module declares its formulas on its own ``TABLE`` (a :class:`FormulaTable`); the
built-in registry is every table of this package's modules, found by name, so a new family is
one new module here and one test module in tests/formulas.

>>> from flopwise.formulas import default_registry
>>> registry = default_registry()          # an independent copy: safe to extend per run
>>> registry.lookup("aten.mm.default").family
'matmul'
"""

from __future__ import annotations

import importlib
import pkgutil

import torch

from flopwise.formulas.registry import Entry, EntryKind, FormulaRegistry, FormulaTable
from flopwise.formulas.spec import Cost, TensorSpec

__all__ = ["default_registry", "family_tables", "FormulaRegistry", "FormulaTable", "Entry",
           "EntryKind", "Cost", "TensorSpec"]


def family_tables() -> list[FormulaTable]:
    """The ``TABLE`` of every module of this package that has one, in module-name order.

    >>> [table.family for table in family_tables()][:3]
    ['attention', 'comm', 'convolution']
    """
    tables = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        table = getattr(module, "TABLE", None)
        if isinstance(table, FormulaTable):
            tables.append(table)
    return tables


def _exists(key: str) -> bool:
    """Whether torch has this op (families list in-place/out variants by name pattern).

    Ops of other libraries (``torchvision.*``) are kept: their namespace exists only once the
    library is imported, which may be after flopwise.
    """
    namespace, _, rest = key.partition(".")
    if namespace not in ("aten", "prim", "prims", "profiler"):
        return True
    packet_name, _, overload = rest.partition(".")
    packet = getattr(getattr(torch.ops, namespace), packet_name, None)
    return packet is not None and (not overload or overload in packet.overloads())


def _build() -> FormulaRegistry:
    registry = FormulaRegistry()
    for table in family_tables():
        registry.add_table(table)
    return registry.subset(_exists)


_DEFAULT = _build()


def default_registry() -> FormulaRegistry:
    """A copy of the built-in registry; register or override formulas on it for one run."""
    return _DEFAULT.copy()


def builtin_registry() -> FormulaRegistry:
    """The built-in registry itself (read-only by convention; used when no registry is given)."""
    return _DEFAULT
