"""fvcore's counting rules (``fvcore.nn.FlopCountAnalysis``, 0.1.5.post20221221): its handles
(``jit_handles.py``) for the ops in ``_DEFAULT_SUPPORTED_OPS`` (``flop_count.py``), every other
op uncounted.

fvcore traces the model with ``torch.jit.trace`` and sees ops above autograd (``aten::linear``,
``aten::matmul``, ``aten::batch_norm``, ``aten::adaptive_avg_pool2d``); flopwise sees them
below, where those composite ops have become ``mm``/``addmm``/``bmm``, the native norms and, for
a 1×1 adaptive pool, a ``mean``. The rules below read each of those back:

- contractions fvcore handles (convolution, ``addmm``, ``mm``, ``bmm``, ``linear``,
  ``matmul``, ``einsum``): 1 per MAC, bias not counted. Ops it has no handle for count 0:
  ``aten::scaled_dot_product_attention``, ``baddbmm``, RNN kernels.
- batch norm: per input element 1 (+1 affine) with running statistics, 4 (+1 affine) when
  training; layer and group norm 4 (+1 affine); instance norm (a batch norm with batch
  statistics below autograd) 4 (+1 affine).
- adaptive average pooling (2-D): 1 per input element; upsampling nearest 1 and bilinear 4 per
  output element; grid sampling 4 per output element.
"""

from __future__ import annotations

from flopwise.capture.events import OpEvent, Phase
from flopwise.compat._ops import CONVOLUTIONS, NORMS, in_numel, norm_flags, out_numel, packet
from flopwise.tree import ModuleTree

__all__ = ["fvcore_flops", "CONTRACTIONS"]

CONTRACTIONS = CONVOLUTIONS | {"aten.mm", "aten.addmm", "aten.bmm", "aten.matmul",
                               "aten.linear", "aten.einsum"}
_PER_OUTPUT = {"aten.upsample_nearest2d": 1, "aten.upsample_bilinear2d": 4,
               "aten.grid_sampler_2d": 4, "aten.grid_sampler": 4}
_ADAPTIVE_AVG = frozenset({"aten._adaptive_avg_pool2d", "aten.adaptive_avg_pool2d"})


def fvcore_flops(event: OpEvent, tree: ModuleTree) -> int:
    """What fvcore counts for this op call (0 for backward and optimizer ops).

    >>> from flopwise.formulas.spec import Cost
    >>> from flopwise.capture.events import Status
    >>> from flopwise.tree import ModuleNode
    >>> tree = ModuleTree([ModuleNode("", "Net"), ModuleNode("pool", "AdaptiveAvgPool2d")], [])
    >>> mean = OpEvent("aten.mean.dim", "pool", Phase.FORWARD, Status.COUNTED,
    ...                Cost(elementwise=98), "float32", None, (2, 1, 7, 7), (2, 1, 1, 1))
    >>> fvcore_flops(mean, tree)     # 1 per input element: 2·1·7·7
    98
    """
    if event.phase is not Phase.FORWARD:
        return 0
    op = packet(event)
    if op in CONTRACTIONS:
        return event.cost.macs
    if op in NORMS:
        stats, affine = norm_flags(event)
        if op.startswith("aten.native_layer") or op.startswith("aten.native_group") or stats:
            return in_numel(event) * (5 if affine else 4)
        return in_numel(event) * (2 if affine else 1)
    if op in _PER_OUTPUT:
        return out_numel(event) * _PER_OUTPUT[op]
    if op in _ADAPTIVE_AVG or (op == "aten.mean" and _in_adaptive_pool(event, tree)):
        return in_numel(event)
    return 0


def _in_adaptive_pool(event: OpEvent, tree: ModuleTree) -> bool:
    """A 1×1 adaptive average pool runs as ``mean``: recognised by its module's type (NB: a
    functional ``F.adaptive_avg_pool2d(x, 1)`` elsewhere is not, see the convention's
    ``not_reproduced``)."""
    node = tree.nodes.get(event.module)
    return node is not None and node.type == "AdaptiveAvgPool2d"
