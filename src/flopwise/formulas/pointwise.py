"""Pointwise arithmetic, activations and their backward ops, dropout, softmax, and the
optimizer's pointwise work (``_foreach_*`` lists and the fused Adam/SGD kernels).

Every op here costs a fixed number of FLOPs per output element, listed in :data:`PER_ELEMENT`
(broadcasting counts the broadcast output). A plain arithmetic or transcendental function costs 1;
composite activations cost the arithmetic of their definition, written beside each entry.
Integer and boolean results cost nothing: they are not floating-point operations.
"""

from __future__ import annotations

from typing import Any

from flopwise.formulas._helpers import first_spec, is_float, specs_in
from flopwise.formulas.registry import Formula, FormulaTable
from flopwise.formulas.spec import Cost, TensorSpec

__all__ = ["PER_ELEMENT", "FOREACH_PER_ELEMENT", "TABLE", "per_element", "foreach", "fused_optimizer"]

# FLOPs per output element. NB: transcendental functions (exp, log, tanh, erf, sqrt...) count 1,
# as in most FLOP counters; their hardware cost is higher.
PER_ELEMENT: dict[str, int] = {
    # arithmetic
    "add": 1, "sub": 1, "rsub": 1, "mul": 1, "div": 1, "neg": 1, "abs": 1, "reciprocal": 1,
    "remainder": 1, "fmod": 1, "pow": 1, "square": 1, "sqrt": 1, "rsqrt": 1, "exp": 1, "exp2": 1,
    "expm1": 1, "log": 1, "log2": 1, "log10": 1, "log1p": 1, "sin": 1, "cos": 1, "tan": 1,
    "asin": 1, "acos": 1, "atan": 1, "atan2": 1, "sinh": 1, "cosh": 1, "erf": 1, "erfc": 1,
    "asinh": 1, "acosh": 1, "atanh": 1,
    "erfinv": 1, "floor": 1, "ceil": 1, "round": 1, "trunc": 1, "frac": 1, "sign": 1, "sgn": 1,
    "maximum": 1, "minimum": 1, "fmax": 1, "fmin": 1, "clamp": 1, "clamp_min": 1, "clamp_max": 1,
    "eq": 1, "ne": 1, "lt": 1, "le": 1, "gt": 1, "ge": 1, "isnan": 1, "isinf": 1, "where": 1,
    "masked_fill": 1, "lerp": 3,       # a + w·(b − a)
    "addcmul": 3, "addcdiv": 3,        # a + v·(b ∘ c)
    "hypot": 3, "xlogy": 2, "copysign": 1, "logical_not": 1, "logaddexp": 4,
    "floor_divide": 2,                 # divide, floor (its reference decomposition is prims)
    # activations (forward)
    "relu": 1, "relu6": 1, "threshold": 1, "hardtanh": 1,
    "leaky_relu": 2,                   # compare, multiply
    "elu": 4, "celu": 4, "selu": 5,    # compare, exp, subtract, multiply (selu: +scale)
    "sigmoid": 4,                      # 1 / (1 + exp(−x)): negate, exp, add, divide
    "tanh": 1, "softplus": 3,          # log(1 + exp(x))
    "gelu": 5,                         # 0.5·x·(1 + erf(x/√2)): divide, erf, add, 2 multiplies
    "silu": 5,                         # x·sigmoid(x)
    "mish": 6,                         # x·tanh(softplus(x))
    "hardsigmoid": 3, "hardswish": 4, "logit": 3, "log_sigmoid_forward": 5, "glu": 5,
    "_prelu_kernel": 2,
    # activations (backward): dL/dx from dL/dy
    "threshold_backward": 1, "hardtanh_backward": 2, "leaky_relu_backward": 2,
    "elu_backward": 3, "sigmoid_backward": 3,        # g·y·(1 − y)
    "tanh_backward": 3,                              # g·(1 − y²)
    "softplus_backward": 4, "gelu_backward": 9, "silu_backward": 7, "mish_backward": 10,
    "hardsigmoid_backward": 2, "hardswish_backward": 4, "log_sigmoid_backward": 5,
    "glu_backward": 6, "logit_backward": 4,
    # dropout: compare a random number with p, then scale the kept values
    "native_dropout": 2, "native_dropout_backward": 2,
}

# Per-element cost of the optimizer's list ops, named after their single-tensor counterparts.
FOREACH_PER_ELEMENT: dict[str, int] = {
    name: PER_ELEMENT[name]
    for name in ("add", "sub", "mul", "div", "neg", "abs", "reciprocal", "pow", "sqrt", "rsqrt",
                 "exp", "log", "maximum", "minimum", "clamp_min", "clamp_max", "lerp", "addcmul",
                 "addcdiv", "sign", "sigmoid", "tanh")
}

# Fused optimizer kernels, per parameter element (single-tensor update arithmetic):
# Adam: m ← lerp (3); v ← b2·v + (1−b2)·g² (3); denom √v / √bc2 + eps (3); p −= lr/bc1 · m/denom (3);
# + weight decay (2: AdamW's p·(1 − lr·wd) or Adam's g + wd·p). SGD: p −= lr·g (2), momentum +3.
FUSED_OPTIMIZER: dict[str, int] = {"_fused_adam": 12, "_fused_adamw": 12, "_fused_sgd": 2,
                                   "_fused_adagrad": 6}
_WEIGHT_DECAY_PER_ELEMENT = 2
_MOMENTUM_PER_ELEMENT = 3

SOFTMAX_PER_ELEMENT = 5            # max-subtract (2), exp, sum, divide
SOFTMAX_BACKWARD_PER_ELEMENT = 4   # y·(g − Σ g·y): multiply, sum, subtract, multiply


def per_element(cost: int) -> Formula:
    """The formula of an op costing ``cost`` FLOPs per floating-point output element.

    >>> per_element(5)(TensorSpec((2, 3)), TensorSpec((2, 3))).elementwise   # 5 · 6
    30
    """

    def formula(result: Any, *args: Any, **kwargs: Any) -> Cost:
        # an op without a returned tensor (in place): cost its first argument
        out = first_spec(result) or first_spec(args)
        if out is not None and is_float(out):
            return Cost(elementwise=cost * out.numel)
        return Cost()

    formula.__doc__ = f"{cost} FLOP(s) per output element."
    return formula


def foreach(cost: int) -> Formula:
    """The formula of a ``_foreach_*`` list op: ``cost`` FLOPs per element of every tensor.

    >>> foreach(3)(None, [TensorSpec((4,)), TensorSpec((2, 2))]).elementwise   # 3 · (4 + 4)
    24
    """

    def formula(result: Any, tensors: list[TensorSpec], *args: Any, **kwargs: Any) -> Cost:
        return Cost(elementwise=cost * sum(t.numel for t in specs_in(tensors) if is_float(t)))

    formula.__doc__ = f"{cost} FLOP(s) per element of every tensor in the list."
    return formula


def fused_optimizer(cost: int) -> Formula:
    """The formula of a fused optimizer kernel: ``cost`` FLOPs per parameter element, + 2 with
    weight decay, + 3 with momentum.

    >>> fused_optimizer(12)(None, [TensorSpec((10,))], weight_decay=0.1).elementwise  # 14 · 10
    140
    """

    def formula(result: Any, params: list[TensorSpec], *args: Any, weight_decay: float = 0.0,
                momentum: float = 0.0, **kwargs: Any) -> Cost:
        per = cost + (_WEIGHT_DECAY_PER_ELEMENT if weight_decay else 0)
        per += _MOMENTUM_PER_ELEMENT if momentum else 0
        return Cost(elementwise=per * sum(p.numel for p in specs_in(params)))

    formula.__doc__ = f"{cost} FLOPs per parameter element (+ weight decay, momentum)."
    return formula


TABLE = FormulaTable("pointwise")
for _name, _cost in PER_ELEMENT.items():
    TABLE.formula(f"aten.{_name}", f"aten.{_name}_")(per_element(_cost))
# the inverse hyperbolics have no meta kernel: shape-only runs see their prims (X-Codec 2's FSQ)
TABLE.formula("prims.asinh", "prims.acosh", "prims.atanh")(per_element(1))
for _name, _cost in FOREACH_PER_ELEMENT.items():
    TABLE.formula(f"aten._foreach_{_name}", f"aten._foreach_{_name}_",
                  family="optimizer")(foreach(_cost))
for _name, _cost in FUSED_OPTIMIZER.items():
    TABLE.formula(f"aten.{_name}", f"aten.{_name}_", family="optimizer",
                  note="per parameter element")(fused_optimizer(_cost))


@TABLE.formula("aten._softmax", "aten._log_softmax", "aten._safe_softmax", family="softmax")
def softmax(result: TensorSpec, x: TensorSpec, *_, **__) -> Cost:
    """5 FLOPs per element: subtract the max, exp, sum, divide (log-softmax: log instead)."""
    return Cost(elementwise=SOFTMAX_PER_ELEMENT * x.numel)


@TABLE.formula("aten._softmax_backward_data", "aten._log_softmax_backward_data",
               family="softmax")
def softmax_backward(result: TensorSpec, grad: TensorSpec, *_, **__) -> Cost:
    """4 FLOPs per element: y·(g − Σ g·y) (log-softmax: g − exp(y)·Σ g)."""
    return Cost(elementwise=SOFTMAX_BACKWARD_PER_ELEMENT * grad.numel)
