"""Exact polynomials: fitting, evaluation, printing, round trips."""

from __future__ import annotations

from fractions import Fraction

import pytest

from flopwise.symbolic.polynomial import Polynomial, degree_along, fit_grid


def test_fit_recovers_rational_coefficients() -> None:
    def f(b: int, s: int) -> Fraction:                 # 3/2·b·s + 7·b·s² + 5
        return Fraction(3, 2) * b * s + 7 * b * s * s + 5

    grid = {(b, s): f(b, s) for b in (1, 3) for s in (2, 4, 6)}
    poly = fit_grid(("b", "s"), [1, 2], grid)
    assert poly.coefficient(b=1, s=1) == Fraction(3, 2)
    assert poly.coefficient(b=1, s=2) == 7
    assert poly.coefficient() == 5
    assert poly(b=10, s=11) == f(10, 11)
    assert str(poly) == "5 + 3/2·b·s + 7·b·s²"


@pytest.mark.parametrize(("values", "degree"), [
    ([5, 5, 5, 5], 0), ([1, 3, 5, 7], 1), ([0, 1, 4, 9, 16], 2), ([0, 1, 8, 27, 64], 3),
    ([1, 2, 4, 8, 16], None),
], ids=["constant", "linear", "square", "cube", "exponential"])
def test_degree_along(values: list[int], degree: int | None) -> None:
    assert degree_along(values) == degree


def test_round_trip_and_negative_terms() -> None:
    poly = Polynomial(("x",), {(0,): Fraction(-1), (1,): Fraction(2, 3), (2,): Fraction(-4)})
    assert str(poly) == "-1 + 2/3·x - 4·x²"
    assert Polynomial.from_dict(poly.to_dict()) == poly
