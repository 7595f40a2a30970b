"""Memory: Korthikanti et al.'s activation formulas, ZeRO sharding, KV cache, dtypes."""

from __future__ import annotations

import pytest

from flopwise.errors import UsageError
from flopwise.llm import (
    activation_memory,
    kv_cache_bytes,
    load_spec,
    model_state_bytes,
    weights_by_dtype,
    weights_bytes,
)
from flopwise.llm.memory import kv_cache_bytes_per_gpu, training_dtype

# GPT-3 175B: the architecture Korthikanti et al. 2022 derive their formulas for.
S, B, H, A, L, V = 2048, 1, 12288, 96, 96, 50257


def _gpt3():
    return load_spec("gpt-3-175b")


def test_korthikanti_no_parallelism() -> None:
    per_layer = activation_memory(_gpt3(), S, B).per_layer
    assert per_layer == S * B * H * (34 + 5 * A * S // H)  # 5as/h = 80 exactly here


@pytest.mark.parametrize("t", [2, 4, 8], ids=lambda t: f"tp{t}")
def test_korthikanti_tensor_parallel(t: int) -> None:
    per_layer = activation_memory(_gpt3(), S, B, tp=t).per_layer
    assert per_layer == S * B * H * 10 + S * B * H * 24 // t + 5 * A * S * S * B // t


@pytest.mark.parametrize("t", [2, 8], ids=lambda t: f"tp{t}")
def test_korthikanti_tensor_and_sequence_parallel(t: int) -> None:
    per_layer = activation_memory(_gpt3(), S, B, tp=t, sp=True).per_layer
    assert per_layer == S * B * H * (34 + 5 * A * S // H) // t


def test_korthikanti_selective_recompute() -> None:
    t = 8
    with_sp = activation_memory(_gpt3(), S, B, tp=t, sp=True, recompute="selective").per_layer
    without_sp = activation_memory(_gpt3(), S, B, tp=t, recompute="selective").per_layer
    assert with_sp == S * B * H * 34 // t
    assert without_sp == S * B * H * 10 + S * B * H * 24 // t


def test_korthikanti_full_recompute() -> None:
    assert activation_memory(_gpt3(), S, B, recompute="full").per_layer == 2 * S * B * H
    assert activation_memory(_gpt3(), S, B, recompute="full", tp=4, sp=True).per_layer == 2 * S * B * H // 4


def test_pipeline_first_stage_holds_all_layers() -> None:
    # 1F1B: pp micro-batches of L/pp layers = L layers' worth; outside-layer tensors are on the
    # last stage and not counted.
    memory = activation_memory(_gpt3(), S, B, pp=8)
    assert memory.total == L * S * B * H * (34 + 80)


def test_single_stage_adds_final_norm_head_input_and_logits() -> None:
    memory = activation_memory(_gpt3(), S, B)
    outside = 2 * S * B * H + 2 * S * B * H + 4 * S * B * V  # 16-bit inputs, fp32 logits
    assert memory.total == L * S * B * H * (34 + 80) + outside


def test_llama_block_generalisation() -> None:
    # Llama-2-70B: GQA (8 KV heads), SwiGLU, no dropout: no masks; the softmax output (2as²b)
    # is the only s² term kept.
    s, b, h, a, k, d, f = 4096, 1, 8192, 64, 8, 128, 28672
    replicated = 2 * s * b * h * 4  # two norm inputs, attention and MLP inputs
    split = 2 * s * b * (a * d + k * d) + 2 * s * b * k * d + 2 * s * b * a * d + 3 * 2 * s * b * f
    scores = 2 * a * s * s * b
    memory = activation_memory(load_spec("llama-2-70b"), s, b, tp=8)
    assert memory.per_layer == replicated + (split + scores) // 8


def test_zero_stages() -> None:
    p, dp = 6_738_415_616, 8
    assert model_state_bytes(p, zero=0, dp=dp).total == 16 * p
    stage1 = model_state_bytes(p, zero=1, dp=dp)
    assert (stage1.weights, stage1.gradients, stage1.optimizer) == (2 * p, 2 * p, 12 * p // dp)
    stage2 = model_state_bytes(p, zero=2, dp=dp)
    assert (stage2.weights, stage2.gradients) == (2 * p, 2 * p // dp)
    assert model_state_bytes(p, zero=3, dp=dp).total == 16 * p // dp


def test_model_parallel_split_then_zero() -> None:
    p = 1_000_000
    state = model_state_bytes(p, zero=3, tp=2, pp=2, dp=5)
    assert state.total == 16 * (p // 4) // 5


def test_fp32_training_state() -> None:
    state = model_state_bytes(1000, "fp32")
    assert (state.weights, state.gradients, state.optimizer) == (4000, 4000, 8000)


def test_int_dtypes_train_in_bf16() -> None:
    assert training_dtype("int4") == "bf16" and training_dtype("fp8") == "fp8"


def test_bad_zero_stage() -> None:
    with pytest.raises(UsageError, match="--zero must be 0, 1, 2 or 3"):
        model_state_bytes(10, zero=4)


def test_weights_by_dtype() -> None:
    p = 6_738_415_616
    sizes = weights_by_dtype(p)
    assert sizes == {"fp32": 4 * p, "bf16": 2 * p, "fp16": 2 * p, "fp8": p, "int8": p, "int4": p // 2}
    assert weights_bytes(7, "int4") == 4  # two per byte, rounded up


def test_kv_cache_llama_2_7b() -> None:
    # 2 (K, V) · 32 layers · 32 heads · 128 · 2 bytes = 512 KiB per token; 4096 tokens = 2 GiB
    assert kv_cache_bytes(load_spec("llama-2-7b"), 1, 4096, "bf16") == 2 * 32 * 32 * 128 * 2 * 4096
    assert kv_cache_bytes(load_spec("llama-2-7b"), 1, 4096, "bf16") == 2 * 1024**3


def test_kv_cache_llama_2_70b_gqa() -> None:
    # 8 KV heads: 2 · 80 · 8 · 128 · 2 = 327,680 bytes (320 KiB) per token
    assert kv_cache_bytes(load_spec("llama-2-70b"), 1, 1, "bf16") == 327_680
    assert kv_cache_bytes(load_spec("llama-2-70b"), 8, 4096, "fp8") == 327_680 // 2 * 8 * 4096


def test_kv_cache_sliding_window_is_a_rolling_buffer() -> None:
    spec = load_spec("mistral-7b")
    per_token = 2 * 32 * 8 * 128 * 2
    assert kv_cache_bytes(spec, 1, 2048, "bf16") == per_token * 2048
    assert kv_cache_bytes(spec, 1, 32768, "bf16") == per_token * 4096


def test_encoders_have_no_kv_cache() -> None:
    assert kv_cache_bytes(load_spec("bert-base"), 4, 512, "bf16") == 0


def test_kv_cache_per_gpu() -> None:
    spec = load_spec("llama-2-70b")
    total = kv_cache_bytes(spec, 1, 4096, "bf16")
    assert kv_cache_bytes_per_gpu(spec, 1, 4096, "bf16", tp=8) == total // 8
    # 16-way tensor parallel with 8 KV heads: each head is replicated on two GPUs
    assert kv_cache_bytes_per_gpu(spec, 1, 4096, "bf16", tp=16) == total // 8
    assert kv_cache_bytes_per_gpu(spec, 1, 4096, "bf16", tp=2, pp=4) == total // 8


def test_unknown_dtype() -> None:
    with pytest.raises(UsageError, match="--dtype must be one of fp32, bf16"):
        weights_bytes(10, "fp4")
