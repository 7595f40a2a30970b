"""The device benchmark on this CPU with tiny settings (a few seconds), and its profile file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flopwise.cli import app
from flopwise.errors import UsageError
from flopwise.hardware import (
    BenchProgress,
    BenchSettings,
    benchmark,
    get_accelerator,
    run_benchmark,
    settings_for,
)
from flopwise.hardware.calibration import load_calibration
from flopwise.hardware.microbench import MicroSettings

# max_case_s: no size is skipped for time here, however loaded the machine (the budget has its own test)
TINY = BenchSettings(
    gemm_sizes=(32, 64), precisions=("fp32", "bf16"), bandwidth_elements=2**16, warmup=1, repeats=3,
    max_case_s=1e9,
)


def test_run_benchmark_measures_every_case_and_reports_progress() -> None:
    steps: list[BenchProgress] = []
    bench = run_benchmark("cpu", settings=TINY, progress=steps.append)
    assert bench.device_type == "cpu"
    assert [(g.precision, g.size) for g in bench.gemm] == [
        ("fp32", 32), ("fp32", 64), ("bf16", 32), ("bf16", 64)]
    assert [g.flops for g in bench.gemm] == [2 * 32**3, 2 * 64**3, 2 * 32**3, 2 * 64**3]
    for g in bench.gemm:
        assert g.median_s > 0 and g.flops_per_s == g.flops / g.median_s
    copy, triad = bench.bandwidth
    assert (copy.kernel, copy.bytes_moved) == ("copy", 2 * 4 * 2**16)     # read + write, fp32
    assert (triad.kernel, triad.bytes_moved) == ("triad", 3 * 4 * 2**16)  # 2 reads + 1 write
    # 4 GEMM cases + 2 bandwidth kernels, then one final report
    assert [s.completed for s in steps] == [0, 1, 2, 3, 4, 5, 6]
    assert {s.total for s in steps} == {6}
    assert steps[-1].description == "done"


def test_profile_round_trips_through_get_accelerator(tmp_path: Path) -> None:
    bench = run_benchmark("cpu", settings=TINY)
    profile = bench.to_profile()
    assert profile["source"].startswith("measured by flopwise bench-device on ")
    assert f"torch {bench.torch_version}" in profile["source"]
    path = tmp_path / "me.json"
    path.write_text(json.dumps(profile))
    measured = get_accelerator(str(path))
    assert measured == bench.to_accelerator()
    assert measured.peak_flops["fp32"] == max(g.flops_per_s for g in bench.gemm if g.precision == "fp32")
    assert measured.bandwidth_bytes_per_s == max(b.bytes_per_s for b in bench.bandwidth)
    assert measured.memory_bytes > 0
    assert measured.peak_for("bfloat16") > 0


def test_tf32_is_skipped_off_cuda() -> None:
    settings = BenchSettings((32,), ("fp32", "tf32"), 2**12, warmup=0, repeats=1)
    bench = run_benchmark("cpu", settings=settings)
    assert [g.precision for g in bench.gemm] == ["fp32"]
    assert [s.case for s in bench.skipped] == ["gemm tf32"]


def test_over_budget_sizes_are_skipped() -> None:
    settings = BenchSettings((16, 4096), ("fp32",), 2**12, warmup=0, repeats=1, max_case_s=1e-9)
    bench = run_benchmark("cpu", settings=settings)
    assert [g.size for g in bench.gemm] == [16]
    assert bench.skipped[0].case == "gemm fp32 4096³"
    assert "budget" in bench.skipped[0].reason


@pytest.mark.parametrize(
    ("call", "complaint"),
    [
        (lambda: run_benchmark("tpu"), "unknown device 'tpu'"),
        (lambda: settings_for("huge", "cpu"), "unknown mode 'huge'"),
        (lambda: BenchSettings((0,), ("fp32",), 10), "sizes must be positive"),
        (lambda: BenchSettings((8,), ("int4",), 10), "cannot benchmark precision"),
    ],
    ids=["device", "mode", "size", "precision"],
)
def test_bad_arguments(call, complaint: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError, match=complaint):
        call()


def test_cpu_default_preset_is_sized_for_a_minute() -> None:
    default = settings_for("default", "cpu")
    assert max(default.gemm_sizes) <= 2048
    assert default.precisions == ("fp32", "bf16", "fp16")
    assert "fp64" in settings_for("full", "cpu").precisions
    assert "tf32" in settings_for("default", "cuda").precisions


@pytest.fixture
def token_calibration(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's presets with the token calibration grid (the full quick grid takes ~20 s)."""
    monkeypatch.setattr(benchmark, "micro_settings_for", lambda mode: MicroSettings(1, 1e-4, 0))


@pytest.mark.usefixtures("token_calibration")
def test_cli_quick_writes_a_loadable_profile_with_calibration(tmp_path: Path) -> None:
    path = tmp_path / "cpu.json"
    result = CliRunner().invoke(
        app, ["bench-device", "--quick", "--device", "cpu", "--threads", "1", "-o", str(path)],
        env={"COLUMNS": "160"}
    )
    assert result.exit_code == 0, result.output
    assert "GFLOP/s" in result.stdout and "GB/s" in result.stdout
    assert "calibration conv_grouped" in result.stdout
    measured = get_accelerator(str(path))
    assert measured.id == "measured-cpu"
    assert set(measured.peak_flops) >= {"fp32", "bf16"}
    table = load_calibration(path)
    assert table.threads == 1 and "1 threads" in table.device
    assert json.loads(path.read_text())["calibration"]["schema"] == "flopwise.calibration/3"


def test_profiles_without_calibration_still_load_as_accelerators(tmp_path: Path) -> None:
    profile = run_benchmark("cpu", settings=TINY).to_profile()
    assert "calibration" not in profile
    path = tmp_path / "old.json"
    path.write_text(json.dumps(profile))
    assert get_accelerator(str(path)).peak_flops["fp32"] > 0


@pytest.mark.usefixtures("token_calibration")
def test_cli_without_output_prints_the_json() -> None:
    result = CliRunner().invoke(app, ["bench-device", "--quick", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["schema"] == "flopwise.hardware-profile/1"


def test_cli_quick_and_full_conflict() -> None:
    result = CliRunner().invoke(app, ["bench-device", "--quick", "--full"])
    assert result.exit_code == 2
    assert "--quick and --full exclude each other" in result.stderr
