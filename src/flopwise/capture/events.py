"""The event record the capture layer emits: one per operator call."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from flopwise.formulas.comm import Collective
from flopwise.formulas.spec import Cost

__all__ = ["Phase", "Status", "OpEvent"]


class Phase(str, Enum):
    """When an op ran: the forward pass, the backward pass, or the optimizer step."""

    FORWARD = "forward"
    BACKWARD = "backward"
    OPTIMIZER = "optimizer"


class Status(str, Enum):
    """Every op has exactly one outcome."""

    COUNTED = "counted"          # a formula gave its cost
    ZERO = "zero"                # declared cost-free (views, copies, factories, index ops)
    UNSUPPORTED = "unsupported"  # no formula and no decomposition: listed in every report


@dataclass(frozen=True, slots=True)
class OpEvent:
    """One operator call: what ran, where (module fqn, phase), its outcome and raw cost.

    ``cost`` always has its byte fields filled. ``dtype`` is the op's compute dtype (its first
    floating-point tensor). ``via`` names the op whose decomposition produced this one.
    ``in_shape`` / ``out_shape`` are the shapes of its first tensor input and first tensor output
    (``()`` for cost-free ops), which the tool-compatible conventions read. ``comm`` is set on
    collectives (the fourth kind of op, beside compute, data movement and declared zero):
    payload, group and bytes on the wire (see :mod:`flopwise.formulas.comm`).
    """

    op: str
    module: str
    phase: Phase
    status: Status
    cost: Cost
    dtype: str
    via: str | None = None
    in_shape: tuple[int, ...] = ()
    out_shape: tuple[int, ...] = ()
    comm: Collective | None = None
