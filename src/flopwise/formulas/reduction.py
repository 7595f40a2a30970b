"""Reductions (sum, mean, max, var, norms, cumulative ops) and sorting-type selections.

A reduction of n inputs into m outputs costs one FLOP per input element (n − m additions or
comparisons, counted as n: NB), plus per-output work where the definition has it (mean's divide,
std's square root). Variance: subtract the mean, square, add = 3 per element (+1 for the mean).
"""

from __future__ import annotations

import math

from flopwise.formulas._helpers import is_float, result_spec
from flopwise.formulas.registry import Formula, FormulaTable
from flopwise.formulas.spec import Cost, TensorSpec

__all__ = ["TABLE", "PER_INPUT", "PER_OUTPUT", "reduction"]

PER_INPUT: dict[str, int] = {
    "sum": 1, "nansum": 1, "mean": 1, "prod": 1, "amax": 1, "amin": 1, "max": 1, "min": 1,
    "argmax": 1, "argmin": 1, "aminmax": 2, "cumsum": 1, "cumprod": 1, "logcumsumexp": 4,
    "var": 4, "std": 4, "var_mean": 4, "std_mean": 4,
    "linalg_vector_norm": 2,   # |x|^p (1) + add (1); p-th root per output
    "norm": 2, "logsumexp": 4,  # max, subtract, exp, add (+ log per output)
    "cummax": 1, "cummin": 1,
}
PER_OUTPUT: dict[str, int] = {"mean": 1, "var": 1, "std": 2, "var_mean": 1, "std_mean": 2,
                              "linalg_vector_norm": 1, "norm": 1, "logsumexp": 1}


def reduction(name: str) -> Formula:
    """The formula of reduction ``name``: its FLOPs per input element, + per output element.

    >>> reduction("mean")(TensorSpec((3,)), TensorSpec((3, 4))).elementwise   # 12 adds + 3 divides
    15
    """
    per_input, per_output = PER_INPUT[name], PER_OUTPUT.get(name, 0)

    def formula(result, x: TensorSpec, *_, **__) -> Cost:
        if not is_float(x):
            return Cost()
        out = result_spec(result)
        outputs = out.numel if out is not None else 1
        return Cost(elementwise=per_input * x.numel + per_output * outputs)

    formula.__doc__ = f"{per_input} FLOP(s) per input element + {per_output} per output."
    return formula


TABLE = FormulaTable("reduction")
for _name in PER_INPUT:
    TABLE.formula(f"aten.{_name}")(reduction(_name))


@TABLE.formula("aten.sort", "aten.argsort",
               note="comparison sort: n·⌈log2 n⌉ comparisons per sorted row")
def sort(result, x: TensorSpec, *args, dim: int = -1, **kwargs) -> Cost:
    """n·⌈log2 n⌉ comparisons per row of n elements."""
    dims = [a for a in args if isinstance(a, int) and not isinstance(a, bool)]
    axis = dims[0] if dims else dim
    n = x.shape[axis] if x.shape else 1
    rows = x.numel // max(n, 1)
    return Cost(elementwise=rows * n * max(1, math.ceil(math.log2(max(n, 2)))))


@TABLE.formula("aten.topk", note="selection: one comparison per input element (partial sort)")
def topk(result, x: TensorSpec, *_, **__) -> Cost:
    """One comparison per input element."""
    return Cost(elementwise=x.numel)


@TABLE.formula("aten.multinomial",
               note="inverse-CDF sampling: a running sum of the n weights per row, then a "
                    "binary search (⌈log2 n⌉ comparisons) per sample")
def multinomial(result, x: TensorSpec, *_, **__) -> Cost:
    """n additions per row of n weights + ⌈log2 n⌉ comparisons per drawn sample.

    NB: torch draws without replacement by another route (exponential keys, then a top-k);
    both are counted as this inverse-CDF search. The random numbers themselves are free, as
    for ``rand``.

    >>> multinomial(TensorSpec((2, 3), "int64", 8), TensorSpec((2, 8))).elementwise  # 2·8 + 6·3
    34
    """
    n = x.shape[-1] if x.shape else 1
    samples = result_spec(result).numel
    return Cost(elementwise=x.numel + samples * max(1, math.ceil(math.log2(max(n, 2)))))
