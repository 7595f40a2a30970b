"""``flopwise profile hf:...`` on the default command line: inputs made from the config and the
forward, automatic CPU / bf16 retries, and MACs derived by hand from each config's dimensions.

Configs are transformers' config classes with the published hyper-parameters, written to a
config.json (no download). Per transformer layer with T tokens, width d, MLP width f:
projections 4·T·d², scores and weighted sum 2·T²·d (attention is counted as the full square),
MLP 2·T·d·f.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from flopwise.cli.app import app

pytest.importorskip("transformers")


def _layer(tokens: int, d: int, f: int) -> int:
    """MACs of one encoder layer: QKV and output projections, scores and weighted sum, MLP."""
    return 4 * tokens * d * d + 2 * tokens * tokens * d + 2 * tokens * d * f


def _profile(tmp_path: Path, config: Any, *extra: str) -> tuple[dict[str, Any], list[str]]:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config.to_dict()))
    result = CliRunner().invoke(app, ["profile", f"hf:{path}", "--format", "json", *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), result.stderr.splitlines()


def test_clip_vit_b32_counts_both_towers(tmp_path: Path) -> None:
    from transformers import CLIPConfig

    # openai/clip-vit-base-patch32: text 512 wide, 12 layers, 2048 MLP, 77 positions; vision
    # 768 wide, 12 layers, 3072 MLP, 224 px in 32 px patches; projections to 512
    config = CLIPConfig(
        text_config={"hidden_size": 512, "intermediate_size": 2048, "num_hidden_layers": 12,
                     "num_attention_heads": 8, "max_position_embeddings": 77,
                     "vocab_size": 49408},
        vision_config={"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
                       "num_attention_heads": 12, "image_size": 224, "patch_size": 32},
        projection_dim=512)
    report, notes = _profile(tmp_path, config)
    tokens = 77                                      # min(128, max_position_embeddings)
    patches = (224 // 32) ** 2                       # 49, plus the class token
    text = 12 * _layer(tokens, 512, 2048) + 512 * 512          # + projection of one pooled token
    vision = (patches * 768 * 3 * 32 * 32                      # patch embedding convolution
              + 12 * _layer(patches + 1, 768, 3072) + 768 * 512)
    logits = 512                                      # one text embedding · one image embedding
    assert report["total"]["macs"] == text + vision + logits
    assert "note: pixel_values: a 224×224 image (config)" in notes
    assert "note: input: 77 tokens" in notes


def test_bart_base_runs_encoder_and_decoder(tmp_path: Path) -> None:
    from transformers import BartConfig

    # facebook/bart-base: 768 wide, 6 + 6 layers, 12 heads, 3072 MLP, 50265 tokens
    config = BartConfig(d_model=768, encoder_layers=6, decoder_layers=6,
                        encoder_attention_heads=12, decoder_attention_heads=12,
                        encoder_ffn_dim=3072, decoder_ffn_dim=3072, vocab_size=50265)
    report, notes = _profile(tmp_path, config)
    t, d, f = 128, 768, 3072                         # 128 tokens each side
    encoder = 6 * _layer(t, d, f)
    # decoder layer: self-attention as an encoder's, cross-attention (queries from T decoder
    # tokens, keys/values from T encoder tokens: 4·T·d² + 2·T²·d), the MLP
    decoder = 6 * (_layer(t, d, f) + 4 * t * d * d + 2 * t * t * d)
    assert report["total"]["macs"] == encoder + decoder
    assert "note: decoder_input_ids: as many decoder tokens as encoder tokens" in notes
    # BART's own code reads a value (.item()) on the way: rebuilt on the CPU, said in one line
    assert sum("rebuilt on the CPU" in line for line in notes) == 1


def test_mixtral_style_moe_on_the_default_command_line(tmp_path: Path) -> None:
    from transformers import MixtralConfig

    d, f, layers, heads, kv_heads, experts, top_k, vocab = 64, 128, 2, 4, 2, 4, 2, 100
    config = MixtralConfig(hidden_size=d, intermediate_size=f, num_hidden_layers=layers,
                           num_attention_heads=heads, num_key_value_heads=kv_heads,
                           num_local_experts=experts, num_experts_per_tok=top_k,
                           vocab_size=vocab, max_position_embeddings=16)
    report, notes = _profile(tmp_path, config)
    t, kv = 16, kv_heads * (d // heads)              # 16 tokens (max_position_embeddings)
    attention = t * d * d + 2 * t * d * kv + t * d * d + 2 * t * t * d
    moe = t * d * experts + top_k * t * 3 * d * f     # router, then 3 matrices per chosen expert
    assert report["total"]["macs"] == layers * (attention + moe) + t * d * vocab   # + LM head
    assert any("rebuilt in bfloat16" in line for line in notes)


def test_whisper_tiny_gets_log_mel_features_and_decoder_tokens(tmp_path: Path) -> None:
    from transformers import WhisperConfig

    # openai/whisper-tiny: 384 wide, 4 + 4 layers, 6 heads, 1536 MLP, 80 mel bins, 1500 positions
    config = WhisperConfig(d_model=384, encoder_layers=4, decoder_layers=4,
                           encoder_attention_heads=6, decoder_attention_heads=6,
                           encoder_ffn_dim=1536, decoder_ffn_dim=1536, num_mel_bins=80,
                           max_source_positions=1500, vocab_size=51865)
    report, notes = _profile(tmp_path, config)
    d, f, s, t = 384, 1536, 1500, 128                # 1500 encoder positions, 128 decoder tokens
    convs = 3000 * d * 80 * 3 + s * d * d * 3        # two kernel-3 convolutions, the 2nd stride 2
    encoder = 4 * _layer(s, d, f)
    cross = 2 * t * d * d + 2 * s * d * d + 2 * t * s * d
    decoder = 4 * (_layer(t, d, f) + cross)
    assert report["total"]["macs"] == convs + encoder + decoder
    assert "note: input: 80 mel bins × 3000 frames (config)" in notes


def test_layoutlm_gets_one_box_per_token(tmp_path: Path) -> None:
    from transformers import LayoutLMConfig

    # microsoft/layoutlm-base-uncased: BERT-base with 2-d position embeddings
    config = LayoutLMConfig(hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                            intermediate_size=3072)
    report, notes = _profile(tmp_path, config)
    t, d, f = 128, 768, 3072
    assert report["total"]["macs"] == 12 * _layer(t, d, f) + d * d        # + pooler (1 token)
    assert "note: bbox: one box per token, all zero (a layout model)" in notes


def test_user_inputs_still_override_the_made_ones(tmp_path: Path) -> None:
    from transformers import CLIPConfig

    config = CLIPConfig(text_config={"hidden_size": 32, "intermediate_size": 64,
                                     "num_hidden_layers": 1, "num_attention_heads": 2},
                        vision_config={"hidden_size": 32, "intermediate_size": 64,
                                       "num_hidden_layers": 1, "num_attention_heads": 2,
                                       "image_size": 32, "patch_size": 16},
                        projection_dim=8)
    report, notes = _profile(tmp_path, config, "--input", "1,10",
                             "--kwarg", "pixel_values=2,3,32,32")
    text = _layer(10, 32, 64) + 32 * 8
    # two 32-px images: 4 patches + the class token each, then 1 text × 2 images logits
    vision = 2 * (4 * 32 * 3 * 16 * 16 + _layer(5, 32, 64) + 32 * 8)
    assert report["total"]["macs"] == text + vision + 2 * 8
    assert not any(line.startswith("note: pixel_values") for line in notes)


def test_a_packed_patch_vision_tower_gets_a_patch_grid(tmp_path: Path) -> None:
    from transformers import AutoConfig

    # a one-block Qwen2.5-VL vision tower: 14-px patches, 2 frames per temporal patch, 2×2 merge
    config = AutoConfig.for_model("qwen2_5_vl_vision", depth=1, hidden_size=64, num_heads=2,
                                  intermediate_size=128, out_hidden_size=32, patch_size=14,
                                  temporal_patch_size=2, spatial_merge_size=2, in_channels=3,
                                  fullatt_block_indexes=[0])
    report, notes = _profile(tmp_path, config)
    # 224 px = 16 patches a side (whole 2×2 merged blocks): 256 rows of 3·2·14·14 = 1176 pixels
    assert "note: input: a 224×224 image as 256 packed 14×14 patches (grid 1×16×16)" in notes
    assert "note: grid_thw: one image, grid 1×16×16 patches" in notes
    embed = next(m for m in report["modules"] if m["name"] == "patch_embed")
    assert embed["macs"] == 256 * 1176 * 64                 # one 1176 → 64 projection per patch


def test_what_transformers_prints_while_building_goes_to_stderr(
        capsys: pytest.CaptureFixture[str]) -> None:
    # PE Video's __init__ decorates a local function whose docstring check prints an [ERROR]
    import torch

    from flopwise.models import hf

    config = hf.hf_config("hf:pe_video", "pe_video")
    with torch.device("meta"):
        hf.build(hf.hf_class(config), config)
    captured = capsys.readouterr()
    assert captured.out == ""                                # the CLI's JSON stays clean
    assert "padding_mask_videos" in captured.err
