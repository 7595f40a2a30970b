"""Losses: negative log-likelihood (cross-entropy is log-softmax + NLL), MSE, smooth L1 / Huber,
binary cross-entropy; forward and backward. Costs are per element of the input."""

from __future__ import annotations

from flopwise.formulas.registry import Formula, FormulaTable
from flopwise.formulas.spec import Cost, TensorSpec

__all__ = ["TABLE", "PER_ELEMENT", "per_element"]

PER_ELEMENT: dict[str, int] = {
    "mse_loss": 3,                  # subtract, square, add
    "mse_loss_backward": 3,         # subtract, multiply by 2, scale
    "smooth_l1_loss": 4,            # subtract, abs, compare, square-or-shift (+ add)
    "smooth_l1_loss_backward": 3,
    "huber_loss": 4, "huber_loss_backward": 3,
    "binary_cross_entropy": 7,      # −(t·log x + (1 − t)·log(1 − x)), summed
    "binary_cross_entropy_backward": 6,
    "soft_margin_loss": 4, "soft_margin_loss_backward": 4,
}


def per_element(name: str) -> Formula:
    """The formula of loss ``name``: its FLOPs per element of the input (a backward op reads
    its input second, after the output gradient).

    >>> per_element("mse_loss")(TensorSpec(()), TensorSpec((4, 5)), TensorSpec((4, 5))).elementwise
    60
    """
    per, backward = PER_ELEMENT[name], name.endswith("_backward")

    def formula(result, first: TensorSpec, *args, **__) -> Cost:
        x = args[0] if backward else first  # backward ops take (grad_output, input, ...)
        return Cost(elementwise=per * x.numel)

    formula.__doc__ = f"{per} FLOPs per input element."
    return formula


TABLE = FormulaTable("loss")
for _name in PER_ELEMENT:
    TABLE.formula(f"aten.{_name}")(per_element(_name))


@TABLE.formula("aten.nll_loss_forward", "aten.nll_loss2d_forward")
def nll_loss(result, x: TensorSpec, target: TensorSpec, weight=None, *_, **__) -> Cost:
    """Gather one log-probability per target and sum: 1 add per target (+1 multiply with weights)."""
    return Cost(elementwise=target.numel * (2 if weight is not None else 1))


@TABLE.formula("aten.nll_loss_backward", "aten.nll_loss2d_backward")
def nll_loss_backward(result, grad_out: TensorSpec, x: TensorSpec, target: TensorSpec,
                      weight=None, *_, **__) -> Cost:
    """Scatter −grad (scaled) to one element per target: 1 FLOP per target."""
    return Cost(elementwise=target.numel * (2 if weight is not None else 1))
