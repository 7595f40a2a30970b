"""A tiny GPT-2 built from a config (no download), its batches, and its FLOPs derived by hand."""

from __future__ import annotations

import torch

LAYERS, WIDTH, HEADS, VOCAB = 2, 32, 2, 64


def tiny_gpt(seed: int = 0) -> torch.nn.Module:
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    config = GPT2Config(n_layer=LAYERS, n_embd=WIDTH, n_head=HEADS, vocab_size=VOCAB,
                        n_positions=64, bos_token_id=0, eos_token_id=0)
    return GPT2LMHeadModel(config).train()


def batch(size: int, length: int, seed: int = 0) -> dict[str, torch.Tensor]:
    ids = torch.randint(0, VOCAB, (size, length), generator=torch.Generator().manual_seed(seed))
    return {"input_ids": ids, "labels": ids}


def block_forward_flops(size: int, length: int) -> int:
    """Matmul FLOPs of the transformer blocks' forward: per layer, per token, q/k/v (d·3d),
    the output projection (d·d) and the MLP (d·4d twice): 12·d² MACs; per sequence the scores
    and the weighted sum, T·T·d MACs each; 2 FLOPs per MAC."""
    tokens = size * length
    per_layer = 2 * tokens * 12 * WIDTH**2 + 2 * 2 * size * length**2 * WIDTH
    return LAYERS * per_layer


def training_step_flops(size: int, length: int) -> int:
    """Forward (blocks + the LM head, d·V MACs per token) and a backward of twice that: every
    matmul here has both operands requiring grad (the LM head is tied to the embedding)."""
    forward = block_forward_flops(size, length) + 2 * size * length * WIDTH * VOCAB
    return 3 * forward


def hf_six_n_flops(size: int, length: int) -> int:
    """The HF Trainer's estimate: 6 · non-embedding parameters · tokens. Per layer 12·d² weights
    and 13·d biases and norm parameters (qkv 3d, proj d, fc 4d, fc-proj d, two norms 4d), plus
    the final norm's 2·d."""
    non_embedding = LAYERS * (12 * WIDTH**2 + 13 * WIDTH) + 2 * WIDTH
    return 6 * non_embedding * size * length


def hooks_left(model: torch.nn.Module) -> int:
    """Hooks registered on torch's global module hooks and on any submodule of ``model``."""
    registry = torch.nn.modules.module
    global_hooks = (registry._global_forward_pre_hooks, registry._global_forward_hooks,
                    registry._global_backward_hooks, registry._global_backward_pre_hooks)
    own = sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
              + len(m._backward_pre_hooks) for m in model.modules())
    return sum(len(hooks) for hooks in global_hooks) + own
