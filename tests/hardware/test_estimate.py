"""Roofline estimates of whole reports, derived by hand (H100 SXM: 989.4e12 bf16 FLOP/s dense,
67e12 fp32 FLOP/s, 3.35e12 bytes/s)."""

from __future__ import annotations

import json

import pytest
import torch

import flopwise
from flopwise.hardware import get_accelerator
from flopwise.hardware.estimate import estimate_roofline, throughput_of

H100 = get_accelerator("h100-sxm")
BF16_PEAK, FP32_PEAK, BANDWIDTH = 989.4e12, 67e12, 3.35e12


def test_large_bf16_matmul_is_compute_bound_at_the_peak() -> None:
    n = 4096
    a = torch.empty(n, n, dtype=torch.bfloat16, device="meta")
    report = flopwise.profile(torch.matmul, (a, a))
    estimate = estimate_roofline(report, H100)
    # F = 2n³ FLOPs; B = 3n² elements · 2 bytes; intensity n/3 ≈ 1365 > ridge 295.3
    assert estimate.flops == 2 * n**3
    assert estimate.bytes_moved == 3 * n * n * 2
    assert estimate.time_s == 2 * n**3 / BF16_PEAK
    assert estimate.bound.value == "compute"
    assert estimate.intensity_flops_per_byte == pytest.approx(n / 3)
    assert estimate.ops[0].op == "aten.mm.default"


def test_large_elementwise_add_is_memory_bound_at_the_bandwidth() -> None:
    n = 2**28
    x = torch.empty(n, device="meta")                        # float32
    report = flopwise.profile(torch.add, (x, x))
    estimate = estimate_roofline(report, H100)
    # F = n (one add per element); B = 2·4n read + 4n written = 12n bytes; compute side n / 67e12
    assert estimate.flops == n and estimate.bytes_moved == 12 * n
    assert estimate.time_s == 12 * n / BANDWIDTH
    assert estimate.bound.value == "memory"
    half = estimate_roofline(report, H100, memory_efficiency=0.5)
    assert half.time_s == 12 * n / (BANDWIDTH * 0.5)


def bf16_mlp() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Linear(1024, 4096), torch.nn.GELU(),
                               torch.nn.Linear(4096, 1024)).to("meta", torch.bfloat16)


def test_modules_sum_to_the_total_and_self_to_inclusive() -> None:
    x = torch.empty(64, 1024, dtype=torch.bfloat16, device="meta")
    report = flopwise.profile(bf16_mlp(), x)
    estimate = estimate_roofline(report, H100)
    root = estimate.module("")
    assert root.time_s == pytest.approx(sum(estimate.module(n).time_s for n in ("0", "1", "2"))
                                        + root.self_time_s)
    assert root.time_s == estimate.time_s
    assert sum(e.share(e.module(n).time_s) for e in [estimate] for n in ("0", "1", "2")) == \
        pytest.approx(100.0)
    # Linear(1024, 4096) at 64 rows: addmm F = 2·64·1024·4096; reads x, W, b, writes out (2 B)
    first = estimate.module("0")
    flops = 2 * 64 * 1024 * 4096
    moved = 2 * (64 * 1024 + 4096 * 1024 + 4096 + 64 * 4096)
    assert (first.flops, first.bytes_moved) == (flops, moved)
    assert first.time_s == pytest.approx(max(flops / BF16_PEAK, moved / BANDWIDTH))
    assert first.bound.value == "memory"      # intensity 2·64·4096·1024 / moved ≈ 61 < 295
    assert estimate.module("1").bound.value == "memory"        # GELU: elementwise


def test_standard_flops_are_used_whatever_the_display_convention() -> None:
    x = torch.empty(64, 1024, dtype=torch.bfloat16, device="meta")
    report = flopwise.profile(bf16_mlp(), x)
    assert estimate_roofline(report.using("macs"), H100) == estimate_roofline(report, H100)


def test_throughput_in_samples_and_tokens() -> None:
    x = torch.empty(64, 1024, dtype=torch.bfloat16, device="meta")
    estimate = estimate_roofline(flopwise.profile(bf16_mlp(), x), H100)
    assert estimate.samples == 64
    assert estimate.samples_per_s == 64 / estimate.time_s and estimate.tokens is None
    embedding = torch.nn.Embedding(1000, 64, device="meta")
    ids = torch.zeros(4, 128, dtype=torch.int64, device="meta")
    tokens = estimate_roofline(flopwise.profile(embedding, ids), H100)
    assert (tokens.samples, tokens.tokens) == (4, 512)
    assert tokens.tokens_per_s == 512 / tokens.time_s
    assert throughput_of([], []) == (None, None)


def test_dtype_without_a_peak_is_timed_by_bytes_and_listed() -> None:
    x = torch.empty(1000, dtype=torch.float64, device="meta")
    report = flopwise.profile(torch.mul, (x, x))
    estimate = estimate_roofline(report, get_accelerator("tpu-v4"))     # no fp64 on a TPU
    assert estimate.untimed_flops == {"float64": 1000}
    assert estimate.time_s == 3 * 8 * 1000 / get_accelerator("tpu-v4").bandwidth_bytes_per_s


def test_backward_phases_are_timed_too() -> None:
    layer = torch.nn.Linear(256, 256, device="meta")
    report = flopwise.profile(layer, torch.empty(8, 256, device="meta"), backward=True)
    estimate = estimate_roofline(report, H100)
    assert set(estimate.phase_time_s) == {"forward", "backward"}
    assert sum(estimate.phase_time_s.values()) == pytest.approx(estimate.time_s)


def test_json_is_strict_json_with_latency_and_device() -> None:
    report = flopwise.profile(torch.nn.Linear(4, 4), torch.randn(2, 4)).with_roofline(H100)
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))["roofline"]
    assert data["convention"] == "standard"
    assert data["time_s"] == report.roofline.time_s
    assert data["hardware"] == {"id": "h100-sxm", "name": H100.name, "dtype": "float32",
                                "peak_flops_per_s": FP32_PEAK, "bandwidth_bytes_per_s": BANDWIDTH}
    assert [m["name"] for m in data["modules"]] == [""]
    nothing = flopwise.profile(torch.nn.Flatten(), torch.zeros(2, 3, dtype=torch.int64))
    empty = estimate_roofline(nothing, get_accelerator("tpu-v4")).to_dict()
    assert empty["hardware"]["peak_flops_per_s"] is None and empty["intensity_flops_per_byte"] is None
