"""A formula for a user's own op, registered on a copy of the registry (docs/formulas.md)."""

from __future__ import annotations

import pytest
import torch

import flopwise
from flopwise.errors import UnsupportedOpsError
from flopwise.formulas import Cost, builtin_registry


@torch.library.custom_op("flopwise_test_registry::scale", mutates_args=())
def scale(x: torch.Tensor, factor: float) -> torch.Tensor:
    return x * factor


@scale.register_fake
def _(x: torch.Tensor, factor: float) -> torch.Tensor:
    return torch.empty_like(x)


def run(x: torch.Tensor) -> torch.Tensor:
    return scale(x, 2.0)


def test_a_custom_op_is_unsupported_and_strict_says_how_to_add_a_formula() -> None:
    with pytest.raises(UnsupportedOpsError) as raised:
        flopwise.profile(run, torch.randn(4, 8), strict=True)
    message = str(raised.value)
    assert "flopwise.default_registry()" in message and "registry=registry" in message
    assert "flopwise.formulas.register" not in message       # no such function


def test_a_formula_on_a_registry_copy_counts_it_for_that_run_only() -> None:
    registry = flopwise.default_registry()

    @registry.register("flopwise_test_registry.scale", family="custom")
    def scale_cost(result, x, factor):  # type: ignore[no-untyped-def]
        """One multiply per element."""
        return Cost(elementwise=x.numel)

    report = flopwise.profile(run, torch.randn(4, 8), registry=registry)
    assert report.total.flops == 4 * 8 and report.unsupported == {}
    assert "flopwise_test_registry.scale" not in builtin_registry()
    plain = flopwise.profile(run, torch.randn(4, 8))
    assert plain.unsupported == {"flopwise_test_registry.scale.default": 1}
