"""``flopwise compare MODEL MODEL ...``: several models side by side in one table.

Parameters, MACs, FLOPs (the convention named), bytes moved and peak memory for each model;
with ``--hardware`` the roofline's estimated latency and bound; with ``--time`` the measured
latency, throughput and achieved FLOP/s (real tensors: ``--device`` defaults to ``cpu`` then).
The measured columns are where "fewer FLOPs" and "faster" part ways.

torch and the model libraries are imported inside the command.
"""

from __future__ import annotations

import datetime
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from flopwise.cli.app import app, errors_to_exit, stderr, stdout, write_output
from flopwise.cli.estimates import (
    Extras,
    add_timings,
    check_timing_device,
    load_hardware,
)
from flopwise.cli.options import (
    ComputeEfficiency,
    HardwareOption,
    MemoryEfficiency,
)
from flopwise.errors import UsageError
from flopwise.render.formats import format_choices, format_help, render

if TYPE_CHECKING:
    from flopwise.report import Report

__all__ = ["CompareFormat", "CompareRow", "compare_command", "compare_json", "compare_markdown",
           "compare_rows", "compare_text", "machine_line"]


#: Output formats of ``flopwise compare`` (:data:`flopwise.render.formats.FORMATS`).
if TYPE_CHECKING:
    CompareFormat = str
else:  # Literal[the format names]: Typer offers them as the choices
    CompareFormat = format_choices("compare")


@dataclass(frozen=True)
class CompareRow:
    """One model's figures (ints for counts and bytes, floats for seconds and rates)."""

    model: str
    inputs: tuple[tuple[int, ...], ...]
    params: int
    macs: int
    flops: int
    bytes_moved: int
    activation_peak_bytes: int | None
    peak_bytes: int | None
    estimated_latency_s: float | None = None
    estimated_bound: str | None = None
    measured_latency_s: float | None = None
    measured_samples_per_s: float | None = None
    achieved_flops_per_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model, "inputs": [list(shape) for shape in self.inputs],
            "params": self.params, "macs": self.macs, "flops": self.flops,
            "bytes_moved": self.bytes_moved, "activation_peak_bytes": self.activation_peak_bytes,
            "peak_bytes": self.peak_bytes, "estimated_latency_s": self.estimated_latency_s,
            "estimated_bound": self.estimated_bound,
            "measured_latency_s": self.measured_latency_s,
            "measured_samples_per_s": self.measured_samples_per_s,
            "achieved_flops_per_s": self.achieved_flops_per_s,
        }


def compare_rows(reports: Sequence[tuple[str, Report]]) -> list[CompareRow]:
    """One row per (model spec, report): the report's totals and its extra sections."""
    rows = []
    for spec, report in reports:
        total = report.total
        memory = report.memory
        estimate = report.roofline
        timing = report.timing
        rows.append(CompareRow(
            model=spec,
            inputs=report.run.inputs,
            params=total.params,
            macs=total.macs,
            flops=total.flops,
            bytes_moved=total.bytes_moved,
            activation_peak_bytes=memory.activation_peak_bytes if memory is not None else None,
            peak_bytes=memory.peak_bytes if memory is not None else None,
            estimated_latency_s=estimate.time_s if estimate is not None else None,
            estimated_bound=estimate.bound.value if estimate is not None else None,
            measured_latency_s=timing.time_s if timing is not None else None,
            measured_samples_per_s=timing.samples_per_s if timing is not None else None,
            achieved_flops_per_s=timing.flops_per_s if timing is not None else None,
        ))
    return rows


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_line(device: str) -> str:
    """When and where: the date, the machine, torch's version and threads (for --time runs)."""
    import torch

    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    where = f"{_cpu_name()}, {os.cpu_count()} CPUs, {torch.get_num_threads()} torch threads"
    if device.startswith("cuda"):
        where = f"{torch.cuda.get_device_name(torch.device(device))}; host {where}"
    return (f"{now} · {where} · {platform.system()} {platform.release()} · "
            f"torch {torch.__version__}")


def _headers(rows: Sequence[CompareRow], convention: str, hardware: str | None,
             timed: bool) -> list[str]:
    headers = ["model", "params", "MACs", f"FLOPs ({convention})", "bytes moved (B)",
               "act. peak (B)"]
    if hardware is not None:
        headers += [f"est. latency ({hardware})", "bound"]
    if timed:
        headers += ["latency (measured)", "samples/s", "achieved FLOP/s"]
    return headers


def _cells(row: CompareRow, hardware: str | None, timed: bool) -> list[str]:
    from flopwise.render.units import (
        format_bytes,
        format_count,
        format_rate,
        format_seconds,
    )

    def maybe(value: float | None, fmt: Any) -> str:
        return "-" if value is None else fmt(value)

    cells = [row.model, format_count(row.params), format_count(row.macs),
             format_count(row.flops), format_bytes(row.bytes_moved),
             maybe(row.activation_peak_bytes, format_bytes)]
    if hardware is not None:
        cells += [maybe(row.estimated_latency_s, format_seconds), row.estimated_bound or "-"]
    if timed:
        cells += [maybe(row.measured_latency_s, format_seconds),
                  maybe(row.measured_samples_per_s, lambda v: f"{v:.1f}"),
                  maybe(row.achieved_flops_per_s, lambda v: format_rate(v, "FLOP/s"))]
    return cells


def _title(rows: Sequence[CompareRow], device: str, backward: bool) -> str:
    shapes = sorted({" ".join(f"[{', '.join(map(str, s))}]" for s in row.inputs)
                     for row in rows})
    step = "forward + backward" if backward else "forward"
    return f"flopwise compare · {device} · inputs {'; '.join(shapes)} · {step}"


def _notes(convention: str, hardware: str | None, timed: bool,
           timing: tuple[int, int]) -> list[str]:
    notes = [(f"FLOPs under the {convention} convention; bytes moved = read + written by every "
              "op; act. peak = most activation bytes alive at once (inference)")]
    if hardware is not None:
        notes.append(f"est. latency: roofline on {hardware} with standard-convention FLOPs "
                     "(an ideal lower bound)")
    if timed:
        warmup, repeats = timing
        notes.append(f"measured: median of {repeats} runs after {warmup} warm-up runs, the "
                     "models interleaved run by run; achieved FLOP/s = standard-convention "
                     "FLOPs / measured latency")
    return notes


def compare_json(rows: Sequence[CompareRow], *, convention: str, hardware: str | None,
                 timed: bool, device: str, backward: bool, timing: tuple[int, int],
                 machine: str | None) -> str:
    """``compare -f json``: the settings and one object per model."""
    import json

    return json.dumps({
        "schema": 1, "convention": convention, "hardware": hardware, "device": device,
        "backward": backward, "machine": machine,
        "timing": {"warmup": timing[0], "repeats": timing[1]} if timed else None,
        "models": [row.to_dict() for row in rows],
    }, indent=2)


def _layout(rows: Sequence[CompareRow], convention: str, hardware: str | None, timed: bool,
            timing: tuple[int, int], machine: str | None
            ) -> tuple[list[str], list[list[str]], list[str]]:
    """Headers, body cells and notes of the comparison table."""
    headers = _headers(rows, convention, hardware, timed)
    body = [_cells(row, hardware, timed) for row in rows]
    notes = _notes(convention, hardware, timed, timing)
    if machine is not None:
        notes.append(f"measured on {machine}")
    return headers, body, notes


def compare_markdown(rows: Sequence[CompareRow], *, convention: str, hardware: str | None,
                     timed: bool, device: str, backward: bool, timing: tuple[int, int],
                     machine: str | None) -> str:
    """``compare -f md``: the title, one Markdown table, the notes as a list."""
    from flopwise.render.markdown import markdown_table

    headers, body, notes = _layout(rows, convention, hardware, timed, timing, machine)
    lines = [f"**{_title(rows, device, backward)}**", ""]
    lines += markdown_table(headers, body, [False] + [True] * (len(headers) - 1))
    lines += [""] + [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def compare_text(rows: Sequence[CompareRow], *, convention: str, hardware: str | None,
                 timed: bool, device: str, backward: bool, timing: tuple[int, int],
                 machine: str | None) -> str:
    """``compare -f table``: the aligned text table with its title and notes."""
    headers, body, notes = _layout(rows, convention, hardware, timed, timing, machine)
    return _text_table(headers, body, _title(rows, device, backward), notes)


def _table(headers: Sequence[str], body: Sequence[Sequence[str]], title: str) -> Any:
    from rich import box
    from rich.table import Table

    table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False,
                  header_style="bold", title_style="bold")
    for index, header in enumerate(headers):
        table.add_column(header, justify="left" if index == 0 else "right", no_wrap=index > 0)
    for cells in body:
        table.add_row(*cells)
    return table


def _text_table(headers: Sequence[str], body: Sequence[Sequence[str]], title: str,
                notes: Sequence[str]) -> str:
    from flopwise.render.table import to_text

    return to_text(_table(headers, body, title)) + "\n" + "\n".join(notes) + "\n"


@app.command("compare")
def compare_command(
    models: list[str] = typer.Argument(
        ..., metavar="MODEL...",
        help="Two or more model specs, as for flopwise profile (torchvision:resnet18, "
        "timm:NAME, hf:CONFIG, path/to/file.py:factory, ...).",
    ),
    inputs: list[str] = typer.Option(
        [], "--input", "-i", metavar="SHAPE",
        help="Shape of a positional input for every model, e.g. 1,3,224,224 (repeatable). "
        "Default: each model's own.",
    ),
    dtypes: list[str] = typer.Option([], "--dtype", metavar="DTYPE",
                                     help="dtype of the --input tensors."),
    device: str | None = typer.Option(
        None, "--device", help="meta (default; cpu with --time), cpu, cuda or cuda:N."),
    model_dtype: str | None = typer.Option(
        None, "--model-dtype", metavar="DTYPE",
        help="Cast each model's floating parameters and buffers, e.g. bfloat16."),
    backward: bool = typer.Option(
        False, "--backward", help="Count (and time) a training step: forward + backward."),
    convention: str = typer.Option(
        "standard", "--convention", "-c", help="FLOPs convention: standard, matmul, macs, exact."),
    hardware: HardwareOption = None,
    compute_efficiency: ComputeEfficiency = 1.0,
    memory_efficiency: MemoryEfficiency = 1.0,
    time_it: bool = typer.Option(
        False, "--time", help="Also measure each model's latency on real tensors (cpu unless "
        "--device cuda): median over --repeats after --warmup runs."),
    warmup: int = typer.Option(3, "--warmup", min=0, help="--time: untimed runs first."),
    repeats: int = typer.Option(10, "--repeats", min=1, help="--time: timed runs (median)."),
    output_format: CompareFormat = typer.Option(
        "table", "--format", "-f", help=format_help("compare")),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write to this file instead of stdout."),
    plot: Path | None = typer.Option(
        None, "--plot", metavar="FILE.png",
        help="Also draw FLOPs against latency and parameters, one point per model "
        "(needs pip install 'flopwise[plot]')."),
) -> None:
    """Compare models side by side: params, MACs, FLOPs, bytes, memory and latency.

    Latency is estimated with --hardware and measured with --time.
    """
    with errors_to_exit():
        from flopwise.cli.profile import profile_spec
        from flopwise.conventions import get_convention
        from flopwise.models import check_device

        if len(models) < 2:
            raise UsageError("compare needs at least two models, e.g. flopwise compare "
                             "torchvision:resnet18 torchvision:mobilenet_v3_large")
        get_convention(convention)
        chosen = device or ("cpu" if time_it else "meta")
        check_device(chosen)
        if time_it:
            check_timing_device(chosen)
        if plot is not None:
            from flopwise.render.plots import check_plot_target

            check_plot_target(plot)
        accelerator = load_hardware(hardware)
        kept: list[tuple[Report, Any, tuple[Any, ...], dict[str, Any]]] = []
        extras = Extras(accelerator, compute_efficiency, memory_efficiency, time_it, warmup,
                        repeats, fit=False, keep=kept if time_it else None)
        reports = []
        for spec in models:
            reports.append((spec, profile_spec(spec, inputs, dtypes, [], chosen, False,
                                               model_dtype, backward, convention, False,
                                               extras)))
        if time_it:
            timed = add_timings(kept, backward, warmup, repeats, accelerator,
                                f"{len(kept)} models in rounds")
            reports = [(spec, report) for (spec, _), report in zip(reports, timed)]
        rows = compare_rows(reports)
        text = render(
            "compare", output_format, rows, convention=convention,
            hardware=accelerator.id if accelerator is not None else None, timed=time_it,
            device=chosen, backward=backward, timing=(warmup, repeats),
            machine=machine_line(chosen) if time_it else None)
        if output is None and stdout.is_terminal and output_format == "table":
            stdout.print(text, markup=False, highlight=False, end="")
        else:
            write_output(text, output)
        if plot is not None:
            from flopwise.render.plots import compare_points, plot_compare

            written = plot_compare(compare_points([report for _, report in reports]), plot)
            stderr.print(f"wrote {written}", markup=False, highlight=False)
