"""What the compatibility rules need to know of an aten op: its packet name, element counts
and which normalisation it is."""

from __future__ import annotations

import math

from flopwise.capture.events import OpEvent
from flopwise.formulas.norm import AFFINE_PER_ELEMENT, NORMALISE_PER_ELEMENT

__all__ = ["packet", "in_numel", "out_numel", "norm_flags", "BATCH_NORMS", "NORMS",
           "CONVOLUTIONS"]

BATCH_NORMS = frozenset({
    "aten.native_batch_norm", "aten._native_batch_norm_legit",
    "aten._native_batch_norm_legit_no_training", "aten._batch_norm_no_update",
    "aten._batch_norm_with_update", "aten.cudnn_batch_norm", "aten.miopen_batch_norm",
})
NORMS = BATCH_NORMS | {"aten.native_layer_norm", "aten.native_group_norm"}
CONVOLUTIONS = frozenset({
    "aten.convolution", "aten._convolution", "aten.convolution_overrideable",
    "aten.cudnn_convolution", "aten.cudnn_convolution_transpose", "aten.mkldnn_convolution",
})


def packet(event: OpEvent) -> str:
    """``aten.mm.default`` → ``aten.mm``."""
    return event.op.rpartition(".")[0] if event.op.count(".") >= 2 else event.op


def in_numel(event: OpEvent) -> int:
    return math.prod(event.in_shape) if event.in_shape else 0


def out_numel(event: OpEvent) -> int:
    return math.prod(event.out_shape) if event.out_shape else 0


def norm_flags(event: OpEvent) -> tuple[bool, bool]:
    """(batch statistics computed, affine) of a normalisation event, read back from its
    recorded per-element cost (:func:`flopwise.formulas.norm.norm_cost`): normalise 2, + 4 with
    statistics, + 2 affine.

    >>> from flopwise.formulas.spec import Cost
    >>> from flopwise.capture.events import Phase, Status
    >>> bn = OpEvent("aten.native_batch_norm.default", "bn", Phase.FORWARD, Status.COUNTED,
    ...              Cost(elementwise=4 * 24), "float32", None, (1, 2, 3, 4), (1, 2, 3, 4))
    >>> norm_flags(bn)    # 4 per element: normalise + affine, running statistics
    (False, True)
    """
    numel = in_numel(event)
    per = event.cost.elementwise // numel if numel else 0
    affine = (per - NORMALISE_PER_ELEMENT) % 4 == AFFINE_PER_ELEMENT
    stats = per - NORMALISE_PER_ELEMENT - (AFFINE_PER_ELEMENT if affine else 0) > 0
    return stats, affine
