"""The meta-test: every registered formula has a hand-derived case in tests/formulas.

The case modules are found by name: every ``test_*`` module of this package that declares the
ops it covers (``COVERS``), so a new family's test module counts without being listed here.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

import torch

import flopwise
import tests.formulas
from flopwise.formulas import builtin_registry
from flopwise.formulas.registry import EntryKind
from tests.formulas.support import summed


def case_modules() -> list[ModuleType]:
    """Every ``tests.formulas.test_*`` module with a ``COVERS`` set."""
    found = [importlib.import_module(f"tests.formulas.{info.name}")
             for info in pkgutil.iter_modules(tests.formulas.__path__)
             if info.name.startswith("test_")]
    return [module for module in found if hasattr(module, "COVERS")]


def test_the_case_modules_are_found_by_name():
    names = {module.__name__.rpartition(".")[2] for module in case_modules()}
    assert {"test_contractions", "test_elementwise", "test_fft", "test_layers",
            "test_sequence"} <= names


def test_every_formula_has_a_case():
    covered: set[str] = set()
    for module in case_modules():
        covered |= module.COVERS
    registry = builtin_registry()
    formulas = {e.key for e in registry.entries() if e.kind is EntryKind.FORMULA}
    missing = sorted(formulas - covered)
    assert not missing, f"{len(missing)} formulas have no test case: {missing}"
    unknown = sorted(covered - set(registry.keys()))
    assert not unknown, f"cases name ops that are not registered: {unknown}"


def test_zero_ops_are_declared_with_a_reason():
    for entry in builtin_registry().entries():
        if entry.kind is EntryKind.ZERO:
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
