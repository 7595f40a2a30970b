"""Shared arithmetic for formulas: pure functions over ints and specs."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from flopwise.formulas.spec import TensorSpec

__all__ = ["is_float", "specs_in", "first_spec", "result_spec", "prod", "as_list"]

_FLOAT_PREFIXES = ("float", "bfloat", "complex")


def is_float(spec: TensorSpec | None) -> bool:
    """True for floating-point (and complex) dtypes: only those do floating-point operations."""
    return spec is not None and spec.dtype.startswith(_FLOAT_PREFIXES)


def specs_in(value: Any) -> list[TensorSpec]:
    """Every TensorSpec in a (possibly nested) argument, in order."""
    if isinstance(value, TensorSpec):
        return [value]
    if isinstance(value, (list, tuple)):
        found: list[TensorSpec] = []
        for item in value:
            found.extend(specs_in(item))
        return found
    return []


def first_spec(value: Any) -> TensorSpec | None:
    found = specs_in(value)
    return found[0] if found else None


def result_spec(result: Any) -> TensorSpec:
    """The op's main output: the result itself or the first element of a tuple result."""
    spec = first_spec(result)
    if spec is None:
        raise ValueError("the op returned no tensor")  # recorded as a formula error
    return spec


def prod(values: Iterable[int]) -> int:
    return math.prod(int(v) for v in values)


def as_list(value: int | Sequence[int], length: int) -> list[int]:
    """Expand an int or a 1-element list to ``length`` entries (pooling/conv arguments)."""
    if isinstance(value, int):
        return [value] * length
    values = [int(v) for v in value]
    return values * length if len(values) == 1 else values
