"""Fast Fourier transforms (``torch.fft``: ``_fft_c2c``, ``_fft_r2c``, ``_fft_c2r``).

FFTs are counted by the convention FFTW and most papers use for an FFT's "FLOPs": a complex
transform of N points costs 5·N·log₂N real operations (radix-2 Cooley–Tukey), a real-input or
real-output one half of that, 2.5·N·log₂N. A transform over several dimensions of sizes
n₁…n_k is one of N = ∏nᵢ points (the per-dimension passes add up to the same 5·N·log₂N), and
each batch element has its own. A normalised transform (``norm="ortho"`` or the ``1/n`` side)
adds one multiply per real output value. NB: this is a convention, not the arithmetic of a
particular library; mixed-radix and Bluestein paths for sizes that are not powers of two do
more work. Values are rounded to whole FLOPs.
"""

from __future__ import annotations

import math

from flopwise.formulas._helpers import prod, result_spec
from flopwise.formulas.registry import FormulaTable
from flopwise.formulas.spec import Cost, TensorSpec

__all__ = ["fft_flops", "TABLE"]

_NOTE = "FFTW's 5·N·log₂N convention, not any library's exact arithmetic"


def fft_flops(points: int, batch: int, real: bool) -> int:
    """5·N·log₂N per complex transform of N points (half for real input or output), per batch.

    >>> fft_flops(8, 1, real=False)       # 5 · 8 · 3
    120
    >>> fft_flops(8, 2, real=True)        # 2 · 2.5 · 8 · 3
    120
    """
    if points <= 1:
        return 0
    per = 5.0 * points * math.log2(points) * (0.5 if real else 1.0)
    return round(batch * per)


def _is_complex(spec: TensorSpec) -> bool:
    return spec.dtype.startswith("complex")


def _normalise(result: TensorSpec, normalization: int) -> int:
    """A multiply per real output value when the transform is scaled (normalization ≠ 0)."""
    if normalization == 0:
        return 0
    return result.numel * (2 if _is_complex(result) else 1)


def _transform(real_side: TensorSpec, dim, normalization: int, result, real: bool) -> Cost:
    """The transform over ``dim`` of ``real_side`` (the input, or for c2r the real output)."""
    points = prod(real_side.shape[d] for d in dim)
    return Cost(elementwise=fft_flops(points, real_side.numel // max(points, 1), real=real)
                + _normalise(result_spec(result), normalization))


TABLE = FormulaTable("fft")


@TABLE.formula("aten._fft_c2c", note=_NOTE)
def c2c(result, x: TensorSpec, dim, normalization: int, forward: bool, *_, **__) -> Cost:
    """Complex to complex: 5·N·log₂N per transform."""
    return _transform(x, dim, normalization, result, real=False)


@TABLE.formula("aten._fft_r2c", note=_NOTE)
def r2c(result, x: TensorSpec, dim, normalization: int, onesided: bool, *_, **__) -> Cost:
    """Real to complex: 2.5·N·log₂N per transform of N real points."""
    return _transform(x, dim, normalization, result, real=True)


@TABLE.formula("aten._fft_c2r", note=_NOTE)
def c2r(result, x: TensorSpec, dim, normalization: int, last_dim_size: int,
        *_, **__) -> Cost:
    """Complex to real: 2.5·N·log₂N per transform to N real points (the output's size)."""
    return _transform(result_spec(result), dim, normalization, result, real=True)
