"""Real multi-process runs (gloo on 127.0.0.1, 2 and 4 ranks, forked by the test itself, each
job under a hard 60 s timeout): per-rank collectives and FLOPs against hand-derived values.

Dimensions (tests/distributed/scenarios.py): D = 16, hidden 4D = 64, T = 8 tokens, fp32 (4 B),
2 blocks; n = the world size. The ring: all-reduce sends 2(n-1)/n·S per rank, all-gather,
reduce-scatter and all-to-all (n-1)/n·S.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

from tests.distributed.jobs import gloo_results

D, H, T, FP32, BLOCKS = 16, 64, 8, 4, 2
BLOCK_PARAMS = 2 * D + (D * H + H) + (H * D + D)      # LayerNorm + up + down = 2160
BLOCK_BYTES = BLOCK_PARAMS * FP32                      # 8640
MLP_PARAMS = (D * H + H) + (H * D + D)                 # 2128


def _by_phase(result: dict) -> dict[tuple[str, str], list[int]]:
    """(kind, phase) -> [calls, payload bytes, wire bytes], whatever module issued them."""
    table: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for kind, _module, phase, _size, calls, payload, wire in result["collectives"]:
        row = table[kind, phase]
        row[0] += calls
        row[1] += payload
        row[2] += wire
    return dict(table)


def _ring(n: int, payload: int) -> int:
    return (n - 1) * payload // n


@pytest.mark.parametrize("n", [2, 4], ids=["2-ranks", "4-ranks"])
def test_fsdp2_per_block_gathers_params_twice_and_reduce_scatters_grads(n):
    for rank, results in enumerate(gloo_results(n)):
        result = results["fsdp"]
        # each block's all-gather carries the block's parameters, once per forward and once
        # more in backward (resharded after forward); its reduce-scatter the block's gradients
        assert _by_phase(result) == {
            ("all_gather", "forward"): [BLOCKS, BLOCKS * BLOCK_BYTES, BLOCKS * _ring(n, BLOCK_BYTES)],
            ("all_gather", "backward"): [BLOCKS, BLOCKS * BLOCK_BYTES, BLOCKS * _ring(n, BLOCK_BYTES)],
            ("reduce_scatter", "backward"): [BLOCKS, BLOCKS * BLOCK_BYTES,
                                             BLOCKS * _ring(n, BLOCK_BYTES)],
        }, rank
        assert all(payload == calls * BLOCK_BYTES
                   for _k, _m, _p, _s, calls, payload, _w in result["collectives"])
        assert result["params"] == BLOCKS * BLOCK_PARAMS                 # logical, 4320
        assert result["local_params"] == BLOCKS * BLOCK_PARAMS // n      # this rank's shard
        assert result["local_param_bytes"] == BLOCKS * BLOCK_BYTES // n
        # data parallel: every rank runs the whole model on its T tokens
        forward = BLOCKS * (T * D * H + T * H * D)
        assert result["phase_macs"] == {"forward": forward, "backward": 2 * forward}
        assert result["unsupported"] == {}


@pytest.mark.parametrize("n", [2, 4], ids=["2-ranks", "4-ranks"])
def test_tensor_parallel_mlp_all_reduces_the_activation_once_each_way(n):
    activation = T * D * FP32                                            # 512 B
    for results in gloo_results(n):
        result = results["tp"]
        all_reduce = 2 * (n - 1) * activation // n
        assert _by_phase(result) == {
            ("all_reduce", "forward"): [1, activation, all_reduce],     # RowwiseParallel output
            ("all_reduce", "backward"): [1, activation, all_reduce],    # ColwiseParallel input grad
        }
        # this rank: a 1/n column slice of up, a 1/n row slice of down
        forward = T * D * (H // n) + T * (H // n) * D
        assert result["phase_macs"] == {"forward": forward, "backward": 2 * forward}
        assert result["params"] == MLP_PARAMS
        assert result["local_params"] == (D * H + H + H * D) // n + D   # down's bias replicated


@pytest.mark.parametrize("n", [2, 4], ids=["2-ranks", "4-ranks"])
def test_ddp_all_reduces_the_gradient_bytes_by_bucket(n):
    grad_bytes = MLP_PARAMS * FP32                                       # 8512
    for results in gloo_results(n):
        result = results["ddp"]
        buckets = result["collectives"]
        assert {(kind, phase) for kind, _m, phase, *_ in buckets} == {("all_reduce", "backward")}
        assert sum(row[5] for row in buckets) == grad_bytes
        assert sum(row[6] for row in buckets) == 2 * (n - 1) * grad_bytes // n
        # the input needs no gradient: up's input gradient is not computed
        assert result["phase_macs"] == {"forward": 2 * T * D * H, "backward": 3 * T * D * H}


@pytest.mark.parametrize("n", [2, 4], ids=["2-ranks", "4-ranks"])
def test_expert_parallel_all_to_all_there_and_back(n):
    tokens = T * D * FP32                                                # 512 B
    for results in gloo_results(n):
        result = results["ep"]
        assert _by_phase(result) == {
            ("all_to_all", "forward"): [2, 2 * tokens, 2 * _ring(n, tokens)],
            ("all_to_all", "backward"): [2, 2 * tokens, 2 * _ring(n, tokens)],
        }
        assert result["phase_macs"] == {"forward": T * D * D, "backward": 2 * T * D * D}


def test_fsdp2_and_ddp_models_and_the_group_are_left_as_found():
    for results in gloo_results(2):
        assert results["intact"] == {"fsdp": True, "ddp": True, "group": True}


@pytest.mark.parametrize("n", [2, 4], ids=["2-ranks", "4-ranks"])
def test_gather_brings_every_rank_to_rank_0(n):
    results = gloo_results(n)
    # rank r: (r+1)·T rows through a D×D layer, 2·(r+1)·T·D·D FLOPs (standard, no bias)
    flops = [2 * (rank + 1) * T * D * D for rank in range(n)]
    assert results[0]["gathered"] == {"flops": flops, "ranks": list(range(n)),
                                      "imbalance": max(flops) / (sum(flops) / n)}
    assert all(result["gathered"] is None for result in results[1:])
