"""Small frozen records that formulas read and return.

Formulas never see tensors: each tensor argument becomes a :class:`TensorSpec` (shape, dtype,
element size), so formulas are plain arithmetic and can be tested without torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["TensorSpec", "Cost", "ZERO_COST"]


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """What a formula knows of a tensor: its shape, dtype name and bytes per element.

    >>> TensorSpec((2, 3), "float32", 4).numel
    6
    """

    shape: tuple[int, ...]
    dtype: str = "float32"
    itemsize: int = 4

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.numel * self.itemsize

    @property
    def ndim(self) -> int:
        return len(self.shape)


@dataclass(frozen=True, slots=True)
class Cost:
    """The raw quantities of one operator call; a convention turns them into FLOPs later.

    - ``macs``: multiply-accumulates of contractions (matmul, convolution, attention, RNN gates).
    - ``dot_outputs``: how many dot products those MACs form (one per output element of a
      contraction). With ``macs`` it gives the exact add count: k terms need k-1 additions.
    - ``bias_adds``: bias additions fused into a contraction (addmm's ``beta*C``, conv bias).
    - ``elementwise``: FLOPs of all other arithmetic (pointwise ops, activations, normalisation,
      softmax, reductions, pooling, interpolation) at the documented per-element costs.
    - ``bytes_read`` / ``bytes_written``: data the op moves. ``None`` in a formula's result means
      "all tensor inputs read once, all outputs written once", which the engine fills in.
    """

    macs: int = 0
    dot_outputs: int = 0
    bias_adds: int = 0
    elementwise: int = 0
    bytes_read: int | None = None
    bytes_written: int | None = None

    def __add__(self, other: Cost) -> Cost:
        return Cost(
            macs=self.macs + other.macs,
            dot_outputs=self.dot_outputs + other.dot_outputs,
            bias_adds=self.bias_adds + other.bias_adds,
            elementwise=self.elementwise + other.elementwise,
            bytes_read=_add_optional(self.bytes_read, other.bytes_read),
            bytes_written=_add_optional(self.bytes_written, other.bytes_written),
        )

    def scaled(self, factor: int) -> Cost:
        """This cost repeated ``factor`` times (an integer: counts stay exact)."""
        return Cost(
            macs=self.macs * factor,
            dot_outputs=self.dot_outputs * factor,
            bias_adds=self.bias_adds * factor,
            elementwise=self.elementwise * factor,
            bytes_read=None if self.bytes_read is None else self.bytes_read * factor,
            bytes_written=None if self.bytes_written is None else self.bytes_written * factor,
        )


def _add_optional(a: int | None, b: int | None) -> int | None:
    if a is None and b is None:
        return None
    return (a or 0) + (b or 0)


ZERO_COST = Cost(0, 0, 0, 0, 0, 0)
"""No work and no bytes: the start of every sum of costs, and the cost of a view."""
