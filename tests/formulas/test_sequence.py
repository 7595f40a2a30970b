"""Attention (every sdpa kernel, nn.MultiheadAttention's fast path, the fused encoder layer) and
recurrent layers (stacked, bidirectional, proj_size, cells, the fused kernels)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from tests.formulas.support import Direct, Run, S, check_direct, check_run, covered

r = torch.randn
sdpa = F.scaled_dot_product_attention

# q, k, v [B=2, h=4, L=5, d=8]: 2·4 heads × 5·5 scores; QKᵀ and AV each 200·8 MACs.
# softmax 5 + scale 1 FLOPs per score.
SCORES = 2 * 4 * 5 * 5

ATTENTION = [
    Run("sdpa-cpu", sdpa, lambda: (r(2, 4, 5, 8), r(2, 4, 5, 8), r(2, 4, 5, 8)),
        ("aten._scaled_dot_product_flash_attention_for_cpu",),
        {"macs": 2 * SCORES * 8, "dot_outputs": SCORES + 2 * 4 * 5 * 8, "elementwise": 6 * SCORES}),
    Run("sdpa-cpu-causal", lambda q, k, v: sdpa(q, k, v, is_causal=True),
        lambda: (r(2, 4, 5, 8), r(2, 4, 5, 8), r(2, 4, 5, 8)),
        ("aten._scaled_dot_product_flash_attention_for_cpu",), {"macs": 2 * SCORES * 8}),
    # grouped-query: 8 query heads share 2 kv heads; Lq 4, Lk 6, d 16 → 8·4·6·16 per product
    Run("sdpa-cpu-gqa", lambda q, k, v: sdpa(q, k, v, enable_gqa=True),
        lambda: (r(1, 8, 4, 16), r(1, 2, 6, 16), r(1, 2, 6, 16)),
        ("aten._scaled_dot_product_flash_attention_for_cpu",), {"macs": 2 * 8 * 4 * 6 * 16}),
    # backward recomputes QKᵀ then dV, dP, dQ, dK: 5 products of 200·8
    Run("sdpa-cpu-backward", sdpa,
        lambda: tuple(r(2, 4, 5, 8, requires_grad=True) for _ in range(3)),
        ("aten._scaled_dot_product_flash_attention_for_cpu_backward",),
        {"macs": 5 * SCORES * 8}, backward=True, phase="backward"),
]

MHA_MACS = (
    (2 * 5 + 2 * 2 * 5) * 16 * 16  # in-projections: B·Lq + 2·B·Lk rows, 16 → 16
    + 2 * 5 * 16 * 16              # out-projection
    + 2 * (2 * 4) * 5 * 5 * 4      # QKᵀ and AV: 8 heads of size 4, 5×5 scores
)


def _mha():
    torch.manual_seed(0)
    return torch.nn.MultiheadAttention(16, 4, batch_first=True).eval()


def _encoder():
    torch.manual_seed(0)
    return torch.nn.TransformerEncoderLayer(16, 4, 32, batch_first=True, dropout=0.0).eval()


_MHA, _ENCODER = _mha(), _encoder()

ATTENTION += [
    Run("mha-fast-path", lambda q: _MHA(q, q, q), lambda: (r(2, 5, 16),),
        ("aten._native_multi_head_attention",), {"macs": MHA_MACS}, no_grad=True),
    # the same module with grad enabled takes the op-by-op path: the same MACs
    Run("mha-slow-path", lambda q: _MHA(q, q, q), lambda: (r(2, 5, 16),),
        ("aten.addmm", "aten.bmm", "aten.mm"), {"macs": MHA_MACS}),
    # encoder layer fast path: attention + feed-forward 16 → 32 → 16 on 10 rows
    Run("encoder-layer-fast-path", lambda x: _ENCODER(x), lambda: (r(2, 5, 16),),
        ("aten._transformer_encoder_layer_fwd",),
        {"macs": MHA_MACS + 2 * 10 * 16 * 32}, no_grad=True),
]

# The CUDA/MPS kernels cannot run here; their formulas are called with the kernels' shapes.
Q, K = S(2, 4, 5, 8), S(2, 4, 5, 8)
Q_BLHD = S(2, 5, 4, 8)
ATTENTION_DIRECT = [
    Direct("sdpa-gpu-kernels",
           ("aten._scaled_dot_product_flash_attention",
            "aten._scaled_dot_product_attention_math_for_mps",
            "aten._scaled_dot_product_fused_attention_overrideable"),
           (S(2, 4, 5, 8),), (Q, K, K), {"macs": 2 * SCORES * 8, "elementwise": 6 * SCORES}),
    # an additive bias costs one more FLOP per score
    Direct("sdpa-efficient-cudnn",
           ("aten._scaled_dot_product_efficient_attention",
            "aten._scaled_dot_product_cudnn_attention"),
           (S(2, 4, 5, 8),), (Q, K, K, S(2, 4, 5, 5)),
           {"macs": 2 * SCORES * 8, "elementwise": 7 * SCORES}),
    Direct("flash-efficient-raw", ("aten._flash_attention_forward",
                                   "aten._efficient_attention_forward"),
           (Q_BLHD,), (Q_BLHD, Q_BLHD, Q_BLHD), {"macs": 2 * SCORES * 8}),
    Direct("sdpa-gpu-backward",
           ("aten._scaled_dot_product_flash_attention_backward",
            "aten._scaled_dot_product_efficient_attention_backward",
            "aten._scaled_dot_product_cudnn_attention_backward",
            "aten._scaled_dot_product_fused_attention_overrideable_backward"),
           (Q, Q, Q), (S(2, 4, 5, 8), Q, K, K), {"macs": 5 * SCORES * 8}),
    Direct("flash-efficient-raw-backward", ("aten._flash_attention_backward",
                                            "aten._efficient_attention_backward"),
           (Q_BLHD,), (Q_BLHD, Q_BLHD, Q_BLHD, Q_BLHD), {"macs": 5 * SCORES * 8}),
]

# LSTM(8 → 16), T=5, B=3: per step 4 gates × 16 units × (8 + 16) inputs
RECURRENT = [
    Run("lstm-onednn", torch.nn.LSTM(8, 16), lambda: (r(5, 3, 8),),
        ("aten.mkldnn_rnn_layer",),
        {"macs": 5 * 3 * 4 * 16 * (8 + 16), "elementwise": 5 * 3 * 16 * 22}),
    Run("lstm-onednn-backward", torch.nn.LSTM(8, 16), lambda: (r(5, 3, 8),),
        ("aten.mkldnn_rnn_layer_backward",), {"macs": 2 * 5 * 3 * 4 * 16 * 24},
        backward=True, phase="backward"),
    # 2 layers, bidirectional, proj 4: layer inputs 8 then 2·4; recurrent size 4; each step
    # also projects 16 → 4
    Run("lstm-stacked-bidirectional-proj",
        torch.nn.LSTM(8, 16, num_layers=2, bidirectional=True, proj_size=4),
        lambda: (r(5, 3, 8),), ("aten.addmm", "aten.mm"),
        {"macs": 2 * 2 * 5 * 3 * (4 * 16 * (8 + 4) + 16 * 4)}),
    Run("gru", torch.nn.GRU(8, 16), lambda: (r(5, 3, 8),), ("aten.addmm",),
        {"macs": 5 * 3 * 3 * 16 * 24}),
    Run("rnn-tanh", torch.nn.RNN(8, 16), lambda: (r(5, 3, 8),), ("aten.addmm",),
        {"macs": 5 * 3 * 16 * 24}),
    Run("lstm-cell", torch.nn.LSTMCell(8, 16), lambda: (r(3, 8),), ("aten.addmm",),
        {"macs": 3 * 4 * 16 * 24}),
    Run("gru-cell", torch.nn.GRUCell(8, 16), lambda: (r(3, 8),), ("aten.addmm",),
        {"macs": 3 * 3 * 16 * 24}),
]

RECURRENT_DIRECT = [
    # cuDNN LSTM, 2 layers, bidirectional, [T=5, B=3, E=8], H=16: layer 2 reads 2·16
    Direct("cudnn-lstm", ("aten._cudnn_rnn",), (S(5, 3, 32),),
           (S(5, 3, 8), [S(64, 8)] * 16, 4, None, S(4, 3, 16), S(4, 3, 16), 2, 16, 0, 2,
            False, 0.0, True, True, []),
           {"macs": 2 * 5 * 3 * 4 * 16 * ((8 + 16) + (32 + 16))}),
    Direct("cudnn-gru-backward", ("aten._cudnn_rnn_backward",), (S(5, 3, 8),),
           (S(5, 3, 8), [S(48, 8)] * 4, 4, S(1), S(1, 3, 16), None, S(5, 3, 16), S(5, 3, 16),
            None, None, 3, 16, 0, 1, False, 0.0, True, False, [], None, S(1),
            [True, True, False, True]),
           {"macs": 2 * 5 * 3 * 3 * 16 * 24}),
    Direct("fused-lstm-cell", ("aten._thnn_fused_lstm_cell",), (S(3, 16),),
           (S(3, 64), S(3, 64), S(3, 16)), {"elementwise": 3 * 16 * 22}),
    Direct("fused-gru-cell", ("aten._thnn_fused_gru_cell",), (S(3, 16),),
           (S(3, 48), S(3, 48), S(3, 16)), {"elementwise": 3 * 16 * 17}),
    Direct("fused-lstm-cell-backward", ("aten._thnn_fused_lstm_cell_backward",
                                        "aten._thnn_fused_lstm_cell_backward_impl"),
           (S(3, 64),), (S(3, 16), S(3, 16), S(3, 16)), {"elementwise": 3 * 16 * 22}),
    Direct("fused-gru-cell-backward", ("aten._thnn_fused_gru_cell_backward",),
           (S(3, 48),), (S(3, 16), S(3, 80), True), {"elementwise": 3 * 16 * 17}),
]

COVERS = covered(ATTENTION, ATTENTION_DIRECT, RECURRENT, RECURRENT_DIRECT)


@pytest.mark.parametrize("case", ATTENTION + RECURRENT, ids=lambda c: c.id)
def test_run(case):
    check_run(case)


@pytest.mark.parametrize("case", ATTENTION_DIRECT + RECURRENT_DIRECT, ids=lambda c: c.id)
def test_direct(case):
    check_direct(case)


def test_mha_fast_and_slow_paths_agree():
    q = r(2, 5, 16)
    import flopwise

    with torch.no_grad():
        fast = flopwise.profile(_MHA, (q, q, q))
    slow = flopwise.profile(_MHA, (q, q, q))
    assert fast.total.macs == slow.total.macs == MHA_MACS
