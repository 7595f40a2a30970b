"""The registry: family tables found by name, and a formula for a user's own op registered on a
copy of the registry (docs/formulas.md)."""

from __future__ import annotations

import pkgutil
import sys

import pytest
import torch

import flopwise
import flopwise.formulas
from flopwise.errors import UnsupportedOpsError, UsageError
from flopwise.formulas import (
    Cost,
    EntryKind,
    FormulaRegistry,
    FormulaTable,
    TensorSpec,
    builtin_registry,
    family_tables,
)
from flopwise.formulas.matmul import mm
from tests.formulas.support import S


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


def test_a_table_keeps_its_formulas_importable_and_declares_them_in_order() -> None:
    table = FormulaTable("custom")

    @table.formula("mylib.a", "mylib.b", note="two ops, one formula")
    def cost(result, x):  # type: ignore[no-untyped-def]
        return Cost(elementwise=x.numel)

    table.formula("mylib.c", family="other")(cost)
    table.zero("mylib.view", note="a view", moves_data=False)
    assert cost(None, TensorSpec((2, 3))).elementwise == 2 * 3    # still a plain function
    got = [(e.key, e.kind, e.family, e.formula is cost, e.moves_data) for e in table.entries()]
    assert got == [("mylib.a", EntryKind.FORMULA, "custom", True, True),
                   ("mylib.b", EntryKind.FORMULA, "custom", True, True),
                   ("mylib.c", EntryKind.FORMULA, "other", True, True),
                   ("mylib.view", EntryKind.ZERO, "custom", False, False)]
    with pytest.raises(UsageError, match="at least one op"):
        table.formula()


def test_adding_a_table_twice_is_an_error_unless_it_overrides() -> None:
    table = FormulaTable("custom")
    table.zero("mylib.view", note="a view")
    registry = FormulaRegistry()
    registry.add_table(table)
    with pytest.raises(UsageError, match="already registered"):
        registry.add_table(table)
    registry.add_table(table, override=True)
    assert len(registry) == 1


def test_the_registered_formula_is_the_module_level_function() -> None:
    # [2,3] @ [3,4]: 2·4 outputs of 3 terms = 24 MACs, called without the registry
    assert mm(S(2, 4), S(2, 3), S(3, 4)).macs == 2 * 4 * 3
    entry = builtin_registry().lookup("aten.mm.default")
    assert entry is not None and entry.formula is mm and entry.family == "matmul"


# modules of flopwise.formulas that hold no formulas (everything else is an op family)
NOT_FAMILIES = {"__init__", "_helpers", "registry", "spec"}


def test_every_family_module_is_found_by_name_with_its_table() -> None:
    modules = {info.name for info in pkgutil.iter_modules(flopwise.formulas.__path__)}
    found = family_tables()
    assert len(found) == len(modules - NOT_FAMILIES)      # each family module has its TABLE
    registered = {entry.family for entry in builtin_registry().entries()}
    declared = {entry.family for table in found for entry in table.entries()}
    assert registered == declared
    assert "matmul" in {table.family for table in found}


def test_a_new_family_module_is_found_without_editing_any_list(tmp_path, monkeypatch) -> None:
    # a module dropped into the package with a TABLE is a family: nothing else names it
    (tmp_path / "flopwise_test_family.py").write_text(
        "from flopwise.formulas.registry import FormulaTable\n"
        "from flopwise.formulas.spec import Cost\n"
        "TABLE = FormulaTable('test-family')\n"
        "@TABLE.formula('mylib.triple')\n"
        "def triple(result, x):\n"
        "    return Cost(elementwise=3 * x.numel)\n")
    monkeypatch.setattr(flopwise.formulas, "__path__", [*flopwise.formulas.__path__, str(tmp_path)])
    monkeypatch.delitem(sys.modules, "flopwise.formulas.flopwise_test_family", raising=False)
    try:
        tables = {table.family: table for table in family_tables()}
    finally:
        sys.modules.pop("flopwise.formulas.flopwise_test_family", None)
    registry = FormulaRegistry()
    registry.add_table(tables["test-family"])
    entry = registry.lookup("mylib.triple.default")
    assert entry is not None and entry.formula is not None
    assert entry.formula(None, TensorSpec((2, 5))).elementwise == 3 * 2 * 5
