"""Inputs of multimodal models and vision towers (flopwise.models.hf_multimodal), on stubs and
one small LXMERT; every expected shape is worked out by hand from the config's fields."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from typer.testing import CliRunner

from flopwise.errors import ConfigError, ModelLoadError
from flopwise.models.hf_inputs import hf_inputs


class _Config(SimpleNamespace):
    """A config stub with the one method the rules call on real configs."""

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


class _Regions(torch.nn.Module):
    main_input_name = "input_ids"

    def forward(self, input_ids: Any, visual_feats: Any, visual_pos: Any) -> Any:
        return input_ids


class _Video(torch.nn.Module):
    main_input_name = "pixel_values_videos"

    def forward(self, pixel_values_videos: Any) -> Any:
        return pixel_values_videos


class _Codec(torch.nn.Module):
    main_input_name = "input_values"

    def forward(self, input_values: Any, padding_mask: Any = None) -> Any:
        return input_values


class _Positioned(torch.nn.Module):
    main_input_name = "pixel_values"

    def forward(self, pixel_values: Any, pixel_position_ids: Any) -> Any:
        return pixel_values


class _Sized(torch.nn.Module):
    main_input_name = "pixel_values"

    def forward(self, pixel_values: Any, target_sizes: Any = None) -> Any:
        return pixel_values


class _Embedded(torch.nn.Module):
    main_input_name = "input_ids"                    # not in the forward: its first input is

    def forward(self, inputs: Any, attention_mask: Any = None) -> Any:
        return inputs


class _QFormer(torch.nn.Module):
    main_input_name = "input_ids"

    def forward(self, query_embeds: Any, encoder_hidden_states: Any = None) -> Any:
        return query_embeds


class _Tiles(torch.nn.Module):
    main_input_name = "pixel_values"

    def forward(self, pixel_values: Any, image_grid_thw: Any) -> Any:
        return pixel_values


class _Splicing(torch.nn.Module):
    main_input_name = "pixel_values"

    def forward(self, pixel_values: Any, input_ids: Any) -> Any:
        return pixel_values

    def get_placeholder_mask(self) -> None:
        return None


def test_region_features_are_36_detector_regions_of_the_configs_widths() -> None:
    made = hf_inputs(_Regions(), _Config(visual_feat_dim=2048, visual_pos_dim=4,
                                          max_position_embeddings=512))
    assert made.kwargs["visual_feats"].shape == (1, 36, 2048)
    assert made.kwargs["visual_pos"].shape == (1, 36, 4)       # one box (x0, y0, x1, y1) each


def test_videos_get_the_configs_frames_and_frame_size() -> None:
    made = hf_inputs(_Video(), _Config(num_frames=16, image_size=112, num_channels=3))
    assert made.shapes == ((1, 16, 3, 112, 112),)               # batch, frames, C, H, W


def test_a_video_without_a_frame_count_gets_8_frames() -> None:
    made = hf_inputs(_Video(), _Config(image_size=224))
    assert made.shapes == ((1, 8, 3, 224, 224),)


def test_audio_read_by_a_dac_encoder_has_a_channel_axis() -> None:
    config = _Config(dac_config=_Config(sampling_rate=24000))
    made = hf_inputs(_Codec(), config)
    assert made.shapes == ((1, 1, 24000),)                      # 1 s, mono, [B, C, T]


def test_positioned_patches_fill_whole_pooling_windows() -> None:
    made = hf_inputs(_Positioned(), _Config(patch_size=16, pooling_kernel_size=3))
    # 224 px / (16 px · 3) = 4.67 windows → 5 windows of 3 patches: a 15×15 grid, 240 px
    assert made.shapes == ((1, 15 * 15, 3 * 16 * 16),)
    positions = made.kwargs["pixel_position_ids"]
    assert positions.shape == (1, 225, 2)
    assert positions.values is not None
    assert positions.values[:6] == (0, 0, 1, 0, 2, 0)          # (x, y) along the first row
    assert positions.values[-2:] == (14, 14)


def test_a_tower_taking_target_sizes_gets_its_images_patch_grid() -> None:
    made = hf_inputs(_Sized(), _Config(image_size=448, patch_size=14))
    assert made.shapes == ((1, 3, 448, 448),)
    assert made.kwargs["target_sizes"].values == (32, 32)      # 448 / 14


def test_a_bare_perceiver_gets_embedded_inputs_of_d_model() -> None:
    made = hf_inputs(_Embedded(), _Config(d_model=768, max_position_embeddings=2048))
    assert made.main == "inputs"
    assert made.shapes == ((1, 128, 768),)                       # min(128, 2048) positions


def test_the_qformer_alone_reads_32_queries_over_257_image_features() -> None:
    made = hf_inputs(_QFormer(), _Config(model_type="blip_2_qformer", hidden_size=768,
                                         encoder_hidden_size=1408))
    assert made.shapes == ((1, 32, 768),)
    assert made.kwargs["encoder_hidden_states"].shape == (1, (224 // 14) ** 2 + 1, 1408)


def test_inkling2_tiles_count_their_grid_in_merged_tokens() -> None:
    made = hf_inputs(_Tiles(), _Config(model_type="inkling2_vision", patch_size=20,
                                       spatial_merge_size=2, num_channels=3))
    # tiles of 2×2 patches of 20 px = 40 px; 224 / 40 = 5.6 → 6×6 tiles (240 px)
    assert made.shapes == ((36, 40, 40, 3),)
    assert made.kwargs["image_grid_thw"].values == (1, 6, 6)


def test_an_unset_image_placeholder_token_is_one_clear_error() -> None:
    config = _Config(model_type="blip-2", image_token_index=None)
    with pytest.raises(ConfigError, match="leaves image_token_index unset.*config.json"):
        hf_inputs(_Splicing(), config)


def test_a_model_without_a_forward_is_one_clear_error() -> None:
    class _Codebook(torch.nn.Module):
        def encode(self, x: Any) -> Any:
            return x

    with pytest.raises(ModelLoadError, match="_Codebook has no forward of its own .*encode"):
        hf_inputs(_Codebook(), _Config(model_type="vq"))


def test_lxmert_counts_its_36_regions(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    from transformers import LxmertConfig

    from flopwise.cli.app import app

    hidden = 64
    config = LxmertConfig(hidden_size=hidden, num_attention_heads=4, intermediate_size=128,
                          l_layers=1, x_layers=1, r_layers=1, vocab_size=100,
                          max_position_embeddings=32)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config.to_dict()))
    result = CliRunner().invoke(app, ["profile", f"hf:{path}", "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    modules = {row["name"]: row for row in report["modules"]}
    encoder = modules["encoder.visn_fc"]
    # 36 regions: features 2048 → hidden, boxes 4 → hidden (two linear layers)
    assert encoder["macs"] == 36 * 2048 * hidden + 36 * 4 * hidden
    assert "note: visual_feats: 36 image regions × 2048 (a detector's output)" in \
        result.stderr.splitlines()
