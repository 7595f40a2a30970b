"""Convolution of any dimensionality (grouped, depthwise, dilated, strided, transposed) and its
backward.

Forward MACs (Molchanov et al. 2016, with the *output* map): ``N·Co·∏out·(Ci/g)·∏K``. A
transposed convolution scatters each *input* position: ``N·Ci·∏in·(Co/g)·∏K``. Either way each
output element is one dot product (its terms counted by the MACs), plus one bias add.

Backward: the input gradient is the transposed convolution of the output gradient (same MACs as
forward) and the weight gradient correlates input with output gradient (same MACs again), so a
convolution's backward is 2× its forward when both are needed; the bias gradient sums the output
gradient over N and the spatial dims (one add per element).
"""

from __future__ import annotations

from flopwise.formulas._helpers import prod
from flopwise.formulas.registry import FormulaTable
from flopwise.formulas.spec import Cost, TensorSpec

__all__ = ["conv_macs", "TABLE"]


def conv_macs(x_shape: tuple[int, ...], weight_shape: tuple[int, ...],
              out_shape: tuple[int, ...], transposed: bool, groups: int) -> int:
    """MACs of one convolution call from its input, weight and output shapes.

    Weight layout is ``[Co, Ci/g, *K]`` (``[Ci, Co/g, *K]`` when transposed).

    >>> conv_macs((1, 3, 224, 224), (32, 3, 3, 3), (1, 32, 222, 222), False, 1)  # 32·222²·27
    42581376
    """
    kernel = prod(weight_shape[2:])
    if transposed:
        in_channels = weight_shape[0]
        out_per_group = weight_shape[1]
        return x_shape[0] * in_channels * prod(x_shape[2:]) * out_per_group * kernel
    out_channels = weight_shape[0]
    in_per_group = weight_shape[1]
    return out_shape[0] * out_channels * prod(out_shape[2:]) * in_per_group * kernel


def _conv_forward(result: TensorSpec, x: TensorSpec, weight: TensorSpec, bias: object,
                  transposed: bool, groups: int) -> Cost:
    macs = conv_macs(x.shape, weight.shape, result.shape, bool(transposed), int(groups))
    outputs = result.numel
    return Cost(macs=macs, dot_outputs=outputs, bias_adds=outputs if bias is not None else 0)


TABLE = FormulaTable("convolution")


@TABLE.formula("aten.convolution")
def convolution(result: TensorSpec, x: TensorSpec, weight: TensorSpec, bias, stride, padding,
                dilation, transposed, output_padding, groups, *_, **__) -> Cost:
    """N·Co·∏out·(Ci/g)·∏K MACs (transposed: N·Ci·∏in·(Co/g)·∏K), one bias add per output."""
    return _conv_forward(result, x, weight, bias, transposed, groups)


@TABLE.formula("aten._convolution")
def _convolution(result: TensorSpec, x: TensorSpec, weight: TensorSpec, bias, stride, padding,
                 dilation, transposed, output_padding, groups, *_, **__) -> Cost:
    """As aten.convolution (the older entry point with backend flags)."""
    return _conv_forward(result, x, weight, bias, transposed, groups)


@TABLE.formula("aten.convolution_backward")
def convolution_backward(result, grad_out: TensorSpec, x: TensorSpec, weight: TensorSpec,
                         bias_sizes, stride, padding, dilation, transposed, output_padding,
                         groups, output_mask, *_, **__) -> Cost:
    """grad input and grad weight each cost the forward MACs; grad bias one add per element."""
    macs = conv_macs(x.shape, weight.shape, grad_out.shape, bool(transposed), int(groups))
    want_input, want_weight, want_bias = (bool(m) for m in output_mask)
    cost = Cost()
    if want_input:
        cost = cost + Cost(macs=macs, dot_outputs=x.numel)
    if want_weight:
        cost = cost + Cost(macs=macs, dot_outputs=weight.numel)
    if want_bias:
        cost = cost + Cost(elementwise=grad_out.numel)
    return cost
