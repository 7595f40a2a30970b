"""Interpolation (``F.interpolate`` / ``nn.Upsample``): nearest, (bi/tri)linear, bicubic.

Per output element, with weights precomputed per row and column: nearest copies (0 FLOPs);
linear blends 2 taps (2 multiplies + 1 add = 3); bilinear 4 taps (4 + 3 = 7); trilinear 8 taps
(8 + 7 = 15); bicubic 16 taps (16 + 15 = 31). NB: the anti-aliased variants use wider windows;
they are counted as their plain counterparts. Backward scatters the same weighted taps: the same
cost per output-gradient element.
"""

from __future__ import annotations

from flopwise.formulas._helpers import result_spec
from flopwise.formulas.registry import Formula, FormulaTable
from flopwise.formulas.spec import Cost, TensorSpec

__all__ = ["PER_OUTPUT", "TABLE", "forward", "backward"]

PER_OUTPUT: dict[str, int] = {
    "upsample_nearest1d": 0, "upsample_nearest2d": 0, "upsample_nearest3d": 0,
    "_upsample_nearest_exact1d": 0, "_upsample_nearest_exact2d": 0, "_upsample_nearest_exact3d": 0,
    "upsample_linear1d": 3, "upsample_bilinear2d": 7, "_upsample_bilinear2d_aa": 7,
    "upsample_trilinear3d": 15, "upsample_bicubic2d": 31, "_upsample_bicubic2d_aa": 31,
}


def forward(name: str) -> Formula:
    """The formula of interpolation ``name``: its FLOPs per output element.

    >>> forward("upsample_bilinear2d")(TensorSpec((1, 1, 4, 4)), TensorSpec((1, 1, 2, 2))).elementwise
    112
    """
    per = PER_OUTPUT[name]

    def formula(result, x: TensorSpec, *_, **__) -> Cost:
        return Cost(elementwise=per * result_spec(result).numel)

    formula.__doc__ = f"{per} FLOPs per output element."
    return formula


def backward(name: str) -> Formula:
    """The formula of ``name``'s backward: the same FLOPs per output-gradient element."""
    per = PER_OUTPUT[name]

    def formula(result, grad_out: TensorSpec, *_, **__) -> Cost:
        return Cost(elementwise=per * grad_out.numel)

    formula.__doc__ = f"{per} FLOPs per output-gradient element."
    return formula


TABLE = FormulaTable("interpolation")
for _name in PER_OUTPUT:
    TABLE.formula(f"aten.{_name}")(forward(_name))
    TABLE.formula(f"aten.{_name}_backward")(backward(_name))
