"""``flopwise explain`` and ``flopwise profile --symbolic`` end to end (CliRunner)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from flopwise.cli import app

runner = CliRunner()


def test_explain_model_json_parts_add_up() -> None:
    result = runner.invoke(app, ["explain", "torchvision:resnet18", "--to", "thop", "-f", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["first"], data["second"]) == ("macs", "thop")
    for key in ("by_family", "by_op", "by_module"):
        assert sum(part["delta"] for part in data[key]) == data["difference"]
    # thop: BN 2 per element ×2 affine; pool (7·7 + 1) per output: 50·512
    assert {p["name"]: p["delta"] for p in data["by_family"]}["reduction"] == 50 * 512


def test_explain_two_saved_reports(tmp_path: Path) -> None:
    paths = []
    for convention in ("macs", "fvcore"):
        path = tmp_path / f"{convention}.json"
        result = runner.invoke(app, ["profile", "torchvision:resnet18", "-c", convention,
                                     "-f", "json", "-o", str(path)])
        assert result.exit_code == 0, result.output
        paths.append(str(path))
    assert runner.invoke(app, ["diff", *paths]).exit_code == 2          # diff refuses
    result = runner.invoke(app, ["explain", *paths, "-n", "1"])
    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0]
    assert "fvcore − macs = +" in first and "1,814,073,344 → 1,819,065,856" in first


def test_symbolic_side() -> None:
    result = runner.invoke(app, ["profile", "torchvision:resnet18", "--symbolic", "side=64:32",
                                 "-c", "macs", "-f", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    terms = {tuple(t["powers"]): t["coefficient"] for t in data["macs"]["terms"]}
    assert terms == {(0,): "512000", (2,): "36144"}    # see tests/symbolic/test_scaling.py


def test_symbolic_refusals() -> None:
    unknown = runner.invoke(app, ["profile", "torchvision:resnet18", "--symbolic", "depth"])
    assert unknown.exit_code == 2 and "unknown dimension 'depth'" in unknown.output
    floor = runner.invoke(app, ["profile", "torchvision:resnet18", "--symbolic", "side=64"])
    assert floor.exit_code == 1 and "not a polynomial" in floor.output
