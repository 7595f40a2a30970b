"""Recurrent layers in their fused kernels: oneDNN (CPU), cuDNN, MPS, and the fused cells.

On the plain CPU path (and on meta) ``nn.LSTM``/``GRU``/``RNN`` decompose into ``addmm``/``mm``
and pointwise ops, which are counted op by op. The fused kernels are counted here from their
arguments: per time step, layer and direction, ``G·H·(E + Hr)`` MACs, where G is the number of
gate blocks (LSTM 4, GRU 3, RNN 1), E the layer's input size (layer 2+ reads the previous layer's
output: Hr, ×2 when bidirectional), and Hr the recurrent size (``proj_size`` or H); with
``proj_size`` a further H·P MACs project the hidden state.

Gate arithmetic per hidden unit and step (documented approximations):
LSTM 22 (sum the two projections 4, three sigmoids 12, two tanh 2, c = f·c + i·g 3, h = o·tanh c 1);
GRU 17 (sums 3, two sigmoids 8, tanh 1, r ∘ (W h + b) 1 + add 1, h = (1 − z)·n + z·h 3);
RNN 2 (sum, tanh or relu).
"""

from __future__ import annotations

from flopwise.formulas.registry import FormulaTable
from flopwise.formulas.spec import Cost, TensorSpec

__all__ = ["rnn_cost", "GATES", "GATE_FLOPS", "TABLE"]

# cuDNN / oneDNN mode numbers: 0 RNN_RELU, 1 RNN_TANH, 2 LSTM, 3 GRU
GATES: dict[int, int] = {0: 1, 1: 1, 2: 4, 3: 3}
GATE_FLOPS: dict[int, int] = {0: 2, 1: 2, 2: 22, 3: 17}


def rnn_cost(mode: int, steps: int, batch: int, input_size: int, hidden: int, proj: int = 0,
             layers: int = 1, bidirectional: bool = False, bias: bool = True) -> Cost:
    """Forward cost of a whole recurrent stack.

    >>> rnn_cost(2, steps=1, batch=1, input_size=8, hidden=16).macs   # 4·16·(8 + 16)
    1536
    """
    gates = GATES[mode]
    directions = 2 if bidirectional else 1
    recurrent = proj or hidden
    total = Cost()
    for layer in range(layers):
        layer_input = input_size if layer == 0 else recurrent * directions
        rows = steps * batch * directions
        gate_outputs = rows * gates * hidden
        total = total + Cost(
            macs=gate_outputs * (layer_input + recurrent) + (rows * hidden * proj if proj else 0),
            dot_outputs=2 * gate_outputs + (rows * proj if proj else 0),
            bias_adds=2 * gate_outputs if bias else 0,
            elementwise=rows * hidden * GATE_FLOPS[mode],
        )
    return total


def _steps_batch(x: TensorSpec, batch_first: bool, batch_sizes) -> tuple[int, int]:
    if batch_sizes:  # packed sequence: x is [Σ lengths, E]; count the real steps
        return int(sum(int(b) for b in batch_sizes)), 1
    if batch_first:
        return x.shape[1], x.shape[0]
    return x.shape[0], x.shape[1] if x.ndim == 3 else 1


TABLE = FormulaTable("recurrent")


@TABLE.formula("aten._cudnn_rnn")
def cudnn_rnn(result, x: TensorSpec, weight, weight_stride0, weight_buf, hx, cx, mode: int,
              hidden_size: int, proj_size: int, num_layers: int, batch_first: bool, dropout,
              train, bidirectional: bool, batch_sizes, *_, **__) -> Cost:
    """G·H·(E + Hr) MACs per step, layer and direction (+ H·P projection)."""
    steps, batch = _steps_batch(x, bool(batch_first), batch_sizes)
    return rnn_cost(int(mode), steps, batch, x.shape[-1], int(hidden_size), int(proj_size),
                    int(num_layers), bool(bidirectional), bias=len(weight) > num_layers * 2)


@TABLE.formula("aten._cudnn_rnn_backward",
               note="input-gradient GEMMs as forward; weight gradient as forward again")
def cudnn_rnn_backward(result, x: TensorSpec, weight, weight_stride0, weight_buf, hx, cx,
                       output, grad_output, grad_hy, grad_cy, mode: int, hidden_size: int,
                       proj_size: int, num_layers: int, batch_first: bool, dropout, train,
                       bidirectional: bool, batch_sizes, dropout_state, reserve, output_mask,
                       *_, **__) -> Cost:
    """Data gradient = forward MACs; weight gradient (when asked) = forward MACs again."""
    steps, batch = _steps_batch(x, bool(batch_first), batch_sizes)
    forward = rnn_cost(int(mode), steps, batch, x.shape[-1], int(hidden_size),
                       int(proj_size), int(num_layers), bool(bidirectional))
    data = Cost(macs=forward.macs, dot_outputs=forward.dot_outputs,
                elementwise=forward.elementwise)
    weights = Cost(macs=forward.macs, dot_outputs=forward.dot_outputs)
    return data + weights if output_mask[3] else data


@TABLE.formula("aten.mkldnn_rnn_layer")
def mkldnn_rnn_layer(result, x: TensorSpec, w_ih: TensorSpec, w_hh: TensorSpec, b_ih, b_hh,
                     hx, cx, reverse, batch_sizes, mode: int, hidden_size: int, num_layers,
                     has_biases: bool, bidirectional, batch_first: bool, *_, **__) -> Cost:
    """One layer, one direction (oneDNN): G·H·(E + H) MACs per step."""
    steps, batch = _steps_batch(x, bool(batch_first), batch_sizes)
    return rnn_cost(int(mode), steps, batch, w_ih.shape[1], int(hidden_size),
                    bias=bool(has_biases))


@TABLE.formula("aten.mkldnn_rnn_layer_backward")
def mkldnn_rnn_layer_backward(result, x: TensorSpec, w1: TensorSpec, w2: TensorSpec, w3, w4,
                              hx, cx_tmp, output, hy, cy, grad_output, grad_hy, grad_cy,
                              reverse, mode: int, hidden_size: int, num_layers, has_biases,
                              train, bidirectional, batch_sizes, batch_first: bool,
                              *_, **__) -> Cost:
    """Data gradient + weight gradient: 2× the layer's forward MACs."""
    steps, batch = _steps_batch(x, bool(batch_first), batch_sizes)
    forward = rnn_cost(int(mode), steps, batch, w1.shape[1], int(hidden_size), bias=False)
    return forward.scaled(2)


@TABLE.formula("aten._thnn_fused_lstm_cell")
def fused_lstm_cell(result, input_gates: TensorSpec, hidden_gates: TensorSpec, cx, *_,
                    **__) -> Cost:
    """Gate arithmetic only (the GEMMs are separate ops): 22 FLOPs per hidden unit."""
    return Cost(elementwise=GATE_FLOPS[2] * input_gates.numel // 4)


@TABLE.formula("aten._thnn_fused_gru_cell")
def fused_gru_cell(result, input_gates: TensorSpec, hidden_gates: TensorSpec, hx, *_,
                   **__) -> Cost:
    """Gate arithmetic only (the GEMMs are separate ops): 17 FLOPs per hidden unit."""
    return Cost(elementwise=GATE_FLOPS[3] * input_gates.numel // 3)


@TABLE.formula("aten._thnn_fused_lstm_cell_backward",
               "aten._thnn_fused_lstm_cell_backward_impl")
def fused_lstm_cell_backward(result, grad_hy, grad_cy, cx: TensorSpec, *_, **__) -> Cost:
    """Gate derivatives: 22 FLOPs per hidden unit (as forward)."""
    return Cost(elementwise=GATE_FLOPS[2] * cx.numel)


@TABLE.formula("aten._thnn_fused_gru_cell_backward")
def fused_gru_cell_backward(result, grad_hy: TensorSpec, workspace, has_bias, *_, **__) -> Cost:
    """Gate derivatives: 17 FLOPs per hidden unit (as forward)."""
    return Cost(elementwise=GATE_FLOPS[3] * grad_hy.numel)
