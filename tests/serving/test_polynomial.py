"""Exact polynomial fits (no torch)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from flopwise.errors import FlopwiseError
from flopwise.serving.polynomial import Polynomial, fit


@pytest.mark.parametrize(("coefficients", "points"), [
    ((7,), (3, 4, 5, 100)),
    ((160256, 512), (11, 12, 13, 30, 49)),
    ((1, -3, 2), (0, 1, 2, 7, 1000)),
], ids=["constant", "linear", "quadratic"])
def test_fit_recovers_the_polynomial(coefficients: tuple[int, ...], points: tuple[int, ...]) -> None:
    samples = [(c, sum(a * c**k for k, a in enumerate(coefficients))) for c in points]
    fitted = fit(samples)
    padded = coefficients + (0,) * (3 - len(coefficients))
    assert fitted.coefficients == tuple(Fraction(a) for a in padded)


def test_half_integer_coefficients_stay_exact() -> None:
    triangle = fit([(1, 1), (2, 3), (3, 6), (10, 55)])     # c(c+1)/2
    assert str(triangle) == "1/2·c + 1/2·c^2"
    assert triangle(1000) == 500500


def test_a_sample_off_the_curve_is_an_error() -> None:
    with pytest.raises(FlopwiseError, match="the cost at c = 9 is 80"):
        fit([(1, 2), (2, 4), (3, 6), (9, 80)])


def test_lower_degree_through_fewer_samples() -> None:
    assert fit([(5, 20), (6, 24)], degree=1).coefficients == (Fraction(0), Fraction(4))


def test_total_and_json() -> None:
    linear = Polynomial((Fraction(10), Fraction(2)))
    assert linear.total(1, 3) == 12 + 14 + 16
    assert Polynomial.from_list(linear.to_list()) == linear
    assert Polynomial.from_list(["1/2", "3"]).coefficients == (Fraction(1, 2), Fraction(3))
    with pytest.raises(FlopwiseError, match="not a whole number"):
        Polynomial((Fraction(1, 2),))(4)
