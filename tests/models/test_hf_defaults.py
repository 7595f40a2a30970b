"""Default configs that fail their own forward: the CLI's one line names the field to set."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("transformers")

from flopwise.models.failures import CallTrace, describe_failure  # noqa: E402


def _tiny_lw_detr(scales: list[float]) -> torch.nn.Module:
    """LW-DETR with a 2-layer, 32-wide ViT backbone on 64² images; ``scales`` as the default
    config's projector_scale_factors (empty) or as a user's config.json would set them."""
    from transformers import LwDetrConfig, LwDetrModel

    torch.manual_seed(0)
    config = LwDetrConfig(
        backbone_config={"model_type": "lw_detr_vit", "image_size": 64, "hidden_size": 32,
                         "num_hidden_layers": 2, "num_attention_heads": 2,
                         "window_block_indices": [0], "out_indices": [1, 2]},
        projector_scale_factors=scales, d_model=32, decoder_layers=1, num_queries=10,
        decoder_ffn_dim=64, decoder_self_attention_heads=2, decoder_cross_attention_heads=2,
        group_detr=1)
    return LwDetrModel(config).eval()


def _failure(model: torch.nn.Module, spec: str) -> str:
    with CallTrace(model) as trace, pytest.raises(ValueError) as raised:
        model(torch.randn(1, 3, 64, 64))
    return describe_failure(raised.value, trace, "cpu", spec)


def test_the_default_config_fault_is_named_in_one_line() -> None:
    line = _failure(_tiny_lw_detr([]), "hf:lw_detr")
    assert "\n" not in line
    assert line.startswith("hf:lw_detr: transformers' default config is invalid for its own "
                           "forward: its projector_scale_factors is empty")
    assert "(ValueError: torch.cat(): expected a non-empty list of Tensors)" in line
    assert line.endswith("pass a config.json that sets projector_scale_factors (one scale per "
                         "feature level, e.g. [1.0]) (`flopwise profile path/to/config.json`)")


def test_the_field_the_line_names_makes_the_forward_run() -> None:
    with torch.no_grad():
        out = _tiny_lw_detr([1.0])(torch.randn(1, 3, 64, 64))
    assert out.last_hidden_state.shape == (1, 10, 32)       # num_queries × d_model


def test_a_user_config_gets_the_model_s_own_error() -> None:
    line = _failure(_tiny_lw_detr([]), "path/to/config.json")   # not transformers' default
    assert "default config" not in line and "torch.cat()" in line


def test_deepseek_v2_s_odd_expert_width_is_named() -> None:
    from flopwise.models.hf_defaults import default_config_fault

    error = RuntimeError("Expected mat_a stride along 0 dim to be multiple of 16 bytes, got 2814")
    line = default_config_fault("hf:deepseek_v2", error)
    assert "1407" in line and "2814 bytes" in line          # 1407 × 2 bytes (bfloat16)
    assert line.endswith("sets moe_intermediate_size (1408, as DeepSeek-V2-Lite's config.json) "
                         "(`flopwise profile path/to/config.json`)")
