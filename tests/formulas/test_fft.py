"""FFTs: 5·N·log₂N per complex transform of N points, half for real input or output (FFTW's
convention), one multiply per real output value when normalised."""

from __future__ import annotations

import pytest
import torch

from tests.formulas.support import Direct, Run, S, check_direct, check_run, covered

r = torch.randn

RUNS = [
    # rfft of 2 rows of 8 real points: 2 · 2.5 · 8 · log₂8 = 120; its backward is a complex
    # transform of the 8 points per row: 2 · 5 · 8 · 3 = 240
    Run("rfft", lambda x: torch.fft.rfft(x).abs(), lambda: (r(2, 8, requires_grad=True),),
        ("aten._fft_r2c", "aten._fft_c2c"), {"elementwise": 120 + 240}, backward=True),
    # fft2 over 4×8 = 32 points, 3 batches, orthonormal: 3 · 5 · 32 · 5 = 2400, plus a multiply
    # per real output value: 3·4·8 complex = 192 reals
    Run("fft2-ortho", lambda x: torch.fft.fft2(x, norm="ortho"),
        lambda: (r(3, 4, 8, dtype=torch.complex64),), ("aten._fft_c2c",),
        {"elementwise": 2400 + 192}),
    # irfft of 5 complex points to 8 real ones (n=8), 2 rows: 2 · 2.5 · 8 · 3 = 120, scaled by
    # 1/n on this ("backward") side: + 16 multiplies
    Run("irfft", lambda x: torch.fft.irfft(x, n=8), lambda: (r(2, 5, dtype=torch.complex64),),
        ("aten._fft_c2r",), {"elementwise": 120 + 16}),
]

DIRECT = [
    # one point is no transform; 16 points unnormalised: 5 · 16 · 4 = 320
    Direct("c2c-trivial", ("aten._fft_c2c",), S(4, 1, dtype="complex64", itemsize=8),
           (S(4, 1, dtype="complex64", itemsize=8), [1], 0, True), {"elementwise": 0}),
    Direct("c2c-16", ("aten._fft_c2c",), S(16, dtype="complex64", itemsize=8),
           (S(16, dtype="complex64", itemsize=8), [0], 0, True), {"elementwise": 320}),
]

COVERS = covered(RUNS, DIRECT)


@pytest.mark.parametrize("case", RUNS, ids=lambda c: c.id)
def test_run(case):
    check_run(case)


@pytest.mark.parametrize("case", DIRECT, ids=lambda c: c.id)
def test_direct(case):
    check_direct(case)
