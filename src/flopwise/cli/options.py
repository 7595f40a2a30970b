"""Options shared by several commands, declared once (``Annotated`` aliases for Typer)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from flopwise.budget import BUDGET_HELP
from flopwise.cli.estimates import HARDWARE_HELP

__all__ = [
    "MaxGflops", "MaxFlops", "MaxMacs", "MaxParams", "MaxMemory", "MaxLatencyMs",
    "HardwareOption", "CalibrationOption", "ComputeEfficiency", "MemoryEfficiency",
]

# typer reads these at runtime: Optional[...] rather than `X | None` inside Annotated
MaxGflops = Annotated[float | None, typer.Option(
    "--max-gflops", metavar="N", help=BUDGET_HELP["gflops"])]
MaxFlops = Annotated[str | None, typer.Option(
    "--max-flops", metavar="COUNT", help=BUDGET_HELP["flops"])]
MaxMacs = Annotated[str | None, typer.Option(
    "--max-macs", metavar="COUNT", help=BUDGET_HELP["macs"])]
MaxParams = Annotated[str | None, typer.Option(
    "--max-params", metavar="COUNT", help=BUDGET_HELP["params"])]
MaxMemory = Annotated[str | None, typer.Option(
    "--max-memory", metavar="SIZE", help=BUDGET_HELP["memory"])]
MaxLatencyMs = Annotated[float | None, typer.Option(
    "--max-latency-ms", metavar="MS", help=BUDGET_HELP["latency"])]

HardwareOption = Annotated[str | None, typer.Option(
    "--hardware", metavar="NAME|FILE.json", help=HARDWARE_HELP)]
CalibrationOption = Annotated[Path | None, typer.Option(
    "--calibration", metavar="FILE.json",
    help="A bench-device profile with calibration tables: adds the calibrated latency "
    "prediction (a --hardware FILE.json that has them is used the same way).")]
ComputeEfficiency = Annotated[float, typer.Option(
    "--compute-efficiency", min=0.0, max=1.0, metavar="F",
    help="Fraction of the peak FLOP/s the roofline assumes achievable (1.0: ideal).")]
MemoryEfficiency = Annotated[float, typer.Option(
    "--memory-efficiency", min=0.0, max=1.0, metavar="F",
    help="Fraction of the memory bandwidth the roofline assumes achievable (1.0: ideal).")]
