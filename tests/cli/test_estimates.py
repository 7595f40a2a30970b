"""``flopwise profile --hardware/--time`` and ``flopwise compare`` end to end (CliRunner).

Models come from a small factory file, so the runs take milliseconds.
"""

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

    def wide():
        torch.manual_seed(0)
        return torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(),
                                   torch.nn.Linear(256, 8)), (torch.randn(4, 64),)

    def narrow():
        torch.manual_seed(0)
        return torch.nn.Sequential(torch.nn.Linear(64, 16), torch.nn.ReLU(),
                                   torch.nn.Linear(16, 8)), (torch.randn(4, 64),)

    def cnn():
        torch.manual_seed(0)
        return torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8),
                                   torch.nn.ReLU(), torch.nn.Flatten(),
                                   torch.nn.Linear(8 * 8 * 8, 10))
''')


@pytest.fixture()
def factories(tmp_path: Path) -> Path:
    path = tmp_path / "models.py"
    path.write_text(FACTORIES)
    return path


def run(*args: str) -> object:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


def test_profile_json_has_memory_roofline_and_batch_fit(factories: Path) -> None:
    data = json.loads(run("profile", f"{factories}:wide", "--hardware", "h100-sxm",
                          "-f", "json").stdout)
    memory, roofline = data["memory"], data["roofline"]
    # Linear(64,256) + Linear(256,8): (64·256 + 256 + 256·8 + 8) float32 parameters
    assert memory["params_bytes"] == 4 * (64 * 256 + 256 + 256 * 8 + 8)
    # [4,64] input; h = addmm (4·256·4 B) and relu(h) alive together: 8 KiB
    assert memory["activation_peak_bytes"] == 2 * 4 * 256 * 4
    assert memory["largest_batch"]["device"] == "h100-sxm"
    # per sample: input row (256 B) + two 256-wide rows (2 KiB) at the peak
    assert memory["largest_batch"]["bytes_per_sample"] == 64 * 4 + 2 * 256 * 4
    assert roofline["hardware"]["id"] == "h100-sxm" and roofline["convention"] == "standard"
    assert roofline["time_s"] == pytest.approx(sum(m["time_s"] for m in roofline["modules"]
                                                   if m["name"] in ("0", "1", "2")))
    assert roofline["samples"] == 4


def test_profile_table_shows_estimate_columns_and_summary(factories: Path) -> None:
    out = run("profile", f"{factories}:wide", "--hardware", "h100-sxm").stdout
    for text in ("est. time", "% est.", "bound", "FLOP/B", "estimated latency", "throughput",
                 "largest batch on h100-sxm", "activations, peak (inference)"):
        assert text in out, text


def test_profile_time_on_cpu(factories: Path) -> None:
    result = run("profile", f"{factories}:cnn", "--input", "2,3,8,8", "--device", "cpu",
                 "--time", "--warmup", "1", "--repeats", "3", "--hardware", "cpu-avx2-8c",
                 "-f", "json")
    timing = json.loads(result.stdout)["timing"]
    assert timing["repeats"] == 3 and timing["time_s"] > 0 and len(timing["times_s"]) == 3
    assert {m["name"] for m in timing["modules"]} == {"", "0", "1", "2", "3", "4"}
    assert timing["peak_percent"] is not None and timing["hardware"] == "cpu-avx2-8c"
    text = run("profile", f"{factories}:cnn", "--input", "2,3,8,8", "--device", "cpu", "--time",
               "--warmup", "0", "--repeats", "2", "--backward").stdout
    for header in ("time", "% time", "FLOP/s", "measured latency", "forward + backward"):
        assert header in text


def test_time_refuses_meta(factories: Path) -> None:
    result = runner.invoke(app, ["profile", f"{factories}:wide", "--time"])
    assert result.exit_code == 2
    assert "--time runs the model for real" in result.stderr and "--device cpu" in result.stderr


def test_compare_table_json_md(factories: Path) -> None:
    specs = [f"{factories}:wide", f"{factories}:narrow"]
    data = json.loads(run("compare", *specs, "--hardware", "h100-sxm", "-f", "json").stdout)
    wide, narrow = data["models"]
    assert wide["macs"] == 4 * (64 * 256 + 256 * 8) and narrow["macs"] == 4 * (64 * 16 + 16 * 8)
    assert wide["flops"] > narrow["flops"] and data["convention"] == "standard"
    assert wide["roofline_latency_s"] > 0 and wide["measured_latency_s"] is None
    md = run("compare", *specs, "-f", "md", "-c", "macs").stdout
    assert "| model | params | MACs | FLOPs (macs) |" in md
    table = run("compare", *specs, "--time", "--warmup", "0", "--repeats", "2").stdout
    assert "latency (measured)" in table and "measured on" in table and "· cpu ·" in table


def test_compare_needs_two_models(factories: Path) -> None:
    result = runner.invoke(app, ["compare", f"{factories}:wide"])
    assert result.exit_code == 2 and "at least two models" in result.stderr
