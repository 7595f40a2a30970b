"""Conventions: how raw counts become "FLOPs".

"FLOPs" is not well defined: tools differ on whether a multiply-accumulate is one FLOP or two,
whether bias adds and the k−1 additions of a k-term dot product count, and whether elementwise
work counts at all. flopwise records raw quantities once per op (:class:`~flopwise.formulas.spec.Cost`)
and applies a named convention when reporting, so switching convention never re-runs the model.

>>> from flopwise.formulas.spec import Cost
>>> linear = Cost(macs=12, dot_outputs=3, bias_adds=3)   # Linear(4, 3), one row, with bias
>>> [CONVENTIONS[name].flops(linear) for name in ("standard", "matmul", "macs", "exact")]
[24, 24, 12, 24]
>>> CONVENTIONS["exact"].flops(Cost(macs=12, dot_outputs=3))   # no bias: (2·4 − 1)·3
21

Two more conventions reproduce other tools' totals: ``fvcore`` (per aten op, as fvcore's
``FlopCountAnalysis``) and ``thop`` (per module type, as ``thop.profile``). They need the op
and the module of each event, not only its cost, so a :class:`~flopwise.Report` applies them
to its events (:mod:`flopwise.compat`); ``tool`` names the version whose rules they follow.

>>> CONVENTIONS["fvcore"].tool
'fvcore 0.1.5.post20221221'
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from flopwise.errors import UsageError
from flopwise.formulas.spec import Cost

__all__ = ["Convention", "CONVENTIONS", "get_convention", "DEFAULT_CONVENTION"]


@dataclass(frozen=True)
class Convention:
    """A named rule from raw quantities to FLOPs."""

    name: str
    summary: str
    matches: str
    flops_per_mac: int          # contractions: FLOPs per multiply-accumulate (0 = not counted)
    exact_adds: bool = False    # contractions counted as k multiplies + (k − 1) adds (+1 with bias)
    elementwise: bool = True    # count pointwise/normalisation/softmax/pooling work
    tool: str = ""              # "fvcore 0.1.5…": counted per event by that tool's rules
    not_reproduced: tuple[str, ...] = ()   # where a tool convention may differ from the tool

    @property
    def per_event(self) -> bool:
        """Whether FLOPs depend on each event's op and module (the tool conventions), so
        that a report applies :func:`flopwise.compat.tool_flops` instead of :meth:`flops`."""
        return bool(self.tool)

    def flops(self, cost: Cost) -> int:
        """FLOPs of ``cost`` under this convention (an int). A tool convention, seen without
        its events, counts the MACs of contractions (its events refine this in a report)."""
        if self.exact_adds:
            contraction = 2 * cost.macs - cost.dot_outputs + cost.bias_adds
        else:
            contraction = self.flops_per_mac * cost.macs
        return contraction + (cost.elementwise if self.elementwise else 0)

    def manifest(self) -> dict[str, object]:
        """What this convention counts, for reports and JSON."""
        return {
            "name": self.name,
            "summary": self.summary,
            "matches": self.matches,
            "flops_per_mac": self.flops_per_mac,
            "exact_adds": self.exact_adds,
            "elementwise": self.elementwise,
            **({"tool": self.tool, "not_reproduced": list(self.not_reproduced)}
               if self.tool else {}),
        }


CONVENTIONS: dict[str, Convention] = {
    c.name: c
    for c in (
        Convention(
            "standard",
            "2 FLOPs per MAC of contractions (bias folded into the pair) + elementwise work at "
            "documented per-element costs",
            "every floating-point operation; DeepSpeed-style totals",
            flops_per_mac=2,
        ),
        Convention(
            "matmul",
            "2 FLOPs per MAC of contractions (matmul, conv, attention, RNN gates); nothing else",
            "MFU and LLM literature; torch.utils.flop_counter",
            flops_per_mac=2,
            elementwise=False,
        ),
        Convention(
            "macs",
            "MACs of contractions (1 multiply-add = 1); FLOPs reported equal the MACs",
            "torchvision's published GFLOPS, fvcore, thop; the textbook multiplies-only case",
            flops_per_mac=1,
            elementwise=False,
        ),
        Convention(
            "exact",
            "contractions as k multiplies + (k−1) adds per k-term dot product (2k with a bias "
            "add); elementwise work as in standard",
            "the textbook cases 1 (with bias) and 2 (without)",
            flops_per_mac=2,
            exact_adds=True,
        ),
        Convention(
            "fvcore",
            "fvcore's FlopCountAnalysis: 1 per MAC of convolutions and mm/addmm/bmm/linear/"
            "matmul/einsum; per element: batch norm 1 (+1 affine; training 4 +1), layer/group/"
            "instance norm 4 (+1 affine), adaptive average pooling 1 per input, nearest "
            "upsampling 1 and bilinear 4 per output, grid sampling 4 per output; every other op "
            "(attention kernels, baddbmm, RNNs, activations, adds) 0; forward pass only",
            "fvcore.nn.FlopCountAnalysis(model, inputs).total(): detectron2, timm, most vision "
            "papers",
            flops_per_mac=1,
            elementwise=False,
            tool="fvcore 0.1.5.post20221221",
            not_reproduced=(
                "adaptive average pooling to 1×1 is recognised inside nn.AdaptiveAvgPool2d "
                "only: a functional F.adaptive_avg_pool2d(x, 1) runs as a mean, which fvcore "
                "counts (1 per input element) and this convention does not",
                "ops fvcore cannot trace (data-dependent control flow, dict outputs) fail in "
                "fvcore and are counted here",
                "ONNX reports record no per-op shapes: their norms, pools and upsampling "
                "count 0",
            ),
        ),
        Convention(
            "thop",
            "thop.profile: per module of a listed type, from its input and output sizes "
            "(Conv and Linear 1 per MAC, bias not counted; norms 2 per element, ×2 affine; "
            "Softmax 3·n−1 per row; AvgPool 1 per output; AdaptiveAvgPool (window + 1) per "
            "output; Upsample 1/5/11/259 per output; RNN/GRU/LSTM its cell formula); modules of "
            "other types (functional calls, attention matmuls, subclasses such as "
            "NonDynamicallyQuantizableLinear) 0; forward pass only",
            "thop.profile(model, inputs): most non-vision papers",
            flops_per_mac=1,
            elementwise=False,
            tool="thop 0.1.1.post2209072238",
            not_reproduced=(
                "module types are matched by class name (thop matches the class itself)",
                "nn.Softmax's dimension is taken as the last one",
                "a packed sequence's RNN steps are counted as the real steps, where thop takes "
                "the longest batch × the number of steps",
                "RNNCell/GRUCell/LSTMCell are counted as their MACs only",
                "ONNX reports have no PyTorch module types for these rules to match",
            ),
        ),
    )
}

DEFAULT_CONVENTION = "standard"


def get_convention(name: str | Convention) -> Convention:
    """The convention called ``name``; unknown names raise :class:`UsageError` with suggestions."""
    if isinstance(name, Convention):
        return name
    convention = CONVENTIONS.get(str(name).lower())
    if convention is None:
        close = difflib.get_close_matches(str(name).lower(), CONVENTIONS, n=2)
        hint = f"did you mean {' or '.join(close)}? " if close else ""
        raise UsageError(
            f"unknown convention {name!r}; {hint}choose one of: {', '.join(CONVENTIONS)}"
        )
    return convention
