"""``flopwise diff`` and ``flopwise check`` (and the budget flags of ``profile``) on real saved
reports: MLPs of two widths profiled on real tensors and saved with ``report.to_json()`` (their
figures derived by hand in ``conftest.mlp_figures``), and ResNet-18/34 saved by ``flopwise
profile -f json``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from flopwise.budget import Budget, check_budget
from flopwise.diff import Status, diff_reports
from flopwise.errors import UsageError
from flopwise.render.units import format_bytes, format_count

from .conftest import B, I, O, mlp_figures, mlp_report, save

runner = CliRunner()


def invoke(*args: str) -> Any:
    return runner.invoke(app_(), list(args))


def app_() -> Any:
    from flopwise.cli import app

    return app


def one_error_line(result: Any, code: int, *fragments: str) -> str:
    assert result.exit_code == code, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("saved")
    return {
        "narrow": save(mlp_report(16), folder / "narrow.json"),
        "wide": save(mlp_report(32), folder / "wide.json"),
        "macs": save(mlp_report(16, convention="macs"), folder / "macs.json"),
    }


# -- diff: library -----------------------------------------------------------------------------
def test_diff_totals_and_modules_by_hand(saved: dict[str, Path]) -> None:
    from flopwise.saved import load_report

    change = diff_reports(load_report(saved["narrow"]), load_report(saved["wide"]))
    narrow, wide = mlp_figures(16), mlp_figures(32)
    for metric in ("params", "macs", "flops", "bytes"):
        assert change.totals[metric].before == narrow[metric]
        assert change.totals[metric].after == wide[metric]
    assert change.totals["flops"].change == 84 * 16            # FLOPs = 84·H for this MLP
    # own FLOPs grow with H: Linear(8, H) 2·B·I·H, ReLU B·H, Linear(H, 2) 2·B·H·O
    assert [m.name for m in change.modules] == ["", "0", "2", "1"]
    assert [m.flops.change for m in change.modules] == [
        84 * 16, 2 * B * I * 16, 2 * B * 16 * O, B * 16]
    assert change.modules[1].params.change == (I + 1) * 16
    assert all(m.status is Status.CHANGED for m in change.modules)
    assert change.unchanged == 0 and change.added == () and change.removed == ()


def test_diff_added_removed_and_sort(resnet_pair: tuple[Path, Path]) -> None:
    from flopwise.saved import load_report

    small, large = (load_report(p) for p in resnet_pair)
    change = diff_reports(small, large, sort="params")
    added = {m["name"] for m in large["modules"]} - {m["name"] for m in small["modules"]}
    assert set(change.added) == added and "layer3.5" in added and change.removed == ()
    sizes = [abs(m.params.change) for m in change.modules]
    assert sizes == sorted(sizes, reverse=True)
    backwards = diff_reports(large, small)
    assert set(backwards.removed) == added
    assert backwards.totals["flops"].change == -change.totals["flops"].change
    assert diff_reports(small, small).modules == ()


def test_diff_refuses_other_conventions_and_schemas(saved: dict[str, Path]) -> None:
    from flopwise.saved import load_report

    with pytest.raises(UsageError, match="'standard' convention .* under 'macs'"):
        diff_reports(load_report(saved["narrow"]), load_report(saved["macs"]))


# -- diff: command -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def resnet_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """ResNet-18 and ResNet-34 saved the way CI does: flopwise profile -f json -o FILE."""
    pytest.importorskip("torchvision")
    folder = tmp_path_factory.mktemp("resnets")
    paths = []
    for name in ("resnet18", "resnet34"):
        path = folder / f"{name}.json"
        result = invoke("profile", f"torchvision:{name}", "-f", "json", "-o", str(path))
        assert result.exit_code == 0, result.output
        paths.append(path)
    return paths[0], paths[1]


def test_diff_command_table(resnet_pair: tuple[Path, Path]) -> None:
    small, large = resnet_pair
    result = invoke("diff", str(small), str(large), "--top", "5")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"flopwise diff: {small} -> {large} (FLOPs: standard)"
    before, after = (json.loads(p.read_text())["total"] for p in resnet_pair)
    params = next(line for line in lines if line.lstrip().startswith("params"))
    assert params.split() == [
        "params", *format_count(before["params"]).split(), *format_count(after["params"]).split(),
        *("+" + format_count(after["params"] - before["params"])).split(),
        f"{100 * (after['params'] - before['params']) / before['params']:+.1f}%"]
    modules = lines[lines.index(next(l for l in lines if l.startswith("Modules"))):]
    assert "48 added" in modules[0] and "the first 5 shown" in modules[0]
    rows = modules[next(i for i, l in enumerate(modules) if l.lstrip().startswith("─")) + 1:]
    assert len(rows) == 5 and rows[0].split()[:2] == ["(root)", "changed"]


def test_diff_command_json_and_markdown(saved: dict[str, Path], tmp_path: Path) -> None:
    result = invoke("diff", str(saved["narrow"]), str(saved["wide"]), "-f", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["kind"] == "flopwise-diff" and data["convention"] == "standard"
    assert data["totals"]["macs"] == {"before": 40 * 16, "after": 40 * 32, "change": 40 * 16,
                                      "relative": 1.0}
    assert [m["name"] for m in data["modules"]] == ["", "0", "2", "1"]
    target = tmp_path / "diff.md"
    result = invoke("diff", str(saved["narrow"]), str(saved["wide"]), "-f", "md", "-o",
                    str(target), "--sort", "params")
    assert result.exit_code == 0 and result.stdout == ""
    text = target.read_text()
    assert "| FLOPs (standard) | 1.34 K | 2.69 K | +1.34 K | +100.0% |" in text
    assert f"| 0 | changed | Linear | +{(I + 1) * 16} |" in text
    assert f"+{format_bytes(mlp_figures(32)['bytes'] - mlp_figures(16)['bytes'])}" in text


def test_diff_command_errors_are_one_line(saved: dict[str, Path], tmp_path: Path) -> None:
    one_error_line(invoke("diff", str(saved["narrow"]), str(saved["macs"])), 2,
                   "error:", "'standard'", "'macs'", "--convention")
    old = json.loads(saved["narrow"].read_text())
    old["schema"] = 3
    newer = tmp_path / "schema3.json"
    newer.write_text(json.dumps(old))
    one_error_line(invoke("diff", str(newer), str(saved["wide"])), 2, "schema 3", str(newer))
    one_error_line(invoke("diff", str(tmp_path / "missing.json"), str(saved["wide"])), 2,
                   "cannot read", "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    one_error_line(invoke("diff", str(tmp_path / "bad.json"), str(saved["wide"])), 2,
                   "is not JSON")


# -- check: library ----------------------------------------------------------------------------
def test_budget_parse_and_compare() -> None:
    budget = Budget.parse(max_flops="2K", max_params="300", max_macs="1K")
    assert (budget.max_flops, budget.max_params, budget.max_macs) == (2000, 300, 1000)
    narrow = check_budget(mlp_report(16), budget)
    assert narrow.ok and narrow.summary() == (
        "budget OK for Sequential: FLOPs (standard) 1.34 K <= 2.00 K; MACs 640 <= 1.00 K; "
        "params 178 <= 300")
    wide = check_budget(mlp_report(32), budget)
    assert wide.failure_lines() == [
        "budget exceeded: FLOPs (standard) 2.69 K > 2.00 K (--max-flops 2K)",
        "budget exceeded: MACs 1.28 K > 1.00 K (--max-macs 1K)",
        "budget exceeded: params 354 > 300 (--max-params 300)"]
    exact = Budget.parse(max_flops=str(mlp_figures(16)["flops"]))
    assert check_budget(mlp_report(16), exact).ok                 # equal is within budget
    with pytest.raises(UsageError, match="--max-memory: unknown byte unit"):
        Budget.parse(max_memory="2 parsecs")
    with pytest.raises(UsageError, match="once"):
        Budget.parse(max_gflops=1.0, max_flops="1G")
    with pytest.raises(UsageError, match="positive"):
        Budget.parse(max_gflops=0.0)


def test_memory_and_latency_budgets_read_the_extra_sections() -> None:
    data = mlp_report(16).to_dict()
    data["memory"] = {"peak_bytes": 3 * 1024**2}
    data["roofline"] = {"hardware": {"id": "h100-sxm", "peak_flops_per_s": 989.4e12,
                                     "bandwidth_bytes_per_s": 3.35e12}, "time_s": 0.004}
    result = check_budget(data, Budget.parse(max_memory="2MiB", max_latency_ms=5.0))
    assert result.failure_lines() == [
        "budget exceeded: peak memory 3.00 MiB > 2.00 MiB (--max-memory 2MiB)"]
    assert result.checks[1].line() == "latency (estimated on h100-sxm) 4.00 ms <= 5.00 ms"
    data["timing"] = {"time_s": 0.006}                               # measured wins
    assert check_budget(data, Budget.parse(max_latency_ms=5.0)).failure_lines() == [
        "budget exceeded: latency (measured) 6.00 ms > 5.00 ms (--max-latency-ms 5)"]
    bare = mlp_report(16).to_dict()
    bare.pop("memory", None)
    with pytest.raises(UsageError, match="memory.peak_bytes"):
        check_budget(bare, Budget.parse(max_memory="1GiB"))
    with pytest.raises(UsageError, match="--hardware NAME .* --time"):
        check_budget(bare, Budget.parse(max_latency_ms=1.0))


# -- check: command ----------------------------------------------------------------------------
def test_check_command_ok_and_exceeded(saved: dict[str, Path]) -> None:
    result = invoke("check", str(saved["narrow"]), "--max-flops", "2K", "--max-params", "300")
    assert result.exit_code == 0, result.output
    assert result.stdout == ("budget OK for Sequential: FLOPs (standard) 1.34 K <= 2.00 K; "
                             "params 178 <= 300\n")
    assert result.stderr == ""
    result = invoke("check", str(saved["wide"]), "--max-flops", "2K", "--max-params", "300")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "budget exceeded: FLOPs (standard) 2.69 K > 2.00 K (--max-flops 2K)",
        "budget exceeded: params 354 > 300 (--max-params 300)"]


def test_check_command_gflops_and_memory_on_a_resnet(resnet_pair: tuple[Path, Path],
                                                     tmp_path: Path) -> None:
    small, large = resnet_pair
    result = invoke("check", str(small), "--max-gflops", "4", "--max-params", "12M")
    assert result.exit_code == 0, result.output
    result = invoke("check", str(large), "--max-gflops", "4", "--max-params", "12M")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        "budget exceeded: FLOPs (standard) 7.35 G > 4.00 G (--max-gflops 4)")
    data = json.loads(small.read_text())
    data["memory"] = {"peak_bytes": 3 * 1024**3}
    heavy = tmp_path / "heavy.json"
    heavy.write_text(json.dumps(data))
    result = invoke("check", str(heavy), "--max-memory", "2GiB")
    assert result.exit_code == 1
    assert result.stderr == "budget exceeded: peak memory 3.00 GiB > 2.00 GiB (--max-memory 2GiB)\n"


def test_check_command_usage_errors(saved: dict[str, Path], tmp_path: Path) -> None:
    one_error_line(invoke("check", str(saved["narrow"])), 2, "no budget given")
    one_error_line(invoke("check", str(saved["narrow"]), "--max-params", "12Q"), 2,
                   "--max-params", "unknown count prefix")
    data = json.loads(saved["narrow"].read_text())
    data.pop("memory", None)
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps(data))
    one_error_line(invoke("check", str(bare), "--max-memory", "1GiB"), 2, "memory.peak_bytes")
    one_error_line(invoke("check", str(bare), "--max-latency-ms", "3"), 2, "--hardware")


def test_profile_budget_flags() -> None:
    pytest.importorskip("torchvision")
    result = invoke("profile", "torchvision:resnet18", "-f", "json", "--max-gflops", "1")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["total"]["flops"] > 10**9      # the report is still written
    assert result.stderr.splitlines() == [
        "budget exceeded: FLOPs (standard) 3.64 G > 1.00 G (--max-gflops 1)"]
    result = invoke("profile", "torchvision:resnet18", "--depth", "0", "--max-params", "12M")
    assert result.exit_code == 0, result.output
    assert result.stderr.strip() == (
        "budget OK for torchvision:resnet18 (ResNet): params 11.69 M <= 12.00 M")
    one_error_line(invoke("profile", "torchvision:resnet18", "--max-memory", "lots"), 2,
                   "--max-memory")


def test_check_runs_without_torch(saved: dict[str, Path]) -> None:
    code = ("import sys; from flopwise.cli import main; sys.argv = ['flopwise', 'check', "
            f"{str(saved['narrow'])!r}, '--max-flops', '2K']\ntry:\n    main()\n"
            "except SystemExit as e:\n    assert 'torch' not in sys.modules, 'torch imported'\n"
            "    raise")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("budget OK for Sequential")
