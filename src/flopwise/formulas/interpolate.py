"""Interpolation (``F.interpolate`` / ``nn.Upsample``): nearest, (bi/tri)linear, bicubic.

Per output element, with weights precomputed per row and column: nearest copies (0 FLOPs);
linear blends 2 taps (2 multiplies + 1 add = 3); bilinear 4 taps (4 + 3 = 7); trilinear 8 taps
(8 + 7 = 15); bicubic 16 taps (16 + 15 = 31). NB: the anti-aliased variants use wider windows;
they are counted as their plain counterparts. Backward scatters the same weighted taps: the same
cost per output-gradient element.
"""

from __future__ import annotations

from flopwise.formulas._helpers import result_spec
from flopwise.formulas.registry import FormulaRegistry
from flopwise.formulas.spec import Cost, TensorSpec

__all__ = ["PER_OUTPUT", "register"]

PER_OUTPUT: dict[str, int] = {
    "upsample_nearest1d": 0, "upsample_nearest2d": 0, "upsample_nearest3d": 0,
    "_upsample_nearest_exact1d": 0, "_upsample_nearest_exact2d": 0, "_upsample_nearest_exact3d": 0,
    "upsample_linear1d": 3, "upsample_bilinear2d": 7, "_upsample_bilinear2d_aa": 7,
    "upsample_trilinear3d": 15, "upsample_bicubic2d": 31, "_upsample_bicubic2d_aa": 31,
}


def register(registry: FormulaRegistry) -> None:
    for name, per in PER_OUTPUT.items():
        def forward(result, x: TensorSpec, *_, _per=per, **__) -> Cost:
            return Cost(elementwise=_per * result_spec(result).numel)

        def backward(result, grad_out: TensorSpec, *_, _per=per, **__) -> Cost:
            return Cost(elementwise=_per * grad_out.numel)

        forward.__doc__ = f"{per} FLOPs per output element."
        backward.__doc__ = f"{per} FLOPs per output-gradient element."
        registry.register(f"aten.{name}", family="interpolation")(forward)
        registry.register(f"aten.{name}_backward", family="interpolation")(backward)
