"""decode_crossover_batch: where a decode step turns compute-bound (no torch)."""

from __future__ import annotations

import pytest

from flopwise.errors import UsageError
from flopwise.llm.timing import decode_crossover_batch, roofline

PEAK, BW = 989.4e12, 3.35e12          # H100 SXM, bf16


@pytest.mark.parametrize(("flops", "weights", "kv"), [
    (13.5e9, 13_476_831_232, 0),                # Llama-2-7B, weights alone: ⌈ridge · W / F⌉
    (13.5e9, 13_476_831_232, 10**6),
    (2e9, 2 * 10**9, 5 * 10**5),
], ids=["weights-only", "small-kv", "kv"])
def test_crossover_is_the_first_compute_bound_batch(flops: float, weights: int, kv: int) -> None:
    batch = decode_crossover_batch(flops, weights, kv, PEAK, BW)
    assert batch is not None
    assert batch == -(-weights * PEAK // (flops * BW - kv * PEAK))    # ⌈W·P / (F·B − K·P)⌉
    assert roofline(int(batch * flops), weights + batch * kv, PEAK, BW).bound == "compute"
    assert roofline(int((batch - 1) * flops), weights + (batch - 1) * kv, PEAK, BW).bound == "memory"


def test_a_large_kv_cache_keeps_decode_memory_bound() -> None:
    # Llama-2-7B at 2,048 tokens of context: 1 GiB of KV per sequence for ~13.5 GFLOPs,
    # 12.6 FLOP/B against a ridge of 295: no batch is compute-bound
    assert decode_crossover_batch(13.5e9, 13_476_831_232, 2**30, PEAK, BW) is None


def test_rates_must_be_positive() -> None:
    with pytest.raises(UsageError):
        decode_crossover_batch(0, 1, 0, PEAK, BW)
