"""Exact polynomials in the context length, fitted through sampled decode steps.

A decode step's cost is a polynomial in its context ``c`` (the keys the new token attends to):
the dense matmuls are constant, QKᵀ and AV grow linearly with ``c``. Sampling a few steps and
interpolating exactly (rational arithmetic, no least squares) gives the formula; further
samples check it.

>>> cost = fit([(5, 1040), (6, 1048), (7, 1056)])     # 1000 + 8·c
>>> cost.coefficients
(Fraction(1000, 1), Fraction(8, 1), Fraction(0, 1))
>>> cost(100), str(cost)
(1800, '1000 + 8·c')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from flopwise.errors import FlopwiseError

__all__ = ["Polynomial", "fit"]


@dataclass(frozen=True)
class Polynomial:
    """``Σ coefficients[i] · cⁱ`` with exact rational coefficients (lowest degree first)."""

    coefficients: tuple[Fraction, ...]

    def __call__(self, context: int) -> int:
        """The value at ``context``; an error if it is not a whole number there.

        >>> Polynomial((Fraction(1, 2), Fraction(1, 2)))(3)
        2
        """
        value = sum((coefficient * context**power
                     for power, coefficient in enumerate(self.coefficients)), Fraction(0))
        if value.denominator != 1:
            raise FlopwiseError(f"the fitted cost {self} is not a whole number at c = {context}")
        return int(value)

    def total(self, first: int, last: int) -> int:
        """The sum of the values at ``first, first + 1, ..., last``.

        >>> Polynomial((Fraction(0), Fraction(1))).total(1, 4)     # 1 + 2 + 3 + 4
        10
        """
        return sum(self(context) for context in range(first, last + 1))

    def __str__(self) -> str:
        terms = [_term(coefficient, power)
                 for power, coefficient in enumerate(self.coefficients) if coefficient]
        return " + ".join(terms).replace("+ -", "- ") if terms else "0"

    def to_list(self) -> list[str]:
        """The coefficients as strings (``"12"``, ``"3/2"``): exact in JSON."""
        return [str(coefficient) for coefficient in self.coefficients]

    @classmethod
    def from_list(cls, values: Sequence[str | int]) -> Polynomial:
        """The inverse of :meth:`to_list`."""
        return cls(tuple(Fraction(value) for value in values))


def _term(coefficient: Fraction, power: int) -> str:
    variable = {0: "", 1: "c"}.get(power, f"c^{power}")
    if not variable:
        return str(coefficient)
    if coefficient == 1:
        return variable
    return f"{coefficient}·{variable}"


def fit(samples: Sequence[tuple[int, int]], degree: int = 2) -> Polynomial:
    """The polynomial of degree ≤ ``degree`` through the first ``degree + 1`` samples
    (Lagrange interpolation over the rationals), checked against every further sample.

    Raises :class:`~flopwise.FlopwiseError` when a further sample is off the curve.

    >>> fit([(1, 1), (2, 4), (3, 9), (10, 100)])
    Polynomial(coefficients=(Fraction(0, 1), Fraction(0, 1), Fraction(1, 1)))
    >>> fit([(1, 1), (2, 2), (3, 3), (4, 5)])
    Traceback (most recent call last):
    ...
    flopwise.errors.FlopwiseError: the cost at c = 4 is 5, but c (fitted through c = 1, 2, 3) gives 4
    """
    if not samples:
        raise FlopwiseError("no samples to fit a polynomial through")
    used = list(samples[: degree + 1])
    coefficients = [Fraction(0)] * len(used)
    for i, (x_i, y_i) in enumerate(used):
        basis = [Fraction(1)]          # Π_{j≠i} (c − x_j) / (x_i − x_j), lowest degree first
        for j, (x_j, _) in enumerate(used):
            if j == i:
                continue
            scale = Fraction(1, x_i - x_j)
            shifted = [Fraction(0)] + basis
            for k, value in enumerate(basis):
                shifted[k] -= x_j * value
            basis = [value * scale for value in shifted]
        for k, value in enumerate(basis):
            coefficients[k] += y_i * value
    coefficients += [Fraction(0)] * (degree + 1 - len(coefficients))
    polynomial = Polynomial(tuple(coefficients))
    for context, measured in samples[degree + 1:]:
        if polynomial(context) != measured:
            fitted_at = ", ".join(str(x) for x, _ in used)
            raise FlopwiseError(f"the cost at c = {context} is {measured}, but {polynomial} "
                                f"(fitted through c = {fitted_at}) gives {polynomial(context)}")
    return polynomial
