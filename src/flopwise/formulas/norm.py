"""Normalisation: batch, layer, group, instance (through batch norm) and RMS norms, forward and
backward.

Per element (NB: documented approximations, as in DeepSpeed-style counters):
- statistics, when computed: mean 1 (an add) + variance 3 (subtract, square, add) = 4;
  RMS norm: square 1 + add 1 = 2;
- normalise: subtract the mean 1 + multiply by 1/σ 1 = 2 (RMS: the multiply only, 1);
- affine: γ multiply 1 + β add 1 (1 for RMS norm's weight).
Per-channel work (the square root, running-stat updates) is left out: it is O(C), not O(N·C·HW).
Backward per element: 2 (β and γ gradients) + 6 for the input gradient with statistics
(3 without: the input gradient is then a scale).
"""

from __future__ import annotations

from flopwise.formulas._helpers import first_spec
from flopwise.formulas.registry import FormulaTable
from flopwise.formulas.spec import Cost, TensorSpec

__all__ = ["norm_cost", "TABLE"]

STATS_PER_ELEMENT = 4
RMS_STATS_PER_ELEMENT = 2
NORMALISE_PER_ELEMENT = 2
AFFINE_PER_ELEMENT = 2
BACKWARD_INPUT_WITH_STATS = 6
BACKWARD_INPUT_NO_STATS = 3
BACKWARD_AFFINE = 2


def norm_cost(numel: int, stats: bool, affine: bool) -> Cost:
    """Forward normalisation of ``numel`` elements.

    >>> norm_cost(10, stats=True, affine=True).elementwise   # (4 + 2 + 2)·10
    80
    """
    per = NORMALISE_PER_ELEMENT + (STATS_PER_ELEMENT if stats else 0) + (
        AFFINE_PER_ELEMENT if affine else 0)
    return Cost(elementwise=per * numel)


def norm_backward_cost(numel: int, stats: bool, affine: bool) -> Cost:
    per = (BACKWARD_INPUT_WITH_STATS if stats else BACKWARD_INPUT_NO_STATS) + (
        BACKWARD_AFFINE if affine else 0)
    return Cost(elementwise=per * numel)


TABLE = FormulaTable("normalisation")


@TABLE.formula("aten.native_batch_norm", "aten._native_batch_norm_legit",
               "aten.cudnn_batch_norm", "aten.miopen_batch_norm")
def batch_norm(result, x: TensorSpec, weight, bias, running_mean, running_var, training,
               *_, **__) -> Cost:
    """Statistics (training) 4 + normalise 2 + affine 2 FLOPs per element."""
    return norm_cost(x.numel, stats=bool(training), affine=weight is not None)


@TABLE.formula("aten._native_batch_norm_legit_no_training", "aten._batch_norm_no_update")
def batch_norm_eval(result, x: TensorSpec, weight, *_, **__) -> Cost:
    """Running statistics: normalise 2 + affine 2 FLOPs per element."""
    return norm_cost(x.numel, stats=False, affine=weight is not None)


@TABLE.formula("aten._batch_norm_with_update")
def batch_norm_train(result, x: TensorSpec, weight, *_, **__) -> Cost:
    """Batch statistics: 4 + 2 + affine 2 FLOPs per element."""
    return norm_cost(x.numel, stats=True, affine=weight is not None)


@TABLE.formula("aten.native_batch_norm_backward", "aten.cudnn_batch_norm_backward",
               "aten.miopen_batch_norm_backward")
def batch_norm_backward(result, grad_out: TensorSpec, x: TensorSpec, weight, running_mean,
                        running_var, save_mean, save_invstd, train, *_, **__) -> Cost:
    """Input gradient (6 with batch statistics, 3 without) + γ/β gradients 2 per element."""
    return norm_backward_cost(x.numel, stats=bool(train), affine=weight is not None)


@TABLE.formula("aten.batch_norm_backward")
def batch_norm_backward_new(result, grad_out: TensorSpec, x: TensorSpec, weight, running_mean,
                            running_var, save_mean, save_var, update, *_, **__) -> Cost:
    """As native_batch_norm_backward (``update`` marks training statistics)."""
    return norm_backward_cost(x.numel, stats=bool(update), affine=weight is not None)


@TABLE.formula("aten.native_layer_norm")
def layer_norm(result, x: TensorSpec, normalized_shape, weight=None, bias=None,
               *_, **__) -> Cost:
    """Statistics 4 + normalise 2 + affine 2 FLOPs per element."""
    return norm_cost(x.numel, stats=True, affine=weight is not None)


@TABLE.formula("aten.native_group_norm")
def group_norm(result, x: TensorSpec, weight=None, bias=None, *_, **__) -> Cost:
    """Statistics 4 + normalise 2 + affine 2 FLOPs per element."""
    return norm_cost(x.numel, stats=True, affine=weight is not None)


@TABLE.formula("aten.native_layer_norm_backward")
def layer_norm_backward(result, grad_out: TensorSpec, x: TensorSpec, normalized_shape, mean,
                        rstd, weight=None, *_, **__) -> Cost:
    """Input gradient 6 + γ/β gradients 2 FLOPs per element."""
    return norm_backward_cost(x.numel, stats=True, affine=weight is not None)


@TABLE.formula("aten.native_group_norm_backward")
def group_norm_backward(result, grad_out: TensorSpec, x: TensorSpec, mean, rstd,
                        weight=None, *_, **__) -> Cost:
    """Input gradient 6 + γ/β gradients 2 FLOPs per element."""
    return norm_backward_cost(x.numel, stats=True, affine=weight is not None)


@TABLE.formula("aten._fused_rms_norm")
def rms_norm(result, x: TensorSpec, normalized_shape, weight=None, *_, **__) -> Cost:
    """Square and sum 2 + scale 1 + weight 1 FLOPs per element."""
    per = RMS_STATS_PER_ELEMENT + 1 + (1 if weight is not None else 0)
    return Cost(elementwise=per * x.numel)


@TABLE.formula("aten._fused_rms_norm_backward")
def rms_norm_backward(result, grad_out: TensorSpec, x: TensorSpec, normalized_shape, rstd,
                      weight=None, *_, **__) -> Cost:
    """Input gradient 5 + weight gradient 2 FLOPs per element."""
    per = 5 + (BACKWARD_AFFINE if first_spec(weight) is not None else 0)
    return Cost(elementwise=per * x.numel)
