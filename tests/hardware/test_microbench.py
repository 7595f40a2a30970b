"""The calibration microbenchmarks on this CPU with the token grid (a few seconds)."""

from __future__ import annotations

import json

import torch

from flopwise.hardware.calibration import COMPUTE_CLASSES, MEMORY_KINDS, CalibrationTable
from flopwise.hardware.microbench import (
    MicroSettings,
    case_count,
    cold_operands,
    micro_settings_for,
    run_microbenchmarks,
)

TOKEN = MicroSettings(repeats=1, sample_s=1e-4, scale=0)


def test_token_grid_measures_every_class_kind_and_fixed_cost() -> None:
    notes: list[str] = []
    table = run_microbenchmarks("cpu", TOKEN, notes.append)
    assert sorted(table.compute) == sorted(COMPUTE_CLASSES)
    assert sorted(table.memory) == sorted(MEMORY_KINDS)
    assert len(notes) == case_count(TOKEN)
    assert table.threads == torch.get_num_threads()
    for points in (*table.compute.values(), *table.memory.values()):
        assert points and all(p.median_s > 0 for p in points)
    assert set(table.overhead_s) >= {"op", "view", "module", *COMPUTE_CLASSES, "norm", "copy"}
    # the first dense case is ResNet's stem: 3 -> 64 channels, 7x7, stride 2, 224² -> 112²
    stem = table.compute["conv_dense"][0]
    assert stem.flops == 2 * 64 * 112 * 112 * 3 * 7 * 7                 # 236,027,904
    assert stem.bytes_moved == 4 * (3 * 224 * 224 + 64 * 3 * 7 * 7 + 64 * 112 * 112)
    # the elementwise kernel is an out-of-place add: 12 bytes per fp32 element
    assert [p.bytes_moved for p in table.memory["elementwise"]] == [12 * 2**8, 12 * 2**12]
    # the Python cost of the common layers beyond their functional calls, never negative
    assert set(table.layer_s) >= {"Conv2d", "BatchNorm2d", "Linear", "LayerNorm", "ReLU", "GELU",
                                  "Dropout", "Identity", "Flatten", "MaxPool2d"}
    assert all(seconds >= 0 for seconds in table.layer_s.values())
    # the token grid's fresh buffers: 1 and 2 MiB
    assert [p.bytes_moved for p in table.fresh_pages] == [2**20, 2**21]
    assert all(p.median_s >= 0 for p in table.fresh_pages)
    assert CalibrationTable.from_dict(json.loads(json.dumps(table.to_dict()))) == table


def test_cpu_time_clock_and_the_presets() -> None:
    table = run_microbenchmarks("cpu", MicroSettings(1, 1e-4, 0, cpu_time=True))
    assert table.overhead_s["op"] > 0
    quick, full = micro_settings_for("quick"), micro_settings_for("full")
    assert quick.scale == 1 and full.scale == 2 and full.repeats > quick.repeats
    assert case_count(full) > case_count(quick) > case_count(TOKEN)


def test_cold_operands_rotate_through_disjoint_aligned_copies_of_the_pool() -> None:
    pool = torch.arange(1000.0)
    # a 3x5 input (15 elements, padded to 16) and a 7-element weight (padded to 16): 32 per
    # copy, 1000 // 32 = 31 copies
    rotation = cold_operands(pool, (3, 5), (7,))
    seen = [next(rotation) for _ in range(32)]
    starts = [x.data_ptr() - pool.data_ptr() for x, _ in seen]
    assert starts[:3] == [0, 4 * 32, 4 * 64] and starts[31] == starts[0]   # 31 copies, then again
    assert all(x.shape == (3, 5) and w.shape == (7,) for x, w in seen)
    assert all(w.data_ptr() - x.data_ptr() == 4 * 16 for x, w in seen)     # 64-byte aligned
    assert len({x.data_ptr() for x, _ in seen}) == 31                     # disjoint copies
    # an operand set larger than half the pool gets one copy of its own, outside the pool
    big = cold_operands(torch.zeros(100), (80,))
    (first,), (second,) = next(big), next(big)
    assert first.data_ptr() == second.data_ptr() and first.shape == (80,)
