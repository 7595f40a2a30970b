"""Pointwise ops, activations, reductions and the optimizer's list/fused kernels.

Each per-element cost below is derived here from the op's definition (see docs/formulas.md);
the formula is then called on a [2, 3] output (6 elements) and must give cost × 6.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from flopwise.formulas import builtin_registry
from tests.formulas.support import Direct, Run, S, check_direct, check_run, covered

r = torch.randn

# name -> FLOPs per output element, with the arithmetic that defines the op
DERIVED: dict[str, int] = {
    **dict.fromkeys(
        # one arithmetic, comparison or (by convention) transcendental operation each
        ["add", "sub", "rsub", "mul", "div", "neg", "abs", "reciprocal", "remainder", "fmod",
         "pow", "square", "sqrt", "rsqrt", "exp", "exp2", "expm1", "log", "log2", "log10",
         "log1p", "sin", "cos", "tan", "asin", "acos", "atan", "atan2", "sinh", "cosh", "erf",
         "asinh", "acosh", "atanh",
         "erfc", "erfinv", "floor", "ceil", "round", "trunc", "frac", "sign", "sgn", "maximum",
         "minimum", "fmax", "fmin", "clamp", "clamp_min", "clamp_max", "eq", "ne", "lt", "le",
         "gt", "ge", "isnan", "isinf", "where", "masked_fill", "copysign", "logical_not",
         "relu", "relu6", "threshold", "hardtanh", "tanh", "threshold_backward"], 1),
    "lerp": 3,                      # a + w·(b − a): subtract, multiply, add
    "addcmul": 3, "addcdiv": 3,     # a + v·(b ∘ c): product/quotient, scale, add
    "hypot": 3,                     # √(a² + b²): 2 squares... counted square, add, sqrt
    "xlogy": 2,                     # x · log y
    "floor_divide": 2,              # ⌊a / b⌋: divide, floor
    "logaddexp": 4,                 # max + log1p(exp(−|a − b|)): subtract, exp, log1p, add
    "leaky_relu": 2,                # compare, multiply
    "elu": 4, "celu": 4,            # compare, exp, subtract 1, multiply by α
    "selu": 5,                      # elu + the λ scale
    "sigmoid": 4,                   # 1 / (1 + exp(−x)): negate, exp, add, divide
    "softplus": 3,                  # log(1 + exp x): exp, add, log
    "gelu": 5,                      # 0.5·x·(1 + erf(x/√2)): divide, erf, add, 2 multiplies
    "silu": 5,                      # x · sigmoid(x): sigmoid 4 + multiply
    "mish": 6,                      # x · tanh(softplus x): softplus 3 + tanh + multiply (+1)
    "hardsigmoid": 3,               # clamp(x/6 + 1/2): divide, add, clamp
    "hardswish": 4,                 # x · hardsigmoid(x)
    "logit": 3,                     # log(x / (1 − x)): subtract, divide, log
    "log_sigmoid_forward": 5,       # −softplus(−x) computed stably: negate + softplus 3 + negate
    "glu": 5,                       # a · sigmoid(b): sigmoid 4 + multiply
    "_prelu_kernel": 2,             # compare, multiply
    "hardtanh_backward": 2, "leaky_relu_backward": 2,  # compare, select/multiply
    "elu_backward": 3,              # compare, (y + α) or exp, multiply by g
    "sigmoid_backward": 3,          # g · y · (1 − y)
    "tanh_backward": 3,             # g · (1 − y²)
    "softplus_backward": 4,         # g · sigmoid(x): sigmoid's exp/add/divide + multiply
    "gelu_backward": 9,             # g·(Φ(x) + x·φ(x)): erf term 4, exp term 3, add, multiply
    "silu_backward": 7,             # g·σ(x)·(1 + x·(1 − σ(x))): σ 4 + 3
    "mish_backward": 10,
    "hardsigmoid_backward": 2, "hardswish_backward": 4, "log_sigmoid_backward": 5,
    "glu_backward": 6, "logit_backward": 4,
    "native_dropout": 2, "native_dropout_backward": 2,   # compare with p (or mask), scale
}

REGISTRY = builtin_registry()
POINTWISE_KEYS = sorted(
    key for key in REGISTRY.keys() if REGISTRY.lookup(key).family == "pointwise")  # noqa: SIM118 (a registry, not a dict)


def _name(key: str) -> str:
    return key.removeprefix("aten.").removesuffix("_") if key.endswith("_") and \
        key.removeprefix("aten.").removesuffix("_") in DERIVED else key.split(".", 1)[1]


POINTWISE = [
    Direct(key, (key,), S(2, 3), (S(2, 3), S(2, 3)), {"elementwise": DERIVED[_name(key)] * 6})
    for key in POINTWISE_KEYS
]

INTEGER = [
    # integer results are not floating-point operations
    Direct("integer-add", ("aten.add",), S(2, 3, dtype="int64", itemsize=8),
           (S(2, 3, dtype="int64", itemsize=8), 1), {"elementwise": 0}),
]

# The dispatch path for a few: broadcast add [2,3] + [3] costs the 6 outputs; in place too.
RUNS = [
    Run("broadcast-add", torch.add, lambda: (r(2, 3), r(3)), ("aten.add",), {"elementwise": 6}),
    Run("in-place-mul", lambda x, y: x.mul_(y), lambda: (r(2, 3), r(2, 3)), ("aten.mul_",),
        {"elementwise": 6}),
    Run("gelu-and-backward", F.gelu, lambda: (r(2, 3, requires_grad=True),),
        ("aten.gelu", "aten.gelu_backward"), {"elementwise": 5 * 6 + 9 * 6}, backward=True),
    # CPU dropout: a Bernoulli mask (random, no FLOPs), mask / (1 − p) in place (6), x · mask
    # forward (6) and grad · mask backward (6)
    Run("dropout-train", lambda x: F.dropout(x, 0.5, training=True),
        lambda: (r(2, 3, requires_grad=True),),
        ("aten.bernoulli_", "aten.div_", "aten.mul"), {"elementwise": 6 + 6 + 6},
        backward=True),
]

# Reductions: [2,3] → one value per row (2 outputs) along dim 1
REDUCTION_DERIVED: dict[str, tuple[int, int]] = {
    # name: (per input element, per output element)
    **dict.fromkeys(["sum", "nansum", "prod", "amax", "amin", "max", "min", "argmax", "argmin",
                     "cumsum", "cumprod", "cummax", "cummin"], (1, 0)),
    "mean": (1, 1),                 # adds, then one divide per output
    "aminmax": (2, 0),              # a comparison against the min and one against the max
    "logcumsumexp": (4, 0), "logsumexp": (4, 1),  # max, subtract, exp, add; log per output
    "var": (4, 1), "var_mean": (4, 1),            # mean 1 + (subtract, square, add) 3; divide
    "std": (4, 2), "std_mean": (4, 2),            # as var, + square root
    "linalg_vector_norm": (2, 1), "norm": (2, 1),  # |x|^p and add; the p-th root per output
}
REDUCTION_KEYS = sorted(k for k in REGISTRY.keys() if REGISTRY.lookup(k).family == "reduction"  # noqa: SIM118
                        and k.removeprefix("aten.") in REDUCTION_DERIVED)
REDUCTIONS = [
    Direct(key, (key,), S(2), (S(2, 3), 1),
           {"elementwise": REDUCTION_DERIVED[key.removeprefix("aten.")][0] * 6
            + REDUCTION_DERIVED[key.removeprefix("aten.")][1] * 2})
    for key in REDUCTION_KEYS
]
REDUCTIONS += [
    # sorting 2 rows of 8: 8·⌈log2 8⌉ = 24 comparisons each; topk: one comparison per element
    Direct("sort", ("aten.sort", "aten.argsort"), (S(2, 8),), (S(2, 8), -1), {"elementwise": 48}),
    Direct("topk", ("aten.topk",), (S(2, 3),), (S(2, 8), 3), {"elementwise": 16}),
    # multinomial, 2 rows of 8 weights, 3 samples each: a running sum (8 adds per row) and a
    # binary search of ⌈log2 8⌉ = 3 comparisons per sample: 2·8 + 2·3·3 = 34
    Direct("multinomial", ("aten.multinomial",), S(2, 3, dtype="int64", itemsize=8), (S(2, 8), 3),
           {"elementwise": 2 * 8 + 2 * 3 * 3}),
]
REDUCTION_RUNS = [
    Run("var-mean", lambda x: torch.var_mean(x, dim=1), lambda: (r(2, 3),), ("aten.var_mean",),
        {"elementwise": 4 * 6 + 1 * 2}),
    Run("sum-all", torch.sum, lambda: (r(2, 3),), ("aten.sum",), {"elementwise": 6}),
]

# Optimizer list ops: per element of every tensor in the list ([2,3] and [4]: 10 elements)
FOREACH = [
    Direct(key, (key,), None, ([S(2, 3), S(4)], [S(2, 3), S(4)]),
           {"elementwise": DERIVED[key.removeprefix("aten._foreach_").removesuffix("_")] * 10})
    for key in sorted(k for k in REGISTRY.keys() if k.startswith("aten._foreach_"))  # noqa: SIM118
]
# Fused Adam per element: m (lerp 3), v (3), denominator (3), update (3) = 12, weight decay +2;
# fused SGD: p −= lr·g (2), momentum +3; Adagrad: accumulate g² (2), √ + eps (2), update (2)
FUSED = [
    Direct("fused-adam", ("aten._fused_adam", "aten._fused_adam_", "aten._fused_adamw",
                          "aten._fused_adamw_"),
           None, ([S(2, 3), S(4)],), {"elementwise": 12 * 10}),
    Direct("fused-adamw-decay", ("aten._fused_adamw_",), None, ([S(2, 3), S(4)],),
           {"elementwise": 14 * 10}, kwargs={"weight_decay": 0.01}),
    Direct("fused-sgd", ("aten._fused_sgd", "aten._fused_sgd_"), None, ([S(2, 3), S(4)],),
           {"elementwise": 5 * 10}, kwargs={"momentum": 0.9}),
    Direct("fused-adagrad", ("aten._fused_adagrad", "aten._fused_adagrad_"), None,
           ([S(2, 3), S(4)],), {"elementwise": 6 * 10}),
]

COVERS = covered(POINTWISE, INTEGER, RUNS, REDUCTIONS, REDUCTION_RUNS, FOREACH, FUSED)


@pytest.mark.parametrize("case", POINTWISE + INTEGER + REDUCTIONS + FOREACH + FUSED,
                         ids=lambda c: c.id)
def test_direct(case):
    check_direct(case)


@pytest.mark.parametrize("case", RUNS + REDUCTION_RUNS, ids=lambda c: c.id)
def test_run(case):
    check_run(case)


def test_every_pointwise_op_has_a_derivation():
    names = {_name(key) for key in POINTWISE_KEYS}
    assert names <= set(DERIVED)
