"""``--calibration`` on ``flopwise profile`` and ``flopwise compare`` (CliRunner, a synthetic
calibration file written here, tiny models from a factory file)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flopwise.cli import app

runner = CliRunner()

FACTORIES = textwrap.dedent('''
    import torch

    def single():
        return torch.nn.Linear(64, 256, bias=False), (torch.randn(4, 64),)

    def double():
        return torch.nn.Sequential(torch.nn.Linear(64, 256, bias=False),
                                   torch.nn.Linear(256, 256, bias=False)), (torch.randn(4, 64),)
''')
GEMM_RATE, BANDWIDTH, OP_S, VIEW_S, MODULE_S = 2e10, 1e11, 1e-5, 1e-6, 2e-6


@pytest.fixture()
def files(tmp_path: Path) -> tuple[Path, Path]:
    models = tmp_path / "models.py"
    models.write_text(FACTORIES)
    calibration = {
        "schema": "flopwise.calibration/1", "threads": 2, "device": "test box",
        # one point each, net of the 10 µs op cost: 20 GFLOP/s and 100 GB/s, flat
        "compute": {"gemm": [{"flops": 2 * 10**9, "bytes_moved": 10**7,
                              "median_s": 2e9 / GEMM_RATE + OP_S}]},
        "memory": {"elementwise": [{"bytes_moved": 10**6, "median_s": 1e6 / BANDWIDTH + OP_S}]},
        "overhead_s": {"op": OP_S, "view": VIEW_S, "module": MODULE_S},
    }
    profile = tmp_path / "box.json"
    profile.write_text(json.dumps({"id": "box", "calibration": calibration}))
    return models, profile


def test_profile_json_has_the_hand_derived_prediction(files: tuple[Path, Path]) -> None:
    models, profile = files
    result = runner.invoke(app, ["profile", f"{models}:single", "--calibration", str(profile),
                                 "-f", "json"])
    assert result.exit_code == 0, result.output
    latency = json.loads(result.stdout)["latency"]
    # Linear without bias = t (a view) + mm of 4x64 by 64x256: 2·4·64·256 FLOPs, compute-bound
    # (4·(4·64 + 64·256 + 4·256) = 70,656 bytes take 0.7 µs at 100 GB/s); one module call
    expected = 2 * 4 * 64 * 256 / GEMM_RATE + OP_S + VIEW_S + MODULE_S
    assert latency["estimated_latency_s"] == pytest.approx(expected, rel=1e-9)
    assert latency["calibration"] == str(profile)
    assert latency["threads"] == 2


def test_profile_table_has_the_calibrated_column_and_summary(files: tuple[Path, Path]) -> None:
    models, profile = files
    result = runner.invoke(app, ["profile", f"{models}:double", "--calibration", str(profile)],
                           env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "calibrated" in result.stdout
    assert "Calibrated estimate" in result.stdout and "measured on test box with 2 threads" in result.stdout


def test_compare_shows_roofline_calibrated_and_measured(files: tuple[Path, Path]) -> None:
    models, profile = files
    result = runner.invoke(app, ["compare", f"{models}:single", f"{models}:double",
                                 "--hardware", "h100-sxm", "--calibration", str(profile),
                                 "--time", "--warmup", "0", "--repeats", "1", "-f", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["models"]
    single, double = rows
    assert single["estimated_latency_s"] == pytest.approx(
        2 * 4 * 64 * 256 / GEMM_RATE + OP_S + VIEW_S + MODULE_S)
    # the second Linear adds 2·4·256·256 FLOPs, one more mm, view and module call, and the
    # Sequential's own call
    assert double["estimated_latency_s"] == pytest.approx(
        2 * 4 * 256 * (64 + 256) / GEMM_RATE + 2 * (OP_S + VIEW_S) + 3 * MODULE_S)
    assert all(row["roofline_latency_s"] > 0 and row["measured_latency_s"] > 0 for row in rows)
    table = runner.invoke(app, ["compare", f"{models}:single", f"{models}:double",
                                "--calibration", str(profile)], env={"COLUMNS": "200"})
    assert "est. latency (calibrated)" in table.stdout


def test_a_profile_without_tables_is_one_line_and_exit_2(files: tuple[Path, Path],
                                                        tmp_path: Path) -> None:
    models, _ = files
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"id": "x"}))
    result = runner.invoke(app, ["profile", f"{models}:single", "--calibration", str(old)])
    assert result.exit_code == 2
    assert "no calibration tables" in result.stderr and "bench-device" in result.stderr


def test_html_page_shows_the_calibrated_time(files: tuple[Path, Path], tmp_path: Path) -> None:
    models, profile = files
    page = tmp_path / "single.html"
    result = runner.invoke(app, ["profile", f"{models}:single", "--calibration", str(profile),
                                 "--format", "html", "--output", str(page)])
    assert result.exit_code == 0, result.output
    html = page.read_text(encoding="utf-8")
    # the same hand sum as the JSON test: one mm at 20 GFLOP/s, its op, a view, a module call
    seconds = 2 * 4 * 64 * 256 / GEMM_RATE + OP_S + VIEW_S + MODULE_S    # 19.5536 µs
    assert 'data-card="calibrated"' in html and "19.55 µs" in html and seconds < 2e-5
