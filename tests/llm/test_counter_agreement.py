"""The planner's forward matmul FLOPs equal the operator counter's, on transformers models.

The same config builds a transformers model on the meta device; ``flopwise.profile`` counts its
forward pass over a [batch, seq] batch of token ids under the ``matmul`` convention (2 per MAC
of every contraction), and :func:`flopwise.llm.forward_matmul_flops` must give the same integer.
"""

from __future__ import annotations

import pytest
import torch

import flopwise
from flopwise.llm import forward_matmul_flops, override_spec, spec_from_hf_config
from flopwise.llm.presets import preset_config
from tests.llm._hf import build_meta

CASES = [
    ("gpt2", 64, 2, {}),
    ("gpt2", 256, 1, {}),
    ("bert-base", 128, 2, {}),
    ("llama-2-7b", 128, 2, {}),
    ("llama-3-8b", 96, 1, {}),                # grouped-query attention, 8 KV heads
    ("qwen2-7b", 48, 1, {}),                  # q/k/v biases
    ("mistral-7b", 48, 1, {"sliding_window": 16}),  # the window masks, the square is computed
]


def _counted(name: str, seq: int, batch: int, overrides: dict) -> tuple[int, int]:
    fields = preset_config(name)
    fields.update(overrides)
    model_type = fields.pop("model_type")
    model = build_meta(model_type, fields)
    with torch.device("meta"):
        ids = torch.zeros(batch, seq, dtype=torch.long)
    report = flopwise.profile(model, kwargs={"input_ids": ids}, convention="matmul")
    spec = spec_from_hf_config({"model_type": model_type, **fields}, name)
    return report.total.flops, forward_matmul_flops(spec, seq, batch)


@pytest.mark.parametrize(("name", "seq", "batch", "overrides"), CASES,
                         ids=[f"{c[0]}-s{c[1]}-b{c[2]}" for c in CASES])
def test_forward_matmul_flops_match_the_counter(name: str, seq: int, batch: int, overrides: dict) -> None:
    counted, planned = _counted(name, seq, batch, overrides)
    assert counted == planned


def test_override_spec_matches_an_overridden_config() -> None:
    # The planner's override path (--kv-heads) agrees with a config carrying the same change.
    fields = preset_config("llama-2-7b")
    fields["num_key_value_heads"] = 8
    model_type = fields.pop("model_type")
    model = build_meta(model_type, fields)
    with torch.device("meta"):
        ids = torch.zeros(1, 32, dtype=torch.long)
    report = flopwise.profile(model, kwargs={"input_ids": ids}, convention="matmul")
    config = {"model_type": "llama", **preset_config("llama-2-7b")}
    spec = override_spec(spec_from_hf_config(config), kv_heads=8)
    assert report.total.flops == forward_matmul_flops(spec, 32)
