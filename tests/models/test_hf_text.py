"""Default configs their own model rejects, repaired without changing its size (flopwise.models.hf_text).

Small configs of the real transformers classes; each expectation is worked out from the config.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from transformers import BambaConfig, Glm4vTextConfig, PretrainedConfig

from flopwise.errors import ConfigError
from flopwise.models import hf
from flopwise.models.hf_text import repair_config, repair_rotary, rotary_misfit


def _bamba(attention: list[int] | None) -> BambaConfig:
    return BambaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                       num_attention_heads=2, num_key_value_heads=1, mamba_n_heads=4,
                       mamba_d_head=16, mamba_d_state=8, mamba_n_groups=1, mamba_chunk_size=8,
                       attn_layer_indices=attention)


def test_a_hybrid_with_only_linear_layers_runs_without_its_cache() -> None:
    config = _bamba(None)                       # both layers linear attention (Mamba)
    notes = repair_config(config)
    assert config.use_cache is False
    assert len(notes) == 1 and notes[0].startswith("use_cache: off")
    assert "get_seq_length" in notes[0]         # transformers' own complaint, quoted
    built = hf.build(hf.hf_class(config), config)
    logits = built(torch.zeros(1, 8, dtype=torch.long)).logits
    assert tuple(logits.shape) == (1, 8, 64)    # batch, tokens, vocabulary


def test_a_hybrid_with_an_attention_layer_keeps_its_cache() -> None:
    config = _bamba([1])
    assert repair_config(config) == [] and config.use_cache is True


@pytest.mark.parametrize(("layer_types", "window"), [
    (["full_attention", "full_attention"], 512),       # nothing slides: the mask is unused
    (["full_attention", "sliding_attention"], None),   # a sliding layer needs a real window
], ids=["none-slides", "one-slides"])
def test_an_unused_sliding_window_is_set_to_the_context(layer_types: list[str],
                                                        window: int | None) -> None:
    config = PretrainedConfig(layer_types=layer_types, max_position_embeddings=512)
    config.sliding_window = None
    repair_config(config)
    assert config.sliding_window == window


def _glm_text(hidden: int) -> Glm4vTextConfig:
    return Glm4vTextConfig(vocab_size=64, hidden_size=hidden, intermediate_size=64,
                           num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1)


def test_rotary_sections_set_the_rotary_share_of_the_head() -> None:
    config = _glm_text(256)                     # head_dim 256 / 2 = 128
    with torch.device("meta"):
        model = hf.build(hf.hf_class(config), config)
        notes = repair_rotary(model, config)
    # sections [8, 12, 12] (the model's default) turn 2·32 = 64 of 128 dimensions: 0.5
    assert config.rope_parameters["partial_rotary_factor"] == 0.5
    assert notes == ["partial_rotary_factor: 0.5 (its rotary sections [8, 12, 12] turn 64 of "
                     "the 128 head dimensions; the default config turns all)"]
    with torch.device("meta"):
        rebuilt = hf.build(hf.hf_class(config), config)
    assert rebuilt.rotary_emb.inv_freq.shape == (32,)   # 64 dimensions, in pairs
    assert repair_rotary(rebuilt, config) == []


def test_rotary_sections_wider_than_the_head_are_left_alone() -> None:
    config = _glm_text(64)                      # head_dim 32 < the 64 the sections need
    with torch.device("meta"):
        model = hf.build(hf.hf_class(config), config)
    assert repair_rotary(model, config) == []
    assert "partial_rotary_factor" not in config.rope_parameters


def test_load_repairs_rebuilds_and_says_so(tmp_path: Path) -> None:
    config = _glm_text(256)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config.to_dict()), encoding="utf-8")
    with torch.device("meta"):
        loaded = hf.load(f"hf:{path}", str(path))
        hidden = loaded.model(torch.zeros(1, 8, dtype=torch.long)).last_hidden_state
    assert any(note.startswith("partial_rotary_factor: 0.5") for note in loaded.notes)
    assert tuple(hidden.shape) == (1, 8, 256)           # batch, tokens, hidden size
    # the repair changes no parameter: the same count as the unrepaired build
    with torch.device("meta"):
        plain = hf.build(hf.hf_class(config), config)
    assert (sum(p.numel() for p in loaded.model.parameters())
            == sum(p.numel() for p in plain.parameters()))


def test_rotary_sections_wider_than_the_head_are_a_config_error(tmp_path: Path) -> None:
    config = _glm_text(64)                      # head_dim 64 / 2 = 32: 16 frequencies < 32
    assert rotary_misfit(_meta_build(config)) == (
        "its config's attention heads of 32 dimensions rotate 16 frequencies, fewer than the 32 "
        "its rotary sections [8, 12, 12] split (transformers' own forward fails); pass a "
        "config.json with head_dim 64")                 # 2 · 32 frequencies, whole-head rotation
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config.to_dict()), encoding="utf-8")
    with pytest.raises(ConfigError) as raised, torch.device("meta"):
        hf.load(f"hf:{path}", str(path))
    assert "\n" not in str(raised.value) and "head_dim 64" in str(raised.value)
    assert rotary_misfit(_meta_build(_glm_text(256))) == ""


def _meta_build(config: Glm4vTextConfig) -> torch.nn.Module:
    with torch.device("meta"):
        return hf.build(hf.hf_class(config), config)


def test_deepseek_v2_routes_as_its_documented_checkpoint_when_its_config_leaves_it_unset() -> None:
    from transformers import DeepseekV2Config

    config = DeepseekV2Config()
    assert config.num_experts_per_tok is None            # transformers' default: topk(k=None)
    notes = repair_config(config)
    assert config.num_experts_per_tok == 6               # DeepSeek-V2-Lite's config.json
    assert any(note.startswith("num_experts_per_tok: 6 (") for note in notes)
    chosen = DeepseekV2Config(num_experts_per_tok=2)
    assert not [n for n in repair_config(chosen) if "num_experts_per_tok" in n]
    assert chosen.num_experts_per_tok == 2
