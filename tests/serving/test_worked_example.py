"""docs/serving.md's worked example: Llama-2-7B (bf16, meta) on an H100, 2,048 + 256 tokens."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoConfig, AutoModelForCausalLM

import flopwise
from flopwise.hardware import get_accelerator
from flopwise.llm import load_spec, plan
from flopwise.llm.presets import preset_config
from flopwise.serving import serving_times

pytestmark = pytest.mark.slow          # a full-size 32-layer trace: about 20 s


@pytest.fixture(scope="module")
def timed() -> flopwise.serving.ServingSection:
    fields = preset_config("llama-2-7b")
    model_type = fields.pop("model_type")
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(AutoConfig.for_model(model_type, **fields),
                                                 dtype=torch.bfloat16)
        ids = torch.zeros(1, 2048, dtype=torch.long)
    result = flopwise.profile_generation(model, ids, max_new_tokens=256, convention="matmul")
    return serving_times(result.serving, get_accelerator("h100-sxm"), (1, 8, 64))


def test_figures_in_the_docs(timed: flopwise.serving.ServingSection) -> None:
    h, l, f, v = 4096, 32, 11008, 32000
    assert timed.weights_bytes == 2 * 6_738_415_616
    (piece,) = timed.decode
    assert piece.flops.coefficients == (2 * (l * (4 * h * h + 3 * h * f) + h * v), 4 * l * h, 0)
    assert piece.kv_bytes.coefficients == (0, 2 * l * h * 2, 0)
    assert timed.decode_flops_total == sum(2 * (l * (4 * h * h + 3 * h * f) + h * v) + 4 * l * h * c
                                           for c in range(2049, 2304))
    hardware = timed.hardware
    assert hardware.crossover_batch is None
    assert hardware.weights_only_crossover_batch == 276
    one, _, many = hardware.times
    assert (round(one.ttft_s * 1e3, 2), round(many.ttft_s, 3)) == (29.58, 1.893)
    assert (round(one.tpot_first_s * 1e3, 3), round(one.tpot_last_s * 1e3, 3)) == (4.344, 4.383)
    assert (round(many.tpot_first_s * 1e3, 2), round(many.tpot_last_s * 1e3, 2)) == (24.55, 27.09)
    assert (round(one.tokens_per_s), round(many.tokens_per_s)) == (229, 2479)


@pytest.mark.parametrize("batch", [1, 64], ids=["batch-1", "batch-64"])
def test_equal_to_the_planner(timed: flopwise.serving.ServingSection, batch: int) -> None:
    spec = load_spec("llama-2-7b")
    row = next(t for t in timed.hardware.times if t.batch == batch)
    prompt = plan(spec, seq=2048, batch=batch, hardware="h100-sxm", mode="infer").time
    last = plan(spec, seq=2303, batch=batch, hardware="h100-sxm", mode="infer").time
    assert timed.prefill.flops * batch == prompt.prefill.flops
    assert timed.prefill.bytes_read == plan(spec, seq=2048, hardware="h100-sxm").time.prefill.bytes
    assert row.ttft_s == pytest.approx(prompt.prefill.seconds, rel=1e-12)
    assert row.tpot_last_s == pytest.approx(last.decode.seconds, rel=1e-12)
    assert timed.decode_at(2303).flops * batch == last.decode.flops
