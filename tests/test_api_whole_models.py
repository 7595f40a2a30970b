"""Whole models that common counters get wrong: transformers (attention matmuls included),
grouped-query attention, recurrent stacks; all on the meta device (no weights, no network)."""

from __future__ import annotations

import pytest
import torch

import flopwise

transformers = pytest.importorskip("transformers")


def _meta(build):
    with torch.device("meta"):
        return build()


def test_gpt2_small_reproduces_nanogpt():
    # check-values.md: nanoGPT's transformer_sizing notebook, GPT-2 small, one 1024-token
    # sequence: forward 291,648,307,200 FLOPs at 2 per MAC (embeddings excluded, LM head in,
    # full attention square); forward + backward 874,944,921,600. HF's GPT-2 has biases, which
    # the matmul convention does not count, so the same figures must come out.
    # By hand: per token per layer 12·h² (qkv 3h², proj h², MLP 8h²) + 2·s·h (QKᵀ, AV),
    # LM head h·V: (12·(12·768² + 2·1024·768) + 768·50257) · 1024 · 2 = 291,648,307,200.
    h, s, layers, vocab = 768, 1024, 12, 50257
    forward = (layers * (12 * h * h + 2 * s * h) + h * vocab) * s * 2
    assert forward == 291_648_307_200
    model = _meta(lambda: transformers.GPT2LMHeadModel(transformers.GPT2Config()))
    ids = torch.zeros(1, s, dtype=torch.long, device="meta")
    report = flopwise.profile(model, (ids,), convention="matmul", backward=True)
    assert report.total.params == 124_439_808                  # check-values.md
    assert report.phases["forward"].flops == forward
    assert report.total.flops == 874_944_921_600              # backward measured: 2× forward
    assert report.unsupported == {}


def test_bert_base_counts_attention_matmuls():
    # BertModel (with pooler), 128 tokens: per layer 12·s·h² + 2·s²·h, pooler h² on one token
    h, s, layers = 768, 128, 12
    model = _meta(lambda: transformers.BertModel(transformers.BertConfig()))
    report = flopwise.profile(model, (torch.zeros(1, s, dtype=torch.long, device="meta"),))
    assert report.total.params == 109_482_240                  # check-values.md
    assert report.total.macs == layers * (12 * s * h * h + 2 * s * s * h) + h * h
    assert report.unsupported == {}


def test_llama_style_grouped_query_attention_on_meta():
    # hidden 256, 8 heads of 32, 2 kv heads, SwiGLU 688, vocab 1000, 2 layers, 32 tokens:
    # per token per layer q 256², k and v 256·(2·32), o 256², MLP 3·256·688, QKᵀ and AV 32·256
    h, heads, kv, d, f, vocab, layers, s = 256, 8, 2, 32, 688, 1000, 2, 32
    config = transformers.LlamaConfig(hidden_size=h, num_hidden_layers=layers,
                                      num_attention_heads=heads, num_key_value_heads=kv,
                                      intermediate_size=f, vocab_size=vocab)
    model = _meta(lambda: transformers.LlamaForCausalLM(config))
    report = flopwise.profile(model, (torch.zeros(1, s, dtype=torch.long, device="meta"),))
    per_token_layer = h * h + 2 * h * (kv * d) + h * h + 3 * h * f + 2 * s * (heads * d)
    assert report.total.macs == (layers * per_token_layer + h * vocab) * s
    # parameters: embeddings and LM head V·h each, per layer the projections, MLP and 2 norms
    per_layer = 2 * h * h + 2 * h * kv * d + 3 * h * f + 2 * h
    assert report.total.params == 2 * vocab * h + layers * per_layer + h
    assert report.unsupported == {}


def test_llama_2_70b_config_profiles_on_meta():
    # check-values.md: Llama-2-70B has 68,976,648,192 parameters
    config = transformers.LlamaConfig(hidden_size=8192, num_hidden_layers=80,
                                      num_attention_heads=64, num_key_value_heads=8,
                                      intermediate_size=28672, vocab_size=32000)
    model = _meta(lambda: transformers.LlamaForCausalLM(config))
    report = flopwise.profile(model, (torch.zeros(1, 16, dtype=torch.long, device="meta"),),
                              convention="matmul")
    assert report.total.params == 68_976_648_192
    h, kv, d, f, s = 8192, 8, 128, 28672, 16
    per_token_layer = 2 * h * h + 2 * h * kv * d + 3 * h * f + 2 * s * h
    assert report.total.flops == 2 * s * (80 * per_token_layer + h * 32000)


def test_lstm_stack_with_backward():
    # 2-layer LSTM 8 → 16 on [T=5, B=3]: layer 1 reads 8, layer 2 reads 16; backward = data
    # gradient + weight gradient = 2× the forward MACs
    lstm = torch.nn.LSTM(8, 16, num_layers=2)
    report = flopwise.profile(lstm, torch.randn(5, 3, 8), backward=True)
    forward = 5 * 3 * 4 * 16 * ((8 + 16) + (16 + 16))
    assert report.phases["forward"].macs == forward
    assert report.phases["backward"].macs == 2 * forward


def test_mixtral_style_mixture_of_experts():
    # hidden 64, 4 heads of 16, 2 kv heads, 4 experts of SwiGLU 128, top-2, vocab 100, 2 layers,
    # 8 tokens (bf16: the grouped expert GEMM needs 16-bit inputs). Per token per layer:
    # q, o 64² each, k, v 64·32 each, router 64·4, two experts 2·3·64·128, QKᵀ + AV 2·8·64
    h, kv_dim, f, experts, top, vocab, layers, s = 64, 32, 128, 4, 2, 100, 2, 8
    config = transformers.MixtralConfig(hidden_size=h, intermediate_size=f, num_hidden_layers=layers,
                                        num_attention_heads=4, num_key_value_heads=2,
                                        vocab_size=vocab, num_local_experts=experts,
                                        num_experts_per_tok=top)
    model = _meta(lambda: transformers.MixtralForCausalLM(config).to(torch.bfloat16))
    report = flopwise.profile(model, (torch.zeros(1, s, dtype=torch.long, device="meta"),))
    per_token_layer = 2 * h * h + 2 * h * kv_dim + h * experts + top * 3 * h * f + 2 * s * h
    assert report.total.macs == (layers * per_token_layer + h * vocab) * s
    assert report.unsupported == {}
