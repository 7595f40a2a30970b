"""Exact multivariate polynomials with rational coefficients, and the exact fit of one to
values on a grid.

>>> p = Polynomial(("b", "s"), {(1, 1): Fraction(12), (1, 2): Fraction(1, 2)})
>>> str(p)
'12·b·s + 1/2·b·s²'
>>> p(b=2, s=4)
Fraction(112, 1)
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

__all__ = ["Polynomial", "fit_grid", "degree_along"]

_SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


@dataclass(frozen=True)
class Polynomial:
    """``Σ coefficient · Π variable^exponent``; exponents are keyed in ``variables`` order and
    zero coefficients are dropped."""

    variables: tuple[str, ...]
    terms: Mapping[tuple[int, ...], Fraction] = field(default_factory=dict)

    def __post_init__(self) -> None:
        kept = {tuple(e): Fraction(c) for e, c in self.terms.items() if c != 0}
        object.__setattr__(self, "terms", dict(sorted(kept.items(), key=_order)))

    def __call__(self, **values: int) -> Fraction:
        total = Fraction(0)
        for exponents, coefficient in self.terms.items():
            term = coefficient
            for name, power in zip(self.variables, exponents, strict=True):
                term *= Fraction(values[name]) ** power
            total += term
        return total

    def coefficient(self, **powers: int) -> Fraction:
        """The coefficient of ``Π name^power`` (0 when absent): ``p.coefficient(b=1, s=2)``."""
        key = tuple(powers.get(name, 0) for name in self.variables)
        return self.terms.get(key, Fraction(0))

    @property
    def degree(self) -> int:
        return max((sum(e) for e in self.terms), default=0)

    def __str__(self) -> str:
        if not self.terms:
            return "0"
        pieces = []
        for exponents, coefficient in self.terms.items():
            monomial = [name + (str(p).translate(_SUPERSCRIPTS) if p > 1 else "")
                        for name, p in zip(self.variables, exponents, strict=True) if p]
            text = _number(abs(coefficient))
            if monomial:
                text = "·".join(([] if abs(coefficient) == 1 else [text]) + monomial)
            pieces.append(("- " if coefficient < 0 else "+ ") + text)
        first = pieces[0]
        return (first[2:] if first.startswith("+") else "-" + first[2:]) + "".join(
            " " + piece for piece in pieces[1:])

    def to_dict(self) -> dict[str, Any]:
        return {"variables": list(self.variables),
                "terms": [{"powers": list(e), "coefficient": str(c)}
                          for e, c in self.terms.items()]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Polynomial:
        return cls(tuple(data["variables"]), {tuple(t["powers"]): Fraction(t["coefficient"])
                                              for t in data["terms"]})


def _order(item: tuple[tuple[int, ...], Fraction]) -> tuple[int, tuple[int, ...]]:
    exponents = item[0]
    return sum(exponents), tuple(-e for e in exponents)


def _number(value: Fraction) -> str:
    if value.denominator == 1:
        return f"{value.numerator:,}"
    return f"{value.numerator:,}/{value.denominator:,}"


def degree_along(values: Sequence[int]) -> int | None:
    """The degree of the polynomial through equally spaced ``values``: the first order of
    finite differences that is all zero, minus one; None when even the last order is not zero
    (the values fit no polynomial of degree below ``len(values) - 1``).

    >>> degree_along([1, 4, 9, 16, 25]), degree_along([3, 3, 3]), degree_along([1, 2, 4, 8])
    (2, 0, None)
    """
    differences = list(values)
    for order in range(len(values) - 1):
        differences = [b - a for a, b in itertools.pairwise(differences)]
        if all(d == 0 for d in differences):
            return order
    return None


def fit_grid(variables: tuple[str, ...], degrees: Sequence[int],
             samples: Mapping[tuple[int, ...], int]) -> Polynomial:
    """The polynomial of degree ≤ ``degrees[i]`` in each variable through ``samples`` (keys: one
    value per variable; exactly Π(degree + 1) grid points), solved exactly in rationals.

    >>> fit_grid(("s",), [2], {(1,): 3, (2,): 9, (3,): 19})    # 2s² + 1
    Polynomial(variables=('s',), terms={(0,): Fraction(1, 1), (2,): Fraction(2, 1)})
    """
    monomials = list(itertools.product(*(range(d + 1) for d in degrees)))
    points = list(samples)
    if len(points) != len(monomials):
        raise ValueError(f"{len(points)} samples for {len(monomials)} unknown coefficients")
    rows = [[Fraction(_power(point, exponents)) for exponents in monomials]
            + [Fraction(samples[point])] for point in points]
    solution = _solve(rows)
    return Polynomial(variables, dict(zip(monomials, solution, strict=True)))


def _power(point: tuple[int, ...], exponents: tuple[int, ...]) -> int:
    result = 1
    for value, power in zip(point, exponents, strict=True):
        result *= value ** power
    return result


def _solve(rows: list[list[Fraction]]) -> list[Fraction]:
    """Gauss–Jordan elimination of an augmented square system (a tensor grid of distinct
    points: the system is regular)."""
    n = len(rows)
    for column in range(n):
        pivot = next(r for r in range(column, n) if rows[r][column] != 0)
        rows[column], rows[pivot] = rows[pivot], rows[column]
        lead = rows[column][column]
        rows[column] = [value / lead for value in rows[column]]
        for r in range(n):
            if r != column and rows[r][column] != 0:
                factor = rows[r][column]
                rows[r] = [a - factor * b for a, b in zip(rows[r], rows[column], strict=True)]
    return [row[-1] for row in rows]
