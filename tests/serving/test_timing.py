"""Serving times on the roofline, derived by hand (no torch)."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest

from flopwise.errors import UsageError
from flopwise.hardware import get_accelerator
from flopwise.serving import DecodePiece, PhaseCost, Polynomial, ServingSection, serving_times

H100_BF16, H100_BW = 989.4e12, 3.35e12
W = 10**9                                  # weights bytes
PREFILL_FLOPS, PREFILL_KV = 4 * 10**12, 10**6


def _section(batch: int = 1) -> ServingSection:
    # decode at context c: (2e9 + 1e5·c) FLOPs and 1e4·c KV bytes per sequence, c = 101..103
    piece = DecodePiece(101, 103, Polynomial((Fraction(2 * 10**9 * batch), Fraction(10**5 * batch))),
                        Polynomial((Fraction(10**9 * batch), Fraction(5 * 10**4 * batch))),
                        Polynomial((Fraction(0), Fraction(10**4 * batch))), (101, 102, 103), ())
    return ServingSection("m", "dynamic", "matmul", batch, 100, 4, "bfloat16", W, 10**4 * batch,
                          PhaseCost(PREFILL_FLOPS * batch, 0, W, PREFILL_KV * batch), (piece,))


def _tpot(batch: int, context: int) -> float:
    flops = batch * (2 * 10**9 + 10**5 * context)
    read = W + batch * 10**4 * context
    return max(flops / H100_BF16, read / H100_BW)


@pytest.mark.parametrize("traced", [1, 2], ids=["traced-1", "traced-2"])
def test_times_by_hand(traced: int) -> None:
    hardware = serving_times(_section(traced), get_accelerator("h100-sxm"), (1, 64)).hardware
    one, many = hardware.times
    assert one.ttft_s == pytest.approx(PREFILL_FLOPS / H100_BF16)             # compute-bound
    assert one.prefill_bound == "compute"
    assert one.tpot_first_s == pytest.approx(_tpot(1, 101))
    assert one.tpot_last_s == pytest.approx(_tpot(1, 103))
    assert one.decode_bound == "memory"
    assert one.decode_s == pytest.approx(sum(_tpot(1, c) for c in (101, 102, 103)))
    assert one.tokens_per_s == pytest.approx(3 / one.decode_s)
    assert many.ttft_s == pytest.approx(64 * PREFILL_FLOPS / H100_BF16)
    assert many.tokens_per_s == pytest.approx(64 * 3 / sum(_tpot(64, c) for c in (101, 102, 103)))
    # compute-bound once b·F/P ≥ (W + b·K)/B at c = 103: F = 2.0103e9, K = 1.03e6
    flops, kv = 2 * 10**9 + 10**5 * 103, 10**4 * 103
    exact = W * H100_BF16 / (flops * H100_BW - kv * H100_BF16)
    assert hardware.crossover_batch == int(exact) + 1
    assert hardware.weights_only_crossover_batch == int(W * H100_BF16 / (flops * H100_BW)) + 1


def test_section_round_trips_through_json() -> None:
    timed = serving_times(_section(), get_accelerator("h100-sxm"), (1, 8))
    assert ServingSection.from_dict(json.loads(json.dumps(timed.to_dict()))) == timed


def test_bad_batch() -> None:
    with pytest.raises(UsageError, match="at least 1"):
        serving_times(_section(), get_accelerator("h100-sxm"), (0,))


def test_decode_outside_the_profile() -> None:
    with pytest.raises(UsageError, match="no decode formula at context 99"):
        _section().decode_at(99)
