"""profile_generation: the traced prefill and decode steps, against the planner and by hand."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoConfig, AutoModelForCausalLM

import flopwise
from flopwise.errors import UsageError
from flopwise.llm import (
    decode_flops_per_token,
    forward_matmul_flops,
    kv_cache_bytes,
    spec_from_hf_config,
)
from flopwise.llm.presets import preset_config
from flopwise.schema import read_sections
from flopwise.serving import ServingSection
from tests.llm._hf import build_meta

# Full-width presets cut to 2 layers (the planner's formulas hold for any depth; 32 layers
# would only make the trace slower). Mistral's window (32) falls inside the decode range.
PRESETS = [
    ("llama-2-7b", {}),
    ("mistral-7b", {"sliding_window": 32}),
    ("qwen2-7b", {}),
]
PROMPT, NEW, BATCH = 24, 20, 2          # decode contexts 25..43


def _preset(name: str, overrides: dict) -> tuple[torch.nn.Module, object]:
    fields = {**preset_config(name), "num_hidden_layers": 2, **overrides}
    model_type = fields.pop("model_type")
    spec = spec_from_hf_config({"model_type": model_type, **fields}, name)
    return build_meta(model_type, fields), spec


@pytest.mark.parametrize(("name", "overrides"), PRESETS, ids=[p[0] for p in PRESETS])
def test_traced_serving_equals_the_planner(name: str, overrides: dict) -> None:
    model, spec = _preset(name, overrides)
    with torch.device("meta"):
        ids = torch.zeros(BATCH, PROMPT, dtype=torch.long)
    result = flopwise.profile_generation(model, ids, NEW, convention="matmul")
    assert result.prefill.flops == forward_matmul_flops(spec, PROMPT, BATCH)
    assert result.prefill.kv_bytes == kv_cache_bytes(spec, BATCH, PROMPT, "fp32")
    contexts = range(PROMPT + 1, PROMPT + NEW)
    assert list(result.serving.decode_contexts) == list(contexts)
    for context in contexts:
        step = result.decode_at(context)
        assert step.flops == BATCH * decode_flops_per_token(spec, context), context
        assert step.kv_bytes == kv_cache_bytes(spec, BATCH, context, "fp32"), context
    # the window splits the formula: keys grow up to c = 32, then stay at the window
    expected_pieces = [(25, 32), (33, 43)] if overrides else [(25, 43)]
    assert [(p.first_context, p.last_context) for p in result.decode] == expected_pieces
    assert result.serving.unsupported == {}


# -- a 2-layer model by hand ------------------------------------------------------------------
H, HEADS, KV_HEADS, D, FFN, VOCAB, LAYERS = 64, 4, 2, 16, 128, 100, 2


def _tiny(model_type: str = "llama", **extra: object) -> torch.nn.Module:
    config = AutoConfig.for_model(model_type, hidden_size=H, intermediate_size=FFN,
                                  num_hidden_layers=LAYERS, num_attention_heads=HEADS,
                                  num_key_value_heads=KV_HEADS, vocab_size=VOCAB, **extra)
    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(config)


def _decode_macs(keys: int) -> int:
    """One token: Q, K, V, O projections, the gated MLP, QKᵀ and AV over ``keys``, the head."""
    projections = H * HEADS * D + 2 * H * KV_HEADS * D + HEADS * D * H     # 4096 + 4096 + 4096
    mlp = 3 * H * FFN                                                       # 24576
    attention = 2 * HEADS * D * keys                                        # QKᵀ + AV: 128·keys
    return LAYERS * (projections + mlp + attention) + H * VOCAB


def _kv_bytes(keys_per_layer: int) -> int:
    return 2 * LAYERS * KV_HEADS * D * 4 * keys_per_layer                  # K and V, float32


def _meta_ids(tokens: int) -> torch.Tensor:
    return torch.zeros(1, tokens, dtype=torch.long, device="meta")


def test_decode_formula_by_hand() -> None:
    result = flopwise.profile_generation(_tiny(), _meta_ids(10), 40, convention="matmul")
    (piece,) = result.decode
    assert piece.sampled == (11, 12, 13) and piece.checked == (30, 49)
    # 2 · (2·(12288 + 24576) + 6400) = 160256 constant, 2 · 2 · 128 = 512 per key
    assert str(piece.flops) == "160256 + 512·c"
    for context in (11, 12, 25, 37, 49):
        step = result.decode_at(context)
        assert step.macs == _decode_macs(context)
        assert step.flops == 2 * _decode_macs(context)
        assert step.kv_bytes == _kv_bytes(context)
        assert step.weights_bytes == 4 * sum(p.numel() for p in _tiny().parameters())


def test_sliding_window_caps_the_keys() -> None:
    model = _tiny("mistral", sliding_window=16)
    result = flopwise.profile_generation(model, _meta_ids(10), 20, convention="matmul")
    assert [(p.first_context, p.last_context) for p in result.decode] == [(11, 16), (17, 29)]
    for context in (11, 15, 16, 17, 23, 29):
        keys = min(context, 16)
        assert result.decode_at(context).macs == _decode_macs(keys), context
        assert result.decode_at(context).kv_bytes == _kv_bytes(keys), context


def test_static_cache_attends_to_the_whole_buffer() -> None:
    # StaticCache(max_cache_len = 10 + 8): every step scores all 18 slots, masked or not
    result = flopwise.profile_generation(_tiny(), _meta_ids(10), 8, cache="static",
                                         convention="matmul")
    assert str(result.decode[0].flops) == str(2 * _decode_macs(18))
    for context in (11, 14, 17):
        assert result.decode_at(context).kv_bytes == _kv_bytes(18)
    # the prefill scores only the prompt's own 10 × 10 square (its QKᵀ is [10, 16]·[16, 10]
    # per head), not the 18 slots
    prefill_attention = 2 * LAYERS * HEADS * D * 10 * 10
    prefill_dense = 10 * (_decode_macs(0) - H * VOCAB) + 10 * H * VOCAB
    assert result.prefill.macs == prefill_dense + prefill_attention
    assert result.prefill.kv_bytes == _kv_bytes(10)


def test_prefill_with_last_logits_only() -> None:
    full = flopwise.profile_generation(_tiny(), _meta_ids(10), 4, convention="macs")
    last = flopwise.profile_generation(_tiny(), _meta_ids(10), 4, convention="macs",
                                       logits_to_keep=1)
    assert full.prefill.macs - last.prefill.macs == 9 * H * VOCAB


def test_batch_scales_matmuls_and_kv() -> None:
    # what serving_times relies on to time other batches from one trace (matmul FLOPs; the
    # standard convention also counts per-position work shared by the batch, e.g. rotary tables)
    one = flopwise.profile_generation(_tiny(), _meta_ids(8), 6, convention="matmul")
    with torch.device("meta"):
        three = flopwise.profile_generation(_tiny(), torch.zeros(3, 8, dtype=torch.long), 6,
                                            convention="matmul")
    assert three.prefill.flops == 3 * one.prefill.flops
    assert three.decode_at(12).flops == 3 * one.decode_at(12).flops
    assert three.decode_at(12).kv_bytes == 3 * one.decode_at(12).kv_bytes
    assert three.serving.kv_bytes_per_token == 3 * one.serving.kv_bytes_per_token


def test_section_is_attached_and_serialised() -> None:
    result = flopwise.profile_generation(_tiny(), _meta_ids(8), 6)
    assert result.report.section(ServingSection) is result.serving
    data = json.loads(result.report.to_json())
    assert read_sections(data)["serving"] == result.serving
    assert data["serving"]["prefill"]["flops"] == result.prefill.flops
    assert data["serving"]["kv_bytes_end"] == _kv_bytes(13)
    assert data["serving"]["decode"][0]["flops"] == [str(c) for c in result.decode[0].flops.coefficients]


def test_model_is_left_as_found() -> None:
    model = _tiny()
    params = {name: (p, p.requires_grad) for name, p in model.named_parameters()}
    flags = [m.training for m in model.modules()]
    grad = torch.is_grad_enabled()
    flopwise.profile_generation(model, _meta_ids(8), 4)
    assert {name: (p, p.requires_grad) for name, p in model.named_parameters()} == params
    assert torch.is_grad_enabled() == grad
    assert [m.training for m in model.modules()] == flags
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"cache": "paged"}, "cache must be one of dynamic, static"),
    ({"max_new_tokens": 1}, "max_new_tokens must be at least 2"),
], ids=["cache", "new-tokens"])
def test_bad_arguments(kwargs: dict, message: str) -> None:
    options = {"max_new_tokens": 4, **kwargs}
    with pytest.raises(UsageError, match=message):
        flopwise.profile_generation(_tiny(), _meta_ids(8), **options)


def test_not_a_generation_model() -> None:
    with pytest.raises(UsageError, match="needs a transformers generation model"):
        flopwise.profile_generation(torch.nn.Linear(2, 2), torch.zeros(1, 4, dtype=torch.long), 4)


def test_float_prompt_is_refused() -> None:
    with pytest.raises(UsageError, match="token ids"):
        flopwise.profile_generation(_tiny(), torch.zeros(1, 4), 4)
