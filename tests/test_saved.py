"""Version-1 files written before typed sections still load, render, diff and check
(flopwise.saved; fixtures described in tests/test_schema.py)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from flopwise.cli import app
from flopwise.render.html import render_html
from flopwise.saved import (
    estimated_latency_s,
    load_report,
    measured_latency_s,
    peak_memory_bytes,
    roofline_latency_s,
)

V1 = Path(__file__).parent / "fixtures" / "v1"
PARAMS = (3 * 4 * 3 * 3 + 4) + (4 + 4) + (256 * 10 + 10)      # conv, batch norm, linear


def test_version_1_file_loads_and_renders() -> None:
    data = load_report(V1 / "convnet_sections.json")
    peak = 4 * PARAMS + (4 * 4 + 4 * 4 + 8) + 4 * 2 * 3 * 8 * 8 + 4096  # params, buffers,
    assert peak_memory_bytes(data) == peak                   # inputs, activation peak (file)
    assert roofline_latency_s(data) == data["roofline"]["time_s"] > 0
    assert estimated_latency_s(data) is None                 # v1 files have no calibration
    assert measured_latency_s(data) == data["timing"]["time_s"] > 0
    page = render_html(data)
    assert f'{peak / 1024:.2f} KiB' in page and f"{PARAMS:,}" in page


def test_version_1_files_diff_and_check() -> None:
    runner = CliRunner()
    same = runner.invoke(app, ["diff", str(V1 / "convnet.json"),
                               str(V1 / "convnet_sections.json")])
    assert same.exit_code == 0, same.output
    assert "every module has the same figures" in same.stdout
    train = runner.invoke(app, ["diff", str(V1 / "convnet.json"), str(V1 / "convnet_train.json")])
    assert train.exit_code == 0, train.output
    # backward MACs: the conv's weight gradient (its input needs none) and the linear's input
    # and weight gradients, each as many MACs as the forward contraction
    conv, linear = 2 * 4 * 8 * 8 * (3 * 3 * 3), 2 * 256 * 10
    assert f"+{(conv + 2 * linear) / 1000:.2f} K" in train.stdout
    check = runner.invoke(app, ["check", str(V1 / "convnet_sections.json"),
                                "--max-params", str(PARAMS)])
    assert check.exit_code == 0, check.output
