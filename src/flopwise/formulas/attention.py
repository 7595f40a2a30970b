"""Scaled dot-product attention in every kernel, and the fused multi-head attention paths.

For query ``[B, h, Lq, d]`` and key/value ``[B, hk, Lk, d|dv]`` (``hk`` may be smaller: grouped
query attention): QKᵀ is ``B·h·Lq·Lk·d`` MACs and the weighted sum of values ``B·h·Lq·Lk·dv``.
The softmax costs ``SOFTMAX_PER_SCORE`` FLOPs per score plus one for the scale (and one for an
additive mask).

NB: causal masking is counted as the full Lq×Lk square, as the math kernels compute it and as the
MFU literature counts it; flash-style kernels skip about half of it.
NB: the backward of the fused kernels (flash, efficient, cuDNN, the CPU flash kernel) recomputes
the scores, so it is counted as five products (QKᵀ again, dV, dP, dQ, dK): 2.5× the forward
matmul MACs. The math path's backward is counted op by op through autograd instead.
"""

from __future__ import annotations

from flopwise.formulas._helpers import first_spec
from flopwise.formulas.registry import FormulaTable
from flopwise.formulas.spec import Cost, TensorSpec

__all__ = ["attention_cost", "attention_backward_cost", "TABLE", "SOFTMAX_PER_SCORE"]

# softmax per score: max-subtract (2), exp (1), sum (1), divide (1)
SOFTMAX_PER_SCORE = 5
# softmax backward per score: dS = P ∘ (dP − rowsum(dO ∘ O)): subtract, multiply, plus the
# rowsum term (2) and the recomputed exp (1)
SOFTMAX_BACKWARD_PER_SCORE = 5


def attention_cost(batch_heads: int, lq: int, lk: int, d: int, dv: int, masked: bool = False) -> Cost:
    """Forward attention for ``batch_heads`` (B·h) heads.

    >>> attention_cost(1, 4, 4, 8, 8).macs   # QKᵀ 4·4·8 + AV 4·4·8
    256
    """
    scores = batch_heads * lq * lk
    elementwise = scores * (SOFTMAX_PER_SCORE + 1 + (1 if masked else 0))
    return Cost(
        macs=scores * d + scores * dv,
        dot_outputs=scores + batch_heads * lq * dv,
        elementwise=elementwise,
    )


def attention_backward_cost(batch_heads: int, lq: int, lk: int, d: int, dv: int) -> Cost:
    """Backward of a fused attention kernel: recomputed QKᵀ, dV, dP, dQ, dK."""
    scores = batch_heads * lq * lk
    macs = 3 * scores * d + 2 * scores * dv
    dots = scores + batch_heads * lk * dv + scores + batch_heads * lq * d + batch_heads * lk * d
    return Cost(macs=macs, dot_outputs=dots,
                elementwise=scores * (SOFTMAX_BACKWARD_PER_SCORE + 1))


def _bhld(query: TensorSpec, key: TensorSpec, value: TensorSpec) -> tuple[int, int, int, int, int]:
    """(B·h, Lq, Lk, d, dv) for the [B, h, L, d] layout of the sdpa kernels."""
    *lead, lq, d = query.shape
    lk = key.shape[-2]
    dv = value.shape[-1]
    batch_heads = 1
    for size in lead:
        batch_heads *= size
    return batch_heads, lq, lk, d, dv


def _blhd(query: TensorSpec, key: TensorSpec, value: TensorSpec) -> tuple[int, int, int, int, int]:
    """(B·h, Lq, Lk, d, dv) for the [B, L, h, d] layout of the flash/efficient kernels."""
    batch, lq, heads, d = query.shape
    return batch * heads, lq, key.shape[1], d, value.shape[-1]


TABLE = FormulaTable("attention")
_FUSED_NOTE = "causal counted as the full square; backward recomputes scores (5 products)"


@TABLE.formula(
    "aten._scaled_dot_product_flash_attention_for_cpu",
    "aten._scaled_dot_product_flash_attention",
    "aten._scaled_dot_product_attention_math_for_mps",
    "aten._scaled_dot_product_fused_attention_overrideable",
    note=_FUSED_NOTE,
)
def sdpa(result, query: TensorSpec, key: TensorSpec, value: TensorSpec, *args,
         attn_mask=None, **__) -> Cost:
    """QKᵀ B·h·Lq·Lk·d + AV B·h·Lq·Lk·dv MACs; softmax and scale per score."""
    masked = attn_mask is not None or isinstance(first_spec(args[:1]), TensorSpec)
    return attention_cost(*_bhld(query, key, value), masked=masked)


@TABLE.formula(
    "aten._scaled_dot_product_efficient_attention",
    "aten._scaled_dot_product_cudnn_attention",
    note=_FUSED_NOTE,
)
def sdpa_with_bias(result, query: TensorSpec, key: TensorSpec, value: TensorSpec,
                   attn_bias=None, *_, **__) -> Cost:
    """As the flash kernel; an attention bias adds one FLOP per score."""
    return attention_cost(*_bhld(query, key, value), masked=attn_bias is not None)


@TABLE.formula("aten._flash_attention_forward", "aten._efficient_attention_forward",
               note=_FUSED_NOTE + "; [B, L, h, d] layout")
def flash_forward(result, query: TensorSpec, key: TensorSpec, value: TensorSpec,
                  *_, **__) -> Cost:
    """The raw flash/efficient kernels ([B, L, h, d] layout): as sdpa."""
    return attention_cost(*_blhd(query, key, value))


@TABLE.formula(
    "aten._scaled_dot_product_flash_attention_for_cpu_backward",
    "aten._scaled_dot_product_flash_attention_backward",
    "aten._scaled_dot_product_efficient_attention_backward",
    "aten._scaled_dot_product_cudnn_attention_backward",
    "aten._scaled_dot_product_fused_attention_overrideable_backward",
    note=_FUSED_NOTE,
)
def sdpa_backward(result, grad_out: TensorSpec, query: TensorSpec, key: TensorSpec,
                  value: TensorSpec, *_, **__) -> Cost:
    """Recomputed QKᵀ, dV, dP, dQ, dK: 3·B·h·Lq·Lk·d + 2·B·h·Lq·Lk·dv MACs."""
    return attention_backward_cost(*_bhld(query, key, value))


@TABLE.formula("aten._flash_attention_backward", "aten._efficient_attention_backward",
               note=_FUSED_NOTE + "; [B, L, h, d] layout")
def flash_backward(result, grad_out: TensorSpec, query: TensorSpec, key: TensorSpec,
                   value: TensorSpec, *_, **__) -> Cost:
    """The raw flash/efficient backward kernels ([B, L, h, d] layout)."""
    return attention_backward_cost(*_blhd(query, key, value))


@TABLE.formula("aten._native_multi_head_attention",
               note="nn.MultiheadAttention's fast path (eval, no grad)")
def native_mha(result, query: TensorSpec, key: TensorSpec, value: TensorSpec, embed_dim: int,
               num_heads: int, qkv_weight, qkv_bias, proj_weight, proj_bias, mask=None,
               *_, **__) -> Cost:
    """In-projections (Lq + 2·Lk)·E² per batch, attention, out-projection Lq·E²."""
    return _mha_cost(query, key, int(embed_dim), int(num_heads), mask is not None)


@TABLE.formula("aten._transformer_encoder_layer_fwd",
               note="nn.TransformerEncoderLayer's fast path (eval, no grad)")
def encoder_layer(result, src: TensorSpec, embed_dim: int, num_heads: int, qkv_weight,
                  qkv_bias, proj_weight, proj_bias, use_gelu: bool, norm_first: bool, eps,
                  norm_weight_1, norm_bias_1, norm_weight_2, norm_bias_2,
                  ffn_weight_1: TensorSpec, ffn_bias_1, ffn_weight_2, ffn_bias_2,
                  mask=None, *_, **__) -> Cost:
    """Self-attention block + two LayerNorms + the feed-forward block (two linears)."""
    return _encoder_layer_cost(src, int(embed_dim), int(num_heads), ffn_weight_1,
                               bool(use_gelu), mask is not None)


def _mha_cost(query: TensorSpec, key: TensorSpec, embed_dim: int, heads: int, masked: bool) -> Cost:
    # NB: assumes batch-first [B, L, E] (the fast path's layout); nested tensors are not seen here.
    batch, lq = query.shape[0], query.shape[-2]
    lk = key.shape[-2]
    head_dim = embed_dim // heads
    rows_q, rows_k = batch * lq, batch * lk
    projections = Cost(
        macs=(rows_q + 2 * rows_k) * embed_dim * embed_dim + rows_q * embed_dim * embed_dim,
        dot_outputs=(rows_q + 2 * rows_k) * embed_dim + rows_q * embed_dim,
        bias_adds=(rows_q + 2 * rows_k) * embed_dim + rows_q * embed_dim,
    )
    return projections + attention_cost(batch * heads, lq, lk, head_dim, head_dim, masked)


# LayerNorm per element: statistics (mean 1, variance 3), normalise (2), affine (2)
_LAYER_NORM_PER_ELEMENT = 8
_GELU_PER_ELEMENT = 5
_RELU_PER_ELEMENT = 1


def _encoder_layer_cost(src: TensorSpec, embed_dim: int, heads: int, ffn_weight_1: TensorSpec,
                        use_gelu: bool, masked: bool) -> Cost:
    rows = src.numel // embed_dim
    ffn = ffn_weight_1.shape[0]
    attention = _mha_cost(src, src, embed_dim, heads, masked)
    feed_forward = Cost(
        macs=2 * rows * embed_dim * ffn,
        dot_outputs=rows * (ffn + embed_dim),
        bias_adds=rows * (ffn + embed_dim),
        elementwise=rows * ffn * (_GELU_PER_ELEMENT if use_gelu else _RELU_PER_ELEMENT),
    )
    norms_and_residuals = Cost(elementwise=2 * src.numel * (_LAYER_NORM_PER_ELEMENT + 1))
    return attention + feed_forward + norms_and_residuals
