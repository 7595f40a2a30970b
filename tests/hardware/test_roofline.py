"""The roofline model, with every expectation derived by hand from the case's dimensions."""

from __future__ import annotations

import math

import pytest

from flopwise.errors import UsageError
from flopwise.hardware import Bound, get_accelerator, ridge_point, roofline_on, roofline_time

H100_BF16 = 989.4e12   # FLOP/s, dense, H100 SXM datasheet
H100_FP32 = 67e12      # FLOP/s
H100_BW = 3.35e12      # bytes/s

N = 4096


def test_4096_cube_bf16_matmul_on_h100_is_compute_bound() -> None:
    flops = 2 * N**3                   # 137,438,953,472: a MAC is 2 FLOPs
    bytes_moved = 3 * N * N * 2        # A and B read, C written, 2 bytes each: 100,663,296
    t = roofline_on(get_accelerator("h100-sxm"), flops, bytes_moved, "bfloat16")
    assert t.bound is Bound.COMPUTE
    assert t.bound == "compute"
    assert t.time_s == 2 * 4096**3 / 989.4e12          # ≈ 138.9 µs
    assert t.compute_s == t.time_s
    assert t.memory_s == 100_663_296 / 3.35e12          # ≈ 30.0 µs
    assert t.intensity_flops_per_byte == pytest.approx(4096 / 3)  # 2N³ / 6N² = N/3 ≈ 1365.3
    assert 138.9e-6 < t.time_s < 139.0e-6


def test_large_elementwise_add_on_h100_is_memory_bound() -> None:
    n = 2**28                          # fp32 elements per operand
    flops = n                          # one add per element
    bytes_moved = 2 * 4 * n + 4 * n    # read a and b, write c: 3,221,225,472 bytes
    t = roofline_time(flops, bytes_moved, H100_FP32, H100_BW)
    assert t.bound is Bound.MEMORY
    assert t.time_s == 3_221_225_472 / 3.35e12          # ≈ 0.9616 ms
    assert t.compute_s == 2**28 / 67e12                 # ≈ 4.0 µs
    assert t.intensity_flops_per_byte == 1 / 12
    assert 0.9615e-3 < t.time_s < 0.9617e-3


def test_same_add_through_the_accelerator_helper() -> None:
    n = 2**28
    t = roofline_on(get_accelerator("h100-sxm"), n, 12 * n, "float32")
    assert t.time_s == 12 * 2**28 / 3.35e12


def test_efficiency_factors_scale_each_side() -> None:
    flops, bytes_moved = 2 * N**3, 3 * N * N * 2
    t = roofline_time(flops, bytes_moved, H100_BF16, H100_BW, compute_efficiency=0.8)
    assert t.compute_s == 2 * 4096**3 / (989.4e12 * 0.8)   # ≈ 173.6 µs
    t = roofline_time(flops, bytes_moved, H100_BF16, H100_BW, memory_efficiency=0.5)
    assert t.memory_s == 100_663_296 / (3.35e12 * 0.5)
    assert t.bound is Bound.COMPUTE


def test_efficiency_can_flip_the_bound() -> None:
    # intensity 200 FLOP/byte is below the bf16 ridge (295.3) ...
    ideal = roofline_time(200 * 10**9, 10**9, H100_BF16, H100_BW)
    assert ideal.bound is Bound.MEMORY
    # ... but at 50% compute efficiency the effective ridge is 147.7, so compute limits
    half = roofline_time(200 * 10**9, 10**9, H100_BF16, H100_BW, compute_efficiency=0.5)
    assert half.bound is Bound.COMPUTE
    assert half.time_s == 200e9 / (989.4e12 * 0.5)


def test_ridge_point_h100_bf16() -> None:
    assert ridge_point(H100_BF16, H100_BW) == 989.4e12 / 3.35e12   # ≈ 295.34 FLOP/byte
    assert 295.3 < ridge_point(H100_BF16, H100_BW) < 295.4


def test_bound_agrees_with_the_ridge_point() -> None:
    ridge = 989.4e12 / 3.35e12
    for intensity in (1.0, 100.0, 290.0, 300.0, 1000.0):
        t = roofline_time(intensity * 1e9, 10**9, H100_BF16, H100_BW)
        assert (t.bound is Bound.COMPUTE) == (intensity > ridge), intensity


def test_degenerate_work() -> None:
    nothing = roofline_time(0, 0, H100_BF16, H100_BW)
    assert nothing.time_s == 0.0 and nothing.intensity_flops_per_byte == 0.0
    no_bytes = roofline_time(10**6, 0, H100_BF16, H100_BW)
    assert no_bytes.bound is Bound.COMPUTE and math.isinf(no_bytes.intensity_flops_per_byte)
    no_flops = roofline_time(0, 10**6, H100_BF16, H100_BW)
    assert no_flops.bound is Bound.MEMORY and no_flops.time_s == 1e6 / 3.35e12


@pytest.mark.parametrize(
    ("kwargs", "complaint"),
    [
        ({"flops": -1}, "must be >= 0"),
        ({"bytes_moved": -1}, "must be >= 0"),
        ({"peak_flops_per_s": 0.0}, "peak_flops_per_s must be a positive"),
        ({"bandwidth_bytes_per_s": math.inf}, "bandwidth_bytes_per_s must be a positive"),
        ({"compute_efficiency": 0.0}, r"compute_efficiency must be a fraction in \(0, 1\]"),
        ({"memory_efficiency": 1.5}, r"memory_efficiency must be a fraction in \(0, 1\]"),
    ],
    ids=["neg-flops", "neg-bytes", "zero-peak", "inf-bandwidth", "zero-eff", "eff-over-1"],
)
def test_invalid_arguments(kwargs: dict[str, float], complaint: str) -> None:
    arguments: dict[str, float] = {
        "flops": 1, "bytes_moved": 1, "peak_flops_per_s": H100_BF16, "bandwidth_bytes_per_s": H100_BW,
    }
    arguments.update(kwargs)
    with pytest.raises(UsageError, match=complaint):
        roofline_time(**arguments)  # type: ignore[arg-type]


def test_roofline_on_undefined_dtype_raises() -> None:
    with pytest.raises(UsageError, match="tpu-v5e has no fp32 peak"):
        roofline_on(get_accelerator("tpu-v5e"), 10, 10, "float32")


def test_result_is_frozen() -> None:
    t = roofline_time(1, 1, H100_BF16, H100_BW)
    with pytest.raises(AttributeError):
        t.time_s = 0.0  # type: ignore[misc]
