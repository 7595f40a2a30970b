"""Forward/training FLOPs: public worked numbers and hand-derived counts."""

from __future__ import annotations

from dataclasses import replace

import pytest

from flopwise.errors import UsageError
from flopwise.llm import (
    approximations,
    decode_flops_per_token,
    forward_flops,
    forward_matmul_flops,
    hardware_training_flops,
    load_spec,
    spec_from_dims,
    training_flops,
    verl_training_flops,
)
from flopwise.llm.flops import attention_pairs


def _nanogpt_gpt2():
    """GPT-2 small as nanoGPT's transformer_sizing notebook builds it: bias=False everywhere."""
    return replace(load_spec("gpt2"), qkv_bias=False, out_bias=False, mlp_bias=False, norm_bias=False)


def test_nanogpt_gpt2_forward() -> None:
    # nanoGPT transformer_sizing notebook, one 1024-token sequence, 2 FLOPs per MAC.
    fwd = forward_flops(_nanogpt_gpt2(), seq=1024)
    assert fwd.total == 291_648_307_200
    assert fwd.lm_head == 79_047_426_048
    h, l, s, v = 768, 12, 1024, 50257
    assert fwd.lm_head == 2 * s * h * v
    assert fwd.projections == 2 * s * l * 4 * h * h
    assert fwd.attention == 2 * 2 * l * s * s * h  # QKᵀ and AV, full square
    assert fwd.mlp == 2 * s * l * 8 * h * h


def test_nanogpt_gpt2_forward_backward_and_palm() -> None:
    spec = _nanogpt_gpt2()
    fwd = forward_flops(spec, seq=1024)
    assert training_flops(fwd) == 874_944_921_600  # notebook: forward + backward
    rows = {row.name: row for row in approximations(spec, 1024, 3 * fwd.per_token, 0)}
    # notebook: 6N + 12·l·a·d·s per token with N = all parameters but the position table
    assert rows["PaLM"].per_token * 1024 == 875_062_886_400
    n = 124_337_664 - 1024 * 768
    assert rows["PaLM"].per_token == 6 * n + 12 * 12 * 12 * 64 * 1024


def test_biases_do_not_change_matmul_flops() -> None:
    assert forward_matmul_flops(load_spec("gpt2"), 1024) == 291_648_307_200


def test_verl_llama_2_7b() -> None:
    # volcengine/verl tests/utils/test_flops_counter.py, Llama-2-7B.
    spec = load_spec("llama-2-7b")
    assert verl_training_flops(spec, [512, 1024, 2048]) == 153_555_818_250_240
    assert verl_training_flops(spec, [4096, 4096, 4096]) == 575_955_114_393_600


def test_verl_by_hand() -> None:
    h, l, a, d, f, v = 4096, 32, 32, 128, 11008, 32000
    dense = 2 * v * h + l * (h * 4 * a * d + 3 * h * f)
    lens = [512, 1024, 2048]
    expected = 6 * dense * sum(lens) + 12 * sum(x * x for x in lens) * l * a * d
    assert verl_training_flops(load_spec("llama-2-7b"), lens) == expected


def test_megatron_72_is_exact_for_a_gpt_block() -> None:
    # Narayanan et al. 2021: 72·B·s·l·h²·(1 + s/(6h) + V/(12·l·h)) per step, no recomputation.
    spec = load_spec("gpt-3-175b")
    b, s, l, h, v = 4, 2048, 96, 12288, 50257
    per_step = 72 * b * s * l * h * h + 12 * b * s * s * l * h + 6 * b * s * h * v
    assert training_flops(forward_flops(spec, s, b)) == per_step


def test_megatron_96_is_exact_with_full_recompute() -> None:
    spec = load_spec("gpt-3-175b")
    b, s, l, h, v = 2, 2048, 96, 12288, 50257
    per_step = 96 * b * s * l * h * h + 16 * b * s * s * l * h + 6 * b * s * h * v
    assert hardware_training_flops(forward_flops(spec, s, b), "full") == per_step


def test_selective_recompute_adds_the_attention_products() -> None:
    spec = load_spec("llama-2-7b")
    fwd = forward_flops(spec, 4096)
    s, l, a, d = 4096, 32, 32, 128
    assert hardware_training_flops(fwd, "selective") - training_flops(fwd) == 4 * l * s * s * a * d


def test_approximation_ratios_for_gpt3() -> None:
    spec = load_spec("gpt-3-175b")
    s = 2048
    fwd = forward_flops(spec, s)
    rows = {r.name: r for r in approximations(spec, s, 3 * fwd.per_token,
                                               hardware_training_flops(fwd, "full") // s)}
    assert rows["Megatron-72"].ratio == 1.0
    assert rows["Megatron-96"].ratio == 1.0
    h, l, v = 12288, 96, 50257
    non_embedding = l * (12 * h * h + 13 * h) + 2 * h
    total = non_embedding + v * h + s * h
    assert rows["6N"].per_token == 6 * total
    assert rows["Kaplan"].per_token == 3 * (2 * non_embedding + 2 * l * s * h)
    assert rows["PaLM"].per_token == 6 * (non_embedding + v * h) + 12 * l * s * h


def test_causal_pairs_by_hand() -> None:
    spec = spec_from_dims(hidden=64, layers=3, heads=4, vocab=10)
    s = 10
    assert attention_pairs(spec, s, "full") == 3 * s * s
    assert attention_pairs(spec, s, "causal") == 3 * s * (s + 1) // 2


def test_sliding_window_pairs_by_hand() -> None:
    spec = spec_from_dims(hidden=64, layers=2, heads=4, vocab=10, window=4)
    # row i keeps min(i+1, 4) keys: 1+2+3+4 then 4 for each of the 6 later rows
    assert attention_pairs(spec, 10, "causal") == 2 * (1 + 2 + 3 + 4 + 6 * 4)
    assert attention_pairs(spec, 10, "full") == 2 * 100  # dense kernels still compute the square


def test_encoder_attention_is_always_the_full_square() -> None:
    spec = load_spec("bert-base")
    assert attention_pairs(spec, 128, "causal") == 12 * 128 * 128
    assert forward_flops(spec, 128, attention="causal").attention_square == "full"


def test_bert_pooler_once_per_sequence() -> None:
    spec = load_spec("bert-base")
    h, l, s, b = 768, 12, 128, 3
    fwd = forward_flops(spec, s, b)
    assert fwd.pooler == 2 * b * h * h
    assert fwd.lm_head == 0
    assert fwd.total == 2 * b * s * l * 12 * h * h + 4 * b * l * s * s * h + 2 * b * h * h


def test_gqa_projections_and_attention() -> None:
    spec = load_spec("llama-2-70b")
    h, l, a, k, d, f, v, s = 8192, 80, 64, 8, 128, 28672, 32000, 512
    fwd = forward_flops(spec, s)
    assert fwd.projections == 2 * s * l * h * (2 * a * d + 2 * k * d)
    assert fwd.attention == 4 * l * s * s * a * d  # every query head scores every key
    assert fwd.mlp == 2 * s * l * 3 * h * f
    assert fwd.lm_head == 2 * s * h * v


def test_moe_runs_top_k_experts_per_token() -> None:
    spec = load_spec("mixtral-8x7b")
    h, l, f, experts, top, s = 4096, 32, 14336, 8, 2, 64
    assert forward_flops(spec, s).mlp == 2 * s * l * (h * experts + top * 3 * h * f)


def test_decode_per_token_by_hand() -> None:
    spec = load_spec("mistral-7b")
    h, l, a, k, d, f, v, window = 4096, 32, 32, 8, 128, 14336, 32000, 4096
    dense = 2 * l * (h * (2 * a * d + 2 * k * d) + 3 * h * f) + 2 * h * v
    assert decode_flops_per_token(spec, 1000) == dense + 4 * l * 1000 * a * d
    assert decode_flops_per_token(spec, 10_000) == dense + 4 * l * window * a * d


def test_per_token_is_the_average_over_the_sequence() -> None:
    spec = load_spec("llama-3-8b")
    fwd = forward_flops(spec, 8192)
    assert fwd.per_token * 8192 == fwd.total


def test_bad_attention_choice() -> None:
    with pytest.raises(UsageError, match="--attention must be one of full, causal"):
        forward_flops(load_spec("gpt2"), 16, attention="half")


def test_bad_recompute_choice() -> None:
    with pytest.raises(UsageError, match="--recompute must be one of none, selective, full"):
        hardware_training_flops(forward_flops(load_spec("gpt2"), 16), "some")
