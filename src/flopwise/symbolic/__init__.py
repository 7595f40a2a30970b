"""Cost as an exact formula of input dimensions: :func:`flopwise.scaling` profiles a model at
enough sizes (on ``meta``: nothing is allocated) to pin the polynomial with rational
coefficients, verifies it at further sizes, and refuses when the counts are not polynomial."""

from __future__ import annotations

from flopwise.symbolic.polynomial import Polynomial
from flopwise.symbolic.scaling import Dimension, ModuleScaling, Scaling, scaling

__all__ = ["Dimension", "ModuleScaling", "Polynomial", "Scaling", "scaling"]
