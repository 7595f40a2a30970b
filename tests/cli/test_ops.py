"""``flopwise ops``: the registered formulas, as a table or JSON, filtered by family."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from flopwise.cli import app
from flopwise.formulas import builtin_registry

runner = CliRunner()


def test_json_lists_every_registered_op() -> None:
    result = runner.invoke(app, ["ops", "--format", "json"])
    assert result.exit_code == 0, result.output
    ops = json.loads(result.stdout)["ops"]
    assert [op["op"] for op in ops] == [entry.key for entry in builtin_registry().entries()]
    mm = next(op for op in ops if op["op"] == "aten.mm")
    assert mm == {"op": "aten.mm", "family": "matmul", "kind": "formula",
                  "formula": "[M,K] @ [K,N]: M·N·K MACs.", "note": "", "moves_data": True}
    assert {op["kind"] for op in ops} == {"formula", "zero"}


def test_family_filter_and_prefix() -> None:
    result = runner.invoke(app, ["ops", "--family", "conv", "-f", "json"])
    assert result.exit_code == 0, result.output
    families = {op["family"] for op in json.loads(result.stdout)["ops"]}
    assert families == {"convolution"}


def test_table_has_a_row_per_op_of_the_family() -> None:
    result = runner.invoke(app, ["ops", "--family", "matmul"])
    assert result.exit_code == 0, result.output
    count = sum(1 for entry in builtin_registry().entries() if entry.family == "matmul")
    assert f"{count} registered ops in 1 family" in result.stdout
    assert "aten.addmm" in result.stdout and "M·N bias adds" in result.stdout


def test_unknown_family_is_a_usage_error() -> None:
    result = runner.invoke(app, ["ops", "--family", "p"])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert "did you mean pointwise or pooling?" in result.stderr
