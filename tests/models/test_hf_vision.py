"""Inputs of detection, segmentation, matching, depth, OCR and video vision models
(flopwise.models.hf_vision), on stub models and configs.

Each expected shape is worked out by hand from the stub config's fields, or from the image
processor's documented default size (named beside it).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import torch

from flopwise.errors import UsageError
from flopwise.models.hf_inputs import hf_inputs
from flopwise.models.hf_vision import processor_size
from flopwise.models.inputs import make_inputs
from flopwise.models.loaded import LoadedModel
from flopwise.models.specs import TensorRequest


class _Image(torch.nn.Module):
    main_input_name = "pixel_values"

    def forward(self, pixel_values: Any) -> Any:
        return pixel_values


class _Prompted(torch.nn.Module):
    main_input_name = "pixel_values"

    def forward(self, pixel_values: Any, prompt_pixel_values: Any, prompt_masks: Any) -> Any:
        return pixel_values


class _TextAndVideo(torch.nn.Module):
    main_input_name = "input_ids"

    def forward(self, input_ids: Any = None, pixel_values: Any = None) -> Any:
        return input_ids


class _Tasked(torch.nn.Module):
    main_input_name = ["pixel_values", "task_inputs"]          # as OneFormer names it

    def forward(self, pixel_values: Any, task_inputs: Any) -> Any:
        return pixel_values


class _Config(SimpleNamespace):
    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def test_windowed_backbones_get_whole_windows_of_whole_patches() -> None:
    backbone = SimpleNamespace(image_size=518, patch_size=14, num_windows=4)
    made = hf_inputs(_Image(), SimpleNamespace(backbone_config=backbone, model_type=""))
    # windows of 4 patches of 14 px = 56 px; 518 / 56 = 9.25 → 10 windows = 560 px
    assert made.shapes == ((1, 3, 560, 560),)
    assert "whole 4×4 windows" in made.note


def test_a_nested_backbone_size_beats_the_imagenet_default() -> None:
    vision = SimpleNamespace(backbone_config=SimpleNamespace(image_size=[1024, 1024]))
    made = hf_inputs(_Image(), SimpleNamespace(vision_config=vision, model_type=""))
    assert made.shapes == ((1, 3, 1024, 1024),)


def test_video_frames_and_size_on_the_top_config_shape_the_image_beside_text() -> None:
    config = _Config(num_frames=48, max_img_size=448, model_type="",
                     max_position_embeddings=512)
    made = hf_inputs(_TextAndVideo(), config)
    assert made.shapes == ((1, 128),)                          # min(128, 512) tokens
    assert made.kwargs["pixel_values"] == TensorRequest((1, 48, 3, 448, 448))
    assert [n for n in made.notes if n.startswith("pixel_values:")] == [
        "pixel_values: 48 frames of 448×448 (config max_img_size; a video model: the config's "
        "frame count)"]


def test_keypoint_matchers_get_a_pair_of_images_at_the_processor_size() -> None:
    made = hf_inputs(_Image(), SimpleNamespace(model_type="lightglue"))
    # LightGlue's image processor resizes to 480×640 (height × width) by default
    assert made.shapes == ((1, 2, 3, 480, 640),)


def test_in_context_segmentation_gets_an_image_a_prompt_and_its_mask() -> None:
    made = hf_inputs(_Prompted(), SimpleNamespace(model_type="seggpt", image_size=[896, 448]))
    # the config's 896×448 is the prompt stacked over the image: each is SegGPT's 448×448
    assert made.shapes == ((1, 3, 448, 448),)
    for name in ("prompt_pixel_values", "prompt_masks"):
        assert made.kwargs[name] == TensorRequest((1, 3, 448, 448), "float32")


def test_task_tokens_follow_the_task_sequence_length_and_a_listed_main_input() -> None:
    config = SimpleNamespace(model_type="", task_seq_len=77, text_encoder_vocab_size=49408,
                             image_size=224)
    made = hf_inputs(_Tasked(), config)
    assert made.main == "pixel_values"
    assert made.shapes == ((1, 3, 224, 224),)
    assert made.kwargs["task_inputs"] == TensorRequest((1, 77), "int64", high=49408)


def test_processor_sizes_fixed_ones_only_and_towers_take_their_models() -> None:
    assert processor_size("sam2") == ("sam2", (1024, 1024))        # Sam2ImageProcessor
    assert processor_size("edgetam_vision_model") == ("edgetam", (1024, 1024))
    assert processor_size("detr") is None          # shortest edge 800: the aspect ratio decides


class _Tracker(torch.nn.Module):
    main_input_name = "pixel_values"

    def forward(self, inference_session: Any, frame_idx: Any = None) -> Any:
        return inference_session


def test_video_trackers_have_no_default_input_and_say_what_to_profile() -> None:
    made = hf_inputs(_Tracker(), SimpleNamespace(model_type="sam2_video"))
    assert made.shapes == ()
    loaded = LoadedModel("hf:sam2_video", "hf", _Tracker(), made.shapes, made.note)
    with pytest.raises(UsageError) as raised:
        make_inputs(loaded)
    message = str(raised.value)
    assert "\n" not in message and "inference session" in message and "hf:sam2," in message


def test_a_default_config_too_small_for_its_processor_keeps_the_generic_size() -> None:
    # PP-OCRv5 mobile's processor makes 48×320 text lines, which its default backbone (five
    # stride-2 stages: 48 / 2⁵ < 2) cannot pool; the generic 224 px default stays
    assert processor_size("pp_ocrv5_mobile_rec") is None
    assert processor_size("pp_ocrv5_server_rec") == ("pp_ocrv5_server_rec", (48, 320))
