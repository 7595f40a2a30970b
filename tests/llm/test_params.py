"""Parameter counts: hand-derived formulas, public values, and transformers built on meta."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from flopwise.errors import ConfigError, UsageError
from flopwise.llm import count_params, load_spec, override_spec, spec_from_dims, spec_from_hf_config
from flopwise.llm.presets import preset_names
from tests.llm._hf import build_meta, build_preset, numel

# Public totals (../shared/reference/check-values.md): sum(p.numel()) of the HF model.
PUBLIC_TOTALS = {
    "gpt2": 124_439_808,        # GPT2LMHeadModel, tied head
    "bert-base": 109_482_240,   # BertModel with pooler
    "llama-2-7b": 6_738_415_616,
    "llama-2-13b": 13_015_864_320,
    "llama-2-70b": 68_976_648_192,
    "llama-3-8b": 8_030_261_248,
    "mistral-7b": 7_241_732_096,
}


@pytest.mark.parametrize("name", sorted(PUBLIC_TOTALS), ids=str)
def test_public_totals(name: str) -> None:
    assert count_params(load_spec(name)).total == PUBLIC_TOTALS[name]


@pytest.mark.parametrize("name", preset_names(), ids=str)
def test_every_preset_matches_transformers_on_meta(name: str) -> None:
    counts = count_params(load_spec(name))
    assert counts.total == numel(build_preset(name))
    assert counts.embedding + counts.non_embedding == counts.total


def test_gpt2_small_by_hand() -> None:
    h, l, v, s = 768, 12, 50257, 1024
    per_block = 12 * h * h + 13 * h  # qkv 3h²+3h, proj h²+h, fc 4h²+4h, proj 4h²+h, 2 LNs 4h
    counts = count_params(load_spec("gpt2"))
    assert counts.per_block == per_block
    assert counts.embedding == v * h + s * h  # tied: the head is the token table
    assert counts.lm_head == 0 and counts.lm_head_matrix == v * h
    assert counts.non_embedding == l * per_block + 2 * h  # + final LayerNorm
    assert counts.total == l * per_block + v * h + s * h + 2 * h


def test_bert_base_by_hand() -> None:
    h, l, v, positions, types = 768, 12, 30522, 512, 2
    counts = count_params(load_spec("bert-base"))
    expected = (v + positions + types) * h + 2 * h + l * (12 * h * h + 13 * h) + h * h + h
    assert counts.total == expected  # embeddings + their LayerNorm + layers + pooler
    assert counts.embedding == (v + positions + types) * h


def test_llama_2_70b_gqa_by_hand() -> None:
    h, l, a, k, d, f, v = 8192, 80, 64, 8, 128, 28672, 32000
    per_block = h * (a * d) + 2 * h * (k * d) + (a * d) * h + 3 * h * f + 2 * h
    counts = count_params(load_spec("llama-2-70b"))
    assert counts.per_block == per_block
    assert counts.total == l * per_block + 2 * v * h + h  # untied embedding + head, final norm


def test_mixtral_total_and_active_by_hand() -> None:
    h, l, a, k, d, f, v, experts, top = 4096, 32, 32, 8, 128, 14336, 32000, 8, 2
    attention = 2 * h * (a * d) + 2 * h * (k * d)
    fixed = attention + h * experts + 2 * h  # attention, router, two RMSNorms
    counts = count_params(load_spec("mixtral-8x7b"))
    assert counts.total == l * (fixed + experts * 3 * h * f) + 2 * v * h + h
    assert counts.active == l * (fixed + top * 3 * h * f) + 2 * v * h + h
    assert counts.total == 46_702_792_704  # Mixtral-8x7B on the Hub ("46.7B")


def test_qwen2_biases_on_qkv_only() -> None:
    h, k, d, a = 3584, 4, 128, 28
    spec = load_spec("qwen2-7b")
    counts = count_params(spec)
    assert counts.attention_per_block == 2 * h * a * d + 2 * h * k * d + (a * d + 2 * k * d)


def test_pythia_160m_config_file(tmp_path: Path) -> None:
    fields = {"model_type": "gpt_neox", "hidden_size": 768, "num_hidden_layers": 12,
              "num_attention_heads": 12, "intermediate_size": 3072, "vocab_size": 50304,
              "max_position_embeddings": 2048, "tie_word_embeddings": False}
    path = tmp_path / "pythia-160m" / "config.json"
    path.parent.mkdir()
    path.write_text(json.dumps(fields))
    spec = load_spec(path)
    counts = count_params(spec)
    h, l, v = 768, 12, 50304
    # Pythia's model table (EleutherAI/pythia README): 162,322,944 total, 85,056,000 non-embedding.
    assert counts.non_embedding == l * (12 * h * h + 13 * h) + 2 * h == 85_056_000
    assert counts.total == 2 * v * h + 85_056_000 == 162_322_944
    assert spec.name == "pythia-160m" and spec.source == str(path)
    model_type = fields.pop("model_type")
    assert counts.total == numel(build_meta(str(model_type), fields))


@pytest.mark.parametrize("gated", [False, True], ids=["relu", "gated-gelu"])
def test_t5_encoder(gated: bool) -> None:
    h, l, a, d, f, v, buckets = 512, 6, 8, 64, 2048, 32128, 32  # t5-small's encoder
    fields = {"d_model": h, "num_layers": l, "num_heads": a, "d_kv": d, "d_ff": f,
              "vocab_size": v, "relative_attention_num_buckets": buckets,
              "feed_forward_proj": "gated-gelu" if gated else "relu"}
    counts = count_params(spec_from_hf_config({"model_type": "t5", **fields}))
    mlp = (3 if gated else 2) * h * f
    assert counts.total == v * h + buckets * a + l * (4 * h * a * d + mlp + 2 * h) + h
    assert counts.total == numel(build_meta("t5", fields))


def test_qwen2_moe_with_shared_expert() -> None:
    h, l, a, k, v, experts, top, fe, fs = 64, 2, 4, 2, 100, 6, 2, 32, 80
    fields = {"hidden_size": h, "num_hidden_layers": l, "num_attention_heads": a,
              "num_key_value_heads": k, "vocab_size": v, "intermediate_size": 96,
              "moe_intermediate_size": fe, "shared_expert_intermediate_size": fs,
              "num_experts": experts, "num_experts_per_tok": top, "tie_word_embeddings": False}
    counts = count_params(spec_from_hf_config({"model_type": "qwen2_moe", **fields}))
    d = h // a
    attention = 2 * h * a * d + 2 * h * k * d + (a * d + 2 * k * d)  # q/k/v biases
    always = attention + h * experts + 3 * h * fs + h + 2 * h  # router, shared, shared gate, norms
    assert counts.total == l * (always + experts * 3 * h * fe) + 2 * v * h + h
    assert counts.active == l * (always + top * 3 * h * fe) + 2 * v * h + h
    assert counts.total == numel(build_meta("qwen2_moe", fields))


def test_roberta_is_a_bert_encoder() -> None:
    fields = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
              "intermediate_size": 96, "vocab_size": 100, "max_position_embeddings": 66,
              "type_vocab_size": 1}
    counts = count_params(spec_from_hf_config({"model_type": "roberta", **fields}))
    assert counts.total == numel(build_meta("roberta", fields))


def test_explicit_dims_default_to_llama_shape() -> None:
    spec = spec_from_dims(hidden=4096, layers=32, heads=32, vocab=32000)
    assert spec.ffn == 11008  # 8·4096/3 = 10922.7, rounded up to a multiple of 256
    assert count_params(spec).total == PUBLIC_TOTALS["llama-2-7b"]


def test_explicit_dims_gpt_style() -> None:
    h, l, v = 768, 12, 50257
    spec = spec_from_dims(hidden=h, layers=l, heads=12, vocab=v, gated=False, bias=True, tied=True)
    counts = count_params(spec)
    # RMSNorm-style norms (h each) as the explicit default; biases on every projection.
    assert counts.per_block == 12 * h * h + 9 * h + 2 * h
    assert counts.total == l * (12 * h * h + 11 * h) + v * h + h


def test_override_gqa_on_a_preset() -> None:
    spec = override_spec(load_spec("llama-2-7b"), kv_heads=8)
    h, l, a, k, d, f, v = 4096, 32, 32, 8, 128, 11008, 32000
    per_block = 2 * h * a * d + 2 * h * k * d + 3 * h * f + 2 * h
    assert count_params(spec).total == l * per_block + 2 * v * h + h
    assert "overridden: kv_heads" in spec.source


def test_override_heads_recomputes_head_dim() -> None:
    spec = override_spec(load_spec("gpt2"), heads=16)
    assert (spec.heads, spec.kv_heads, spec.head_dim) == (16, 16, 48)


def test_no_bias_gpt2_like_nanogpt() -> None:
    # nanoGPT with bias=False: no biases anywhere, LayerNorms with weights only.
    spec = replace(load_spec("gpt2"), qkv_bias=False, out_bias=False, mlp_bias=False, norm_bias=False)
    h, l, v, s = 768, 12, 50257, 1024
    assert count_params(spec).total == v * h + s * h + l * (12 * h * h + 2 * h) + h == 124_337_664


def test_unknown_preset_lists_close_matches() -> None:
    with pytest.raises(UsageError, match=r"unknown model preset 'llama2-7b' \(did you mean llama-2-7b"):
        load_spec("llama2-7b")


def test_missing_field_is_named() -> None:
    with pytest.raises(ConfigError, match="missing field 'intermediate_size'"):
        spec_from_hf_config({"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2,
                             "num_attention_heads": 4, "vocab_size": 10})


def test_missing_model_type_is_named() -> None:
    with pytest.raises(ConfigError, match="missing field 'model_type'"):
        spec_from_hf_config({"hidden_size": 64})


def test_unknown_model_type_suggests() -> None:
    with pytest.raises(ConfigError, match=r"'lama' is not supported.*did you mean llama"):
        spec_from_hf_config({"model_type": "lama"})


def test_bad_json_file(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="is not valid JSON"):
        load_spec(path)


def test_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such config file"):
        load_spec(tmp_path / "absent.json")


def test_heads_must_group_over_kv_heads() -> None:
    with pytest.raises(ConfigError, match="kv_heads must divide heads"):
        spec_from_dims(hidden=64, layers=1, heads=4, kv_heads=3, vocab=10)
