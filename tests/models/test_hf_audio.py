"""Inputs of audio, speech, codec, time-series and decision models (flopwise.models.hf_audio).

Stub models and configs carry only the fields a rule reads; each expected shape is worked out by
hand from them. One small real AST checks the MACs its made input implies.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from typer.testing import CliRunner

from flopwise.cli.app import app
from flopwise.models.hf_inputs import hf_inputs


class _Features(torch.nn.Module):
    main_input_name = "input_features"

    def __init__(self, first: torch.nn.Module) -> None:
        super().__init__()
        self.conv1 = first

    def forward(self, input_features: Any, input_features_mask: Any) -> Any:
        return input_features


class _Stacked(_Features):
    def __init__(self, first: torch.nn.Module) -> None:
        torch.nn.Module.__init__(self)
        self.input_linear = first


class _Latents(torch.nn.Module):
    main_input_name = "latents"

    def __init__(self) -> None:
        super().__init__()
        self.upsample = torch.nn.ConvTranspose1d(512, 512, 4, stride=2, groups=512)

    def forward(self, latents: Any) -> Any:
        return latents


class _Series(torch.nn.Module):
    main_input_name = "past_values"

    def forward(self, past_values: Any, past_values_padding: Any, freq: Any) -> Any:
        return past_values


class _Decision(torch.nn.Module):
    main_input_name = "states"

    def forward(self, states: Any = None, actions: Any = None, rewards: Any = None,
                returns_to_go: Any = None, timesteps: Any = None, attention_mask: Any = None) -> Any:
        return states


def test_a_whisper_style_stem_reads_mel_bins_first_with_twice_its_positions() -> None:
    config = SimpleNamespace(num_mel_bins=16, max_position_embeddings=50)
    made = hf_inputs(_Features(torch.nn.Conv1d(16, 8, 3)), config)
    assert made.shapes == ((1, 16, 2 * 50),)          # 16 mel bins, 2 · 50 positions
    assert made.kwargs["input_features_mask"].shape == (1, 100)   # one per frame


def test_a_first_linear_over_stacked_frames_gets_the_frames_stacked() -> None:
    config = SimpleNamespace(num_mel_bins=8, hidden_size=64)
    made = hf_inputs(_Stacked(torch.nn.Linear(4 * 8, 64)), config)
    assert made.shapes == ((1, 1000 // 4, 4 * 8),)    # 10 s = 1000 frames, 4 per step
    assert made.kwargs["input_features_mask"].shape == (1, 250)


def test_a_model_stacking_its_own_frames_gets_them_unstacked() -> None:
    config = SimpleNamespace(num_mel_bins=8, hidden_size=64, subsampling_factor=4)
    made = hf_inputs(_Stacked(torch.nn.Linear(4 * 8, 64)), config)
    assert made.shapes == ((1, 1000, 8),)             # 10 s at 100 frames/s, 8 bins


def test_a_wav2vec2_bert_projection_reads_its_input_width() -> None:
    config = SimpleNamespace(feature_projection_input_dim=160, hidden_size=64)
    made = hf_inputs(_Stacked(torch.nn.Linear(160, 64)), config)
    assert made.shapes == ((1, 1000 // 2, 160),)      # two stacked frames per step, 10 s


def test_codec_decoder_latents_cover_one_second() -> None:
    config = SimpleNamespace(model_type="mimi_decoder", upsampling_ratios=[8, 6, 5, 4])
    made = hf_inputs(_Latents(), config)
    # hop 8·6·5·4 = 960 samples, times the stride-2 upsampling: 1920; 24000 / 1920 = 12.5 → 13
    assert made.shapes == ((1, 512, 13),)


def test_timesfm_gets_no_padding_and_a_frequency_class() -> None:
    made = hf_inputs(_Series(), SimpleNamespace(model_type="timesfm", context_length=512))
    assert made.shapes == ((1, 512),)
    assert made.kwargs["past_values_padding"].shape == (1, 512)
    assert made.kwargs["past_values_padding"].high == 1           # all zero: nothing padded
    assert made.kwargs["freq"].shape == (1, 1)


def test_a_decision_transformer_gets_a_trajectory_of_twenty_steps() -> None:
    config = SimpleNamespace(model_type="decision_transformer", state_dim=17, act_dim=4,
                             max_ep_len=4096)
    made = hf_inputs(_Decision(), config)
    assert made.shapes == ((1, 20, 17),)
    assert made.kwargs["actions"].shape == (1, 20, 4)
    assert made.kwargs["returns_to_go"].shape == (1, 20, 1)
    assert made.kwargs["timesteps"].high == 4096


def test_an_audio_spectrogram_transformer_counts_its_patches(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    from transformers import ASTConfig

    config = ASTConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                       intermediate_size=64, patch_size=16, frequency_stride=10, time_stride=10,
                       max_length=32, num_mel_bins=16)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config.to_dict()))
    result = CliRunner().invoke(app, ["profile", f"hf:{path}", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert "note: input: 32 frames × 16 mel bins" in result.stderr
    # patches: (16 − 16) // 10 + 1 = 1 along frequency, (32 − 16) // 10 + 1 = 2 along time;
    # tokens: 2 patches + the cls and distillation tokens = 4
    d, f, t = 32, 64, 4
    patches = 2 * d * 16 * 16
    layer = 4 * t * d * d + 2 * t * t * d + 2 * t * d * f
    assert json.loads(result.stdout)["total"]["macs"] == patches + layer
