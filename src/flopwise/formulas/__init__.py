"""Per-operator cost formulas, one module per family, in one registry.

>>> from flopwise.formulas import default_registry
>>> registry = default_registry()          # an independent copy: safe to extend per run
>>> registry.lookup("aten.mm.default").family
'matmul'
"""

from __future__ import annotations

import torch

from flopwise.formulas import (
    attention,
    comm,
    conv,
    data,
    fft,
    interpolate,
    loss,
    matmul,
    norm,
    pointwise,
    pooling,
    reduction,
    rnn,
)
from flopwise.formulas.registry import Entry, FormulaRegistry, Kind
from flopwise.formulas.spec import Cost, TensorSpec

__all__ = ["default_registry", "FormulaRegistry", "Entry", "Kind", "Cost", "TensorSpec"]

_FAMILIES = (matmul, conv, attention, rnn, norm, pointwise, reduction, pooling, interpolate,
             loss, fft, data, comm)


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
    for family in _FAMILIES:
        family.register(registry)
    return registry.subset(_exists)


_DEFAULT = _build()


def default_registry() -> FormulaRegistry:
    """A copy of the built-in registry; register or override formulas on it for one run."""
    return _DEFAULT.copy()


def builtin_registry() -> FormulaRegistry:
    """The built-in registry itself (read-only by convention; used when no registry is given)."""
    return _DEFAULT
