"""profile_generate: a real generate() call on CPU, split into its prefill and decode steps."""

from __future__ import annotations

import torch
from transformers import AutoConfig, AutoModelForCausalLM

import flopwise

H, HEADS, KV_HEADS, D, FFN, VOCAB, LAYERS = 64, 4, 2, 16, 128, 100, 2
PROMPT, NEW = 6, 5


def _model() -> torch.nn.Module:
    config = AutoConfig.for_model("llama", hidden_size=H, intermediate_size=FFN,
                                  num_hidden_layers=LAYERS, num_attention_heads=HEADS,
                                  num_key_value_heads=KV_HEADS, vocab_size=VOCAB)
    torch.manual_seed(0)
    return AutoModelForCausalLM.from_config(config).eval()


def _generate(model: torch.nn.Module, convention: str) -> flopwise.serving.GenerateTrace:
    ids = torch.randint(0, VOCAB, (1, PROMPT), generator=torch.Generator().manual_seed(1))
    return flopwise.profile_generate(model, ids, max_new_tokens=NEW, min_new_tokens=NEW,
                                     do_sample=False, convention=convention)


DENSE = LAYERS * (4 * H * HEADS * D + 3 * H * FFN)   # projections (k·d = h/2 here) + gated MLP


def test_generate_splits_into_prefill_and_decode_steps() -> None:
    trace = _generate(_model(), "matmul")
    assert len(trace.steps) == NEW                 # the prefill makes token 1, 4 decode steps
    assert [(s.tokens, s.context) for s in trace.steps] == [(6, 6), (1, 7), (1, 8), (1, 9), (1, 10)]
    # prefill: 6 tokens through the blocks, the full 6×6 square, logits of the last token only
    projections = LAYERS * H * (2 * HEADS * D + 2 * KV_HEADS * D)
    mlp = LAYERS * 3 * H * FFN
    assert trace.prefill.forward_macs == (PROMPT * (projections + mlp)
                                          + LAYERS * 2 * HEADS * D * PROMPT * PROMPT + H * VOCAB)
    for step in trace.decode:
        attention = LAYERS * 2 * HEADS * D * step.context
        assert step.forward_macs == projections + mlp + attention + H * VOCAB
        assert step.forward_flops == 2 * step.forward_macs
        assert step.other_flops == 0               # argmax and bookkeeping: no matmuls


def test_totals_equal_the_sum_of_the_steps() -> None:
    trace = _generate(_model(), "standard")
    total = trace.report.total
    assert total.flops == trace.setup_flops + sum(step.flops for step in trace.steps)
    assert total.macs == trace.setup_macs + sum(step.macs for step in trace.steps)
    assert sum(step.other_flops for step in trace.steps) > 0   # standard counts the logits work
    assert trace.report.unsupported == {}


def test_steps_equal_the_traced_formula() -> None:
    model = _model()
    trace = _generate(model, "matmul")
    ids = torch.zeros(1, PROMPT, dtype=torch.long)
    traced = flopwise.profile_generation(model, ids, NEW, convention="matmul", logits_to_keep=1)
    assert trace.prefill.forward_flops == traced.prefill.flops
    assert [s.forward_flops for s in trace.decode] == [traced.decode_at(s.context).flops
                                                       for s in trace.decode]
    assert sum(s.flops for s in trace.steps) == traced.prefill.flops + traced.serving.decode_flops_total


def test_model_is_left_as_found() -> None:
    model = _model()
    state = {name: value.clone() for name, value in model.state_dict().items()}
    rng = torch.get_rng_state()
    _generate(model, "standard")
    assert all(torch.equal(state[name], value) for name, value in model.state_dict().items())
    assert torch.equal(torch.get_rng_state(), rng)
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    assert not torch.nn.modules.module._global_forward_pre_hooks
    assert not model.training
