"""Inputs made from a config and a forward's signature (flopwise.models.hf_inputs), on stubs.

Each expected shape is worked out by hand from the stub config's fields.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import torch

from flopwise.models.hf_inputs import hf_inputs
from flopwise.models.specs import TensorRequest


class _TimeSeries(torch.nn.Module):
    main_input_name = "past_values"

    def forward(self, past_values: Any, past_observed_mask: Any = None) -> Any:
        return past_values


class _NaFlex(torch.nn.Module):
    main_input_name = "pixel_values"

    def forward(self, pixel_values: Any, pixel_attention_mask: Any, spatial_shapes: Any) -> Any:
        return pixel_values


class _Packed(torch.nn.Module):
    main_input_name = "pixel_values"

    def forward(self, pixel_values: Any, grid_thw: Any, merge_sizes: Any) -> Any:
        return pixel_values


def test_time_series_get_their_context_window() -> None:
    made = hf_inputs(_TimeSeries(), SimpleNamespace(context_length=32, num_input_channels=3))
    assert made.shapes == ((1, 32, 3),)                 # batch 1, 32 steps, 3 channels


def test_naflex_towers_get_one_square_grid_of_flattened_patches() -> None:
    config = SimpleNamespace(patch_size=16, num_patches=256, num_channels=3)
    made = hf_inputs(_NaFlex(), config)
    assert made.shapes == ((1, 256, 3 * 16 * 16),)      # √256 = 16 patches a side
    assert made.kwargs["spatial_shapes"] == TensorRequest((1, 2), "int64", values=(16, 16))
    assert made.kwargs["pixel_attention_mask"].shape == (1, 256)


def test_packed_patches_round_the_image_up_to_whole_merged_blocks() -> None:
    config = SimpleNamespace(patch_size=16, temporal_patch_size=2, spatial_merge_size=3,
                             in_channels=3)
    made = hf_inputs(_Packed(), config)
    # 224 / (16·3) = 4.67 → 5 merged blocks = 15 patches a side; rows of 3·2·16·16 pixels
    assert made.shapes == ((15 * 15, 3 * 2 * 16 * 16),)
    assert made.kwargs["grid_thw"].values == (1, 15, 15)
    assert made.kwargs["merge_sizes"].values == (3,)
