"""The meta-test: every registered formula has a hand-derived case somewhere in tests/core."""

from __future__ import annotations

import torch

import flopwise
from flopwise.formulas import builtin_registry
from flopwise.formulas.registry import Kind
from tests.core import (
    test_formulas_contractions,
    test_formulas_elementwise,
    test_formulas_fft,
    test_formulas_layers,
    test_formulas_sequence,
)
from tests.core.support import summed
from tests.distributed import test_comm_formulas

CASE_MODULES = (test_formulas_contractions, test_formulas_sequence, test_formulas_layers,
                test_formulas_elementwise, test_formulas_fft, test_comm_formulas)


def test_every_formula_has_a_case():
    covered: set[str] = set()
    for module in CASE_MODULES:
        covered |= module.COVERS
    registry = builtin_registry()
    formulas = {e.key for e in registry.entries() if e.kind is Kind.FORMULA}
    missing = sorted(formulas - covered)
    assert not missing, f"{len(missing)} formulas have no test case: {missing}"
    unknown = sorted(covered - set(registry.keys()))
    assert not unknown, f"cases name ops that are not registered: {unknown}"


def test_zero_ops_are_declared_with_a_reason():
    for entry in builtin_registry().entries():
        if entry.kind is Kind.ZERO:
            assert entry.note and entry.family in ("data", "comm"), entry.key


def test_declared_zero_ops_move_their_bytes_and_views_move_none():
    # clone of a [2,3] float32: no FLOPs, reads 24 B and writes 24 B; a view moves nothing
    x = torch.randn(2, 3)
    report = flopwise.profile(lambda t: (t.clone(), t.view(3, 2), t.t()), (x,))
    clone = summed(report, ("aten.clone",))
    assert (clone.elementwise, clone.bytes_read, clone.bytes_written) == (0, 24, 24)
    views = summed(report, ("aten.view", "aten.t"))
    assert (views.bytes_read, views.bytes_written) == (0, 0)
    assert {e.status.value for e in report.events} == {"zero"}


def test_an_op_without_formula_is_decomposed_before_it_is_unsupported():
    # aten.hardshrink has no formula: its decomposition (abs, le, where...) is counted instead
    report = flopwise.profile(torch.nn.functional.hardshrink, (torch.randn(4),))
    assert report.unsupported == {}
    assert report.decomposed == {"aten.hardshrink.default": 1}
    assert all(e.via == "aten.hardshrink.default" for e in report.events)
