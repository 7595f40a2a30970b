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

    def flops(self, cost: Cost) -> int:
        """FLOPs of ``cost`` under this convention (an int)."""
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
