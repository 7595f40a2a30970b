"""``flopwise bench-device``: measure this machine and write a hardware profile JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from flopwise.cli.app import app, errors_to_exit, stderr, stdout, write_output
from flopwise.errors import UsageError
from flopwise.hardware.benchmark import BenchProgress, DeviceBenchmark, run_benchmark
from flopwise.render.units import format_bytes, format_count, format_rate, format_seconds

__all__ = ["bench_device_command", "benchmark_table"]


def benchmark_table(bench: DeviceBenchmark) -> Table:
    """The measurements: GEMM FLOP/s per precision and size, bandwidth per kernel, skipped cases."""
    table = Table(title=f"{bench.device_name} — {bench.source}")
    table.add_column("case", no_wrap=True)
    table.add_column("work per call", justify="right")
    table.add_column("median time", justify="right")
    table.add_column("achieved", justify="right")
    for result in bench.gemm:
        table.add_row(
            f"gemm {result.precision} {result.size}³",
            f"{format_count(result.flops, unit='FLOP')}",
            format_seconds(result.median_s),
            format_rate(result.flops_per_s, "FLOP/s"),
        )
    for stream in bench.bandwidth:
        table.add_row(
            f"{stream.kernel}, {format_count(stream.elements)} fp32",
            f"{format_bytes(stream.bytes_moved)} moved",
            format_seconds(stream.median_s),
            format_rate(stream.bytes_per_s, "B/s"),
        )
    for case in bench.skipped:
        table.add_row(case.case, "skipped", "-", case.reason)
    calibration = bench.calibration
    if calibration is not None:
        for kind, points in calibration.compute.items():
            best = max(p.flops / p.median_s for p in points)
            table.add_row(f"calibration {kind}", f"{len(points)} sizes", "-",
                          f"up to {format_rate(best, 'FLOP/s')}")
        for name, seconds in calibration.overhead_s.items():
            among = calibration.interleaved_s.get(name)
            table.add_row(f"calibration overhead ({name})", "one op", format_seconds(seconds),
                          "-" if among is None else f"{format_seconds(among)} among other ops")
    return table


def _with_threads(threads: int | None, run: Callable[[], DeviceBenchmark]) -> DeviceBenchmark:
    """``run()`` with torch's intra-op threads set to ``threads`` (restored afterwards)."""
    if threads is None:
        return run()
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return run()
    finally:
        torch.set_num_threads(previous)


@app.command("bench-device")
def bench_device_command(
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write the hardware profile here (default: print the JSON)."
    ),
    quick: bool = typer.Option(
        False, "--quick", help="Two GEMM sizes, few repeats, the calibration tables: < 1 min."),
    full: bool = typer.Option(False, "--full", help="More sizes and repeats, plus fp64: minutes."),
    device: str = typer.Option(
        "auto", "--device", help="auto (the GPU if torch sees one), cpu, cuda or cuda:N."),
    threads: int | None = typer.Option(
        None, "--threads", min=1,
        help="torch CPU threads to measure with (default: torch's current setting)."),
) -> None:
    """Measure GEMM FLOP/s per dtype, memory bandwidth and the calibration tables of the
    time model; write a --hardware / --calibration profile.

    Runs on the GPU when torch sees one, else on the CPU, with the threads stated in the file.
    """
    with errors_to_exit():
        if quick and full:
            raise UsageError("--quick and --full exclude each other; pick one (or neither for the default)")
        mode = "quick" if quick else "full" if full else "default"
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=stderr,
            transient=True,
        ) as bar:
            task = bar.add_task("bench-device: starting", total=None)

            def on_progress(step: BenchProgress) -> None:
                bar.update(task, completed=step.completed, total=step.total, description=step.description)

            bench = _with_threads(threads, lambda: run_benchmark(device, mode, progress=on_progress))
        profile = bench.to_profile()
        write_output(json.dumps(profile, indent=2), output)
        summary: Console = stdout if output is not None else stderr
        summary.print(benchmark_table(bench))
