"""Plots (matplotlib, the ``plot`` extra): per-layer bars, the roofline, models side by side;
``flopwise profile --plot``; a clear error without matplotlib."""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from flopwise.cli import app
from flopwise.errors import MissingExtraError, UsageError

from .conftest import mlp_report

pytest.importorskip("matplotlib", reason="the plot extra (matplotlib) is not installed")
Image = pytest.importorskip("PIL.Image", reason="Pillow reads the PNGs back")

from flopwise.render.plots import (  # after the skip
    check_plot_target,
    compare_points,
    plot_compare,
    plot_report,
)

BLUE, GREEN, ORANGE = (47, 111, 219), (46, 158, 107), (217, 130, 43)
H100 = {"hardware": {"id": "h100-sxm", "peak_flops_per_s": 989.4e12,
                     "bandwidth_bytes_per_s": 3.35e12}, "time_s": 1.2e-4}


def colours(path: Path) -> set[tuple[int, int, int]]:
    image = Image.open(path).convert("RGB")
    return {rgb for _, rgb in image.getcolors(maxcolors=1 << 22)}


def test_per_layer_bars_and_the_roofline(resnet50: dict[str, Any], tmp_path: Path) -> None:
    bars = plot_report(resnet50, tmp_path / "resnet50.png")
    with_roofline = copy.deepcopy(resnet50)
    with_roofline["roofline"] = H100
    both = plot_report(with_roofline, tmp_path / "resnet50-h100.png")
    assert bars.read_bytes().startswith(b"\x89PNG") and both.read_bytes().startswith(b"\x89PNG")
    plain, roof = Image.open(bars), Image.open(both)
    assert plain.size[0] == roof.size[0] >= 1000
    assert roof.size[1] > plain.size[1] + 400                  # the roofline panel below
    seen = colours(bars)
    assert {BLUE, GREEN, ORANGE} <= seen and len(seen) > 100  # three bar charts, text


def test_svg_output_and_bad_names(tmp_path: Path) -> None:
    svg = plot_report(mlp_report(16), tmp_path / "mlp.svg")
    assert svg.read_text().lstrip().startswith("<?xml")
    with pytest.raises(UsageError, match=r"use a \.png, \.svg or \.pdf"):
        check_plot_target(tmp_path / "mlp.gif")


def test_compare_plot_draws_flops_against_latency_and_params(tmp_path: Path) -> None:
    reports = []
    for width, seconds in ((16, 0.002), (64, 0.003), (256, 0.009), (1024, 0.02)):
        data = mlp_report(width).to_dict()
        data["run"]["model"] = f"mlp-{width}"
        data["timing"] = {"time_s": seconds}
        reports.append(data)
    points = compare_points(reports)
    assert [p.latency_s for p in points] == [0.002, 0.003, 0.009, 0.02]
    assert all(p.measured for p in points)
    path = plot_compare(points, tmp_path / "compare.png")
    assert Image.open(path).size[0] > Image.open(path).size[1]   # two panels side by side
    assert {BLUE, GREEN} <= colours(path)
    untimed = plot_compare(compare_points([mlp_report(16), mlp_report(32)]),
                           tmp_path / "untimed.png")
    assert Image.open(untimed).size[0] < Image.open(path).size[0]   # params panel only
    with pytest.raises(UsageError, match="different conventions"):
        compare_points([mlp_report(16), mlp_report(16, convention="macs")])


def test_missing_matplotlib_names_the_extra(monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.ticker",
                 "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)       # import raises ImportError
    with pytest.raises(MissingExtraError, match=r"pip install 'flopwise\[plot\]'"):
        plot_report(mlp_report(16), tmp_path / "x.png")
    result = CliRunner().invoke(app, ["profile", "torchvision:resnet18", "--plot",
                                      str(tmp_path / "x.png")])
    assert result.exit_code == 1 and result.stdout == ""      # before building the model
    assert result.stderr.count("\n") == 1
    assert "pip install 'flopwise[plot]'" in result.stderr


def test_profile_writes_the_plot(tmp_path: Path) -> None:
    pytest.importorskip("torchvision")
    target = tmp_path / "plots" / "resnet18.png"
    result = CliRunner().invoke(app, ["profile", "torchvision:resnet18", "--plot", str(target),
                                      "-f", "json", "-o", str(tmp_path / "r.json")])
    assert result.exit_code == 0, result.output
    assert f"wrote {target}" in result.stderr
    assert Image.open(target).format == "PNG"


def test_compare_writes_the_plot(tmp_path: Path) -> None:
    pytest.importorskip("torchvision")
    target = tmp_path / "compare.png"
    result = CliRunner().invoke(app, ["compare", "torchvision:resnet18",
                                      "torchvision:squeezenet1_0", "--hardware", "h100-sxm",
                                      "--plot", str(target), "-f", "json"])
    assert result.exit_code == 0, result.output
    assert f"wrote {target}" in result.stderr
    image = Image.open(target)
    assert image.format == "PNG" and image.size[0] > 1.8 * image.size[1]   # latency + params
    assert {BLUE, GREEN} <= colours(target)
