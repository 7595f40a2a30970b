"""``flopwise hardware``: the accelerator catalogue, or one entry (or profile file) with sources."""

from __future__ import annotations

import io
import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from flopwise.cli.app import app, errors_to_exit, stdout, write_output
from flopwise.hardware.catalogue import (
    CATALOGUE_SCHEMA,
    PRECISIONS,
    PROFILE_SCHEMA,
    Accelerator,
    get_accelerator,
    load_catalogue,
)
from flopwise.hardware.roofline import ridge_point
from flopwise.render.formats import format_choices, format_help, render
from flopwise.render.units import format_bytes, format_count, format_rate

__all__ = ["hardware_command", "catalogue_table", "entry_table", "hardware_json",
           "hardware_table"]

#: Output formats of ``flopwise hardware`` (:data:`flopwise.render.formats.FORMATS`).
HardwareFormat = format_choices("hardware")


_MISSING = "—"
_FILE_WIDTH = 200  # characters per line when a table is written to a file


def _peak_cell(entry: Accelerator, precision: str) -> str:
    value = entry.peak_flops.get(precision)
    return _MISSING if value is None else format_rate(value, "")


def catalogue_table(entries: tuple[Accelerator, ...]) -> Table:
    """Every entry on one row: dense peaks per precision, memory, bandwidth."""
    table = Table(
        title="Accelerator catalogue: dense peaks (no sparsity)",
        caption=(
            "FLOP/s columns: T = 10¹², G = 10⁹ (INT8 in OP/s); — = not supported. "
            "Memory in GiB (2³⁰ bytes; vendors' GB are 10⁹). "
            "flopwise hardware NAME shows the sources."
        ),
    )
    table.add_column("id", no_wrap=True)
    table.add_column("name")
    for precision in PRECISIONS:
        unit = "OP/s" if precision == "int8" else "FLOP/s"
        table.add_column(f"{precision.upper()} {unit}", justify="right")
    table.add_column("memory GiB", justify="right")
    table.add_column("bandwidth B/s", justify="right")
    for entry in entries:
        table.add_row(
            entry.id,
            entry.name,
            *(_peak_cell(entry, precision) for precision in PRECISIONS),
            format_bytes(entry.memory_bytes),
            format_rate(entry.bandwidth_bytes_per_s, "B/s"),
        )
    return table


def entry_table(entry: Accelerator) -> Table:
    """One entry, field by field, with the ridge point of each precision and the source."""
    table = Table(title=f"{entry.name} ({entry.id})", show_header=True)
    table.add_column("field", no_wrap=True)
    table.add_column("value")
    table.add_row("vendor, kind", ", ".join(v for v in (entry.vendor, entry.kind) if v) or _MISSING)
    for precision in PRECISIONS:
        value = entry.peak_flops.get(precision)
        if value is None:
            table.add_row(f"{precision} peak", f"{_MISSING} (not supported or not published)")
            continue
        unit = "OP/s" if precision == "int8" else "FLOP/s"
        ridge = ridge_point(value, entry.bandwidth_bytes_per_s)
        table.add_row(
            f"{precision} peak",
            f"{format_rate(value, unit)} (ridge point {format_count(ridge, digits=1)} {unit[:-2]}/byte)",
        )
    if entry.fp64_tensor_flops_per_s is not None:
        table.add_row("fp64 tensor/matrix peak", format_rate(entry.fp64_tensor_flops_per_s, "FLOP/s"))
    memory = f"{format_count(entry.memory_bytes, unit='B')} = {format_bytes(entry.memory_bytes)}"
    table.add_row("memory", f"{memory} {entry.memory_type}".rstrip())
    table.add_row("bandwidth", format_rate(entry.bandwidth_bytes_per_s, "B/s"))
    table.add_row("source", entry.source)
    if entry.notes:
        table.add_row("notes", entry.notes)
    return table


def hardware_json(shown: Accelerator | tuple[Accelerator, ...]) -> str:
    """``hardware -f json``: the catalogue, or one entry as a ``--hardware`` profile."""
    if isinstance(shown, tuple):
        document = {"schema": CATALOGUE_SCHEMA, "accelerators": [e.to_dict() for e in shown]}
    else:
        document = {"schema": PROFILE_SCHEMA, **shown.to_dict()}
    return json.dumps(document, indent=2)


def hardware_table(shown: Accelerator | tuple[Accelerator, ...]) -> Table:
    """``hardware -f table``: the catalogue's table, or one entry's."""
    return catalogue_table(shown) if isinstance(shown, tuple) else entry_table(shown)


@app.command("hardware")
def hardware_command(
    name: str | None = typer.Argument(
        None,
        help="A catalogue id (h100-sxm, a100-80gb, mi300x, tpu-v5p, ...) or a profile .json "
        "from `flopwise bench-device`. Omit to list the whole catalogue.",
    ),
    output_format: HardwareFormat = typer.Option(  # type: ignore[valid-type]
        HardwareFormat.TABLE, "--format", "-f", help=format_help("hardware")
    ),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write to this file instead of stdout."),
) -> None:
    """List the accelerator catalogue (dense peaks per dtype, memory, bandwidth), or show one entry.

    One entry is shown with the source of its figures.
    """
    with errors_to_exit():
        shown = load_catalogue() if name is None else get_accelerator(name)
        table = render("hardware", output_format, shown)
        if isinstance(table, str):
            write_output(table, output)
            return
        if output is None:
            stdout.print(table)
            return
        buffer = io.StringIO()
        Console(file=buffer, width=_FILE_WIDTH, color_system=None, soft_wrap=False).print(table)
        write_output(buffer.getvalue(), output)
