"""thop's counting rules (``thop.profile``, 0.1.1.post2209072238): a table keyed by module type
(``profile.py``'s ``register_hooks``; formulas in ``vision/basic_hooks.py``,
``vision/calc_func.py`` and ``rnn_hooks.py``), computed from each call's input and output sizes.

thop walks the module tree from the root: a module whose type is in its table is counted by its
rule and not entered; any other module is entered, and counts nothing itself. So functional
calls, ``@``, attention matmuls and modules of unlisted types (HF's ``Conv1D``, subclasses such
as ``NonDynamicallyQuantizableLinear``) count 0. Here each module's rule is applied to the
events inside it:

- Conv*d, Linear: 1 per MAC of its convolution/matmul events, bias not counted; a transposed
  convolution as ``output elements · in_channels/groups · kernel`` (thop's formula for both).
- BatchNorm*d, SyncBatchNorm, LayerNorm, InstanceNorm*d: 2 per input element, ×2 when affine.
- PReLU: 1 per input element. Softmax: ``rows · (3·n − 1)`` for rows of ``n``.
- AvgPool*d: 1 per output element; AdaptiveAvgPool*d: ``(Π in/out sizes + 1)`` per output.
- Upsample: per output element 1 (nearest), 5 (linear), 11 (bilinear), 259 (bicubic).
- RNN/GRU/LSTM: the cell formula per step, layer and direction: MACs + per hidden unit
  1 (+2 bias), 7 (+6 bias), 8 (+8 bias).
- ReLU, ReLU6, LeakyReLU, MaxPool, AdaptiveMaxPool, Dropout, ZeroPad2d, PixelShuffle: 0.
"""

from __future__ import annotations

import math

from flopwise.capture.events import OpEvent, Phase
from flopwise.compat._ops import CONVOLUTIONS, NORMS, in_numel, norm_flags, out_numel, packet
from flopwise.formulas.rnn import GATE_FLOPS
from flopwise.tree import ModuleNode, ModuleTree

__all__ = ["ThopRules", "COUNTED_TYPES"]

_CONV = {f"{kind}{d}d" for kind in ("Conv", "ConvTranspose") for d in (1, 2, 3)}
_NORM = {"BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm", "LayerNorm",
         "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d"}
_AVG = {f"AvgPool{d}d" for d in (1, 2, 3)}
_ADAPTIVE_AVG = {f"AdaptiveAvgPool{d}d" for d in (1, 2, 3)}
_UPSAMPLE = {"Upsample", "UpsamplingBilinear2d", "UpsamplingNearest2d"}
_RNN = {"RNN": 1, "GRU": 3, "LSTM": 2}                  # cuDNN/oneDNN mode numbers
_RNN_EXTRA = {"RNN": (1, 2), "GRU": (7, 6), "LSTM": (8, 8)}   # per hidden unit: base, + bias
_ZERO = {"ZeroPad2d", "ReLU", "ReLU6", "LeakyReLU", "MaxPool1d", "MaxPool2d", "MaxPool3d",
         "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d", "Dropout",
         "PixelShuffle"}
# NB: the cells are thop's cell formulas (MACs + a few per hidden unit); they count their MACs
# here (the convention's not_reproduced says so).
_CELLS = {"RNNCell", "GRUCell", "LSTMCell"}
COUNTED_TYPES = frozenset(_CONV | _NORM | _AVG | _ADAPTIVE_AVG | _UPSAMPLE | set(_RNN) | _ZERO
                          | _CELLS | {"Linear", "PReLU", "Softmax"})
_UPSAMPLE_PER_OUTPUT = {"aten.upsample_nearest1d": 1, "aten.upsample_nearest2d": 1,
                        "aten.upsample_nearest3d": 1, "aten.upsample_linear1d": 5,
                        "aten.upsample_bilinear2d": 11, "aten.upsample_bicubic2d": 259}
_RNN_OPS = {"aten.mkldnn_rnn_layer", "aten._cudnn_rnn"}
_MATMULS = {"aten.mm", "aten.addmm", "aten.bmm", "aten.matmul", "aten.linear"}


class ThopRules:
    """thop's count of each event, by the module thop would count it in.

    >>> from flopwise.formulas.spec import Cost
    >>> from flopwise.capture.events import Status
    >>> tree = ModuleTree([ModuleNode("", "Net"), ModuleNode("sm", "Softmax")], [])
    >>> softmax = OpEvent("aten._softmax.default", "sm", Phase.FORWARD, Status.COUNTED,
    ...                   Cost(elementwise=0), "float32", None, (2, 10), (2, 10))
    >>> ThopRules(tree).flops(softmax)     # 2 rows · (3·10 − 1)
    58
    """

    def __init__(self, tree: ModuleTree) -> None:
        self.tree = tree
        self.owner: dict[str, ModuleNode | None] = {}
        self._assign(tree.root, None)

    def _assign(self, node: ModuleNode, owner: ModuleNode | None) -> None:
        """The root counts its own rule and is still entered (thop's ``dfs_count``); below it,
        a listed type owns its whole subtree."""
        counted = node.type in COUNTED_TYPES
        self.owner[node.name] = owner or (node if counted else None)
        below = owner or (node if counted and node.name != "" else None)
        for child in node.children:
            self._assign(self.tree.nodes[child], below)

    def flops(self, event: OpEvent) -> int:
        """thop's count for this event (0 outside a listed module, and for backward ops)."""
        owner = self.owner.get(event.module)
        if owner is None or event.phase is not Phase.FORWARD:
            return 0
        return _rule(owner, event)


def _rule(owner: ModuleNode, event: OpEvent) -> int:
    kind, op = owner.type, packet(event)
    if kind in _ZERO:
        return 0
    if kind in _CELLS or kind == "Linear":
        return event.cost.macs if op in _MATMULS else 0
    if kind in _CONV:
        return _conv(kind, event) if op in CONVOLUTIONS else 0
    if kind in _NORM:
        return 2 * in_numel(event) * (2 if norm_flags(event)[1] else 1) if op in NORMS else 0
    if kind == "PReLU":
        return in_numel(event) if op in {"aten._prelu_kernel", "aten.prelu"} else 0
    if kind == "Softmax":
        return _softmax(event) if op in {"aten._softmax", "aten.softmax"} else 0
    if kind in _AVG:
        return out_numel(event) if op.startswith("aten.avg_pool") else 0
    if kind in _ADAPTIVE_AVG:
        return _adaptive_avg(event) if _is_pool_op(op) else 0
    if kind in _UPSAMPLE:
        return out_numel(event) * _UPSAMPLE_PER_OUTPUT.get(op, 0)
    if kind in _RNN:
        return _rnn(kind, event) if op in _RNN_OPS else 0
    return 0


def _conv(kind: str, event: OpEvent) -> int:
    """thop's ``output elements · C_in/groups · kernel``: the MACs for a convolution; for a
    transposed one the MACs (input elements · C_out/groups · kernel) × output/input spatial."""
    if not kind.startswith("ConvTranspose"):
        return event.cost.macs
    spatial_in, spatial_out = math.prod(event.in_shape[2:]), math.prod(event.out_shape[2:])
    return event.cost.macs * spatial_out // spatial_in


def _softmax(event: OpEvent) -> int:
    """thop's ``batch · (exp n + add n − 1 + div n)`` for rows of ``n`` (NB: n is the last
    dimension; thop reads the module's ``dim``)."""
    n = event.in_shape[-1] if event.in_shape else 0
    return in_numel(event) // n * (3 * n - 1) if n else 0


def _is_pool_op(op: str) -> bool:
    return "adaptive_avg_pool" in op or op == "aten.mean"


def _adaptive_avg(event: OpEvent) -> int:
    """thop's ``int((Π input/output sizes + 1) · output elements)``, in floating point as thop
    computes it."""
    sizes_in, sizes_out = event.in_shape[2:], event.out_shape[2:]
    kernel = math.prod(float(i) / float(o) for i, o in zip(sizes_in, sizes_out, strict=True))
    return int((kernel + 1) * out_numel(event))


def _rnn(kind: str, event: OpEvent) -> int:
    """MACs + (base + bias) per hidden unit per step, layer and direction; the hidden units
    that ran (steps · batch · H per direction) are the event's gate work ÷ its per-unit cost
    (:func:`flopwise.formulas.rnn.rnn_cost`)."""
    units = event.cost.elementwise // GATE_FLOPS[_RNN[kind]]
    base, bias = _RNN_EXTRA[kind]
    return event.cost.macs + units * (base + (bias if event.cost.bias_adds else 0))
