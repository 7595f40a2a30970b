"""Build the Hugging Face model of a preset on the meta device (tests only: imports torch)."""

from __future__ import annotations

from typing import Any

import torch
from transformers import AutoConfig, AutoModelForCausalLM, BertModel, T5EncoderModel

from flopwise.llm.presets import preset_config


def build_meta(model_type: str, fields: dict[str, Any]) -> torch.nn.Module:
    """The transformers model for a config on ``meta``: BertModel / T5EncoderModel for
    encoders, the causal-LM class otherwise. Nothing is allocated."""
    config = AutoConfig.for_model(model_type, **fields)
    with torch.device("meta"):
        if model_type in ("bert", "roberta"):
            return BertModel(config) if model_type == "bert" else _roberta(config)
        if model_type in ("t5", "mt5"):
            return T5EncoderModel(config)
        return AutoModelForCausalLM.from_config(config)


def _roberta(config: Any) -> torch.nn.Module:
    from transformers import RobertaModel

    return RobertaModel(config)


def build_preset(name: str) -> torch.nn.Module:
    """The transformers model of preset ``name`` on ``meta``, from the preset's own fields."""
    fields = preset_config(name)
    model_type = fields.pop("model_type")
    return build_meta(model_type, fields)


def numel(model: torch.nn.Module) -> int:
    """``sum(p.numel() for p in model.parameters())``: tied weights counted once."""
    return sum(p.numel() for p in model.parameters())
