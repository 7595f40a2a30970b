"""``flopwise hardware``: the accelerator catalogue, or one entry (or profile file) with sources."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console, Group
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
from flopwise.hardware.interconnect import (
    Cluster,
    cluster_for,
    interconnect_ids,
    load_cluster,
)
from flopwise.hardware.roofline import ridge_point
from flopwise.render.formats import format_choices, format_help, render
from flopwise.render.units import format_bytes, format_count, format_rate, format_seconds

__all__ = ["hardware_command", "catalogue_table", "entry_table", "interconnect_table", "cluster_table",
           "hardware_json", "hardware_table"]

#: Output formats of ``flopwise hardware`` (:data:`flopwise.render.formats.FORMATS`).
if TYPE_CHECKING:
    HardwareFormat = str
else:  # Literal[the format names]: Typer offers them as the choices
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
    if entry.id in interconnect_ids():
        _add_cluster_rows(table, cluster_for(entry))
    return table


def _link_cell(bandwidth_bytes_per_s: float, name: str) -> str:
    return f"{format_rate(bandwidth_bytes_per_s, 'B/s')} {name}"


def interconnect_table(clusters: tuple[Cluster, ...]) -> Table:
    """The usual node of each accelerator that has interconnect figures: links per GPU."""
    table = Table(
        title="Interconnects: per GPU, per direction (vendors quote twice this, both directions)",
        caption="flopwise hardware NAME shows the sources. Entries without a row (TPUs, MI250X, "
        "CPUs): describe the cluster in a file, --cluster FILE (docs/parallel.md).",
    )
    table.add_column("id", no_wrap=True)
    table.add_column("GPUs/node", justify="right")
    table.add_column("scale-up link B/s")
    table.add_column("scale-out link B/s")
    for cluster in clusters:
        table.add_row(
            cluster.accelerator.id,
            str(cluster.gpus_per_node),
            _link_cell(cluster.scale_up.bandwidth_bytes_per_s, cluster.scale_up.name),
            _link_cell(cluster.scale_out.bandwidth_bytes_per_s, cluster.scale_out.name),
        )
    return table


def _add_cluster_rows(table: Table, cluster: Cluster) -> None:
    table.add_row("GPUs per node", str(cluster.gpus_per_node))
    for label, link in (("scale-up link", cluster.scale_up), ("scale-out link", cluster.scale_out)):
        table.add_row(
            label,
            f"{link.name}: {format_rate(link.bandwidth_bytes_per_s, 'B/s')} per GPU per direction, "
            f"{format_seconds(link.latency_s)} per ring step ({link.source or 'no source given'})",
        )
    table.add_row("collective efficiency", f"{cluster.efficiency:.0%} of link bandwidth")
    table.add_row("mesh order", " → ".join(cluster.mesh_order) + " (innermost first)")


def cluster_table(cluster: Cluster) -> Table:
    """A cluster file: its accelerator, node size, links, efficiency and mesh order."""
    table = Table(title=f"Cluster {cluster.name} ({cluster.accelerator.id})")
    table.add_column("field", no_wrap=True)
    table.add_column("value")
    _add_cluster_rows(table, cluster)
    if cluster.source:
        table.add_row("source", cluster.source)
    return table


def _usual_clusters(entries: tuple[Accelerator, ...]) -> tuple[Cluster, ...]:
    return tuple(cluster_for(e) for e in entries if e.id in interconnect_ids())


def hardware_json(shown: Accelerator | tuple[Accelerator, ...] | Cluster) -> str:
    """``hardware -f json``: the catalogue with its interconnects, one entry as a ``--hardware``
    profile, or a cluster file."""
    document: dict[str, Any]
    if isinstance(shown, Cluster):
        document = shown.to_dict()
    elif isinstance(shown, tuple):
        document = {"schema": CATALOGUE_SCHEMA, "accelerators": [e.to_dict() for e in shown],
                    "interconnects": {c.accelerator.id: c.to_dict() for c in _usual_clusters(shown)}}
    else:
        document = {"schema": PROFILE_SCHEMA, **shown.to_dict()}
    return json.dumps(document, indent=2)


def hardware_table(shown: Accelerator | tuple[Accelerator, ...] | Cluster) -> Table | Group:
    """``hardware -f table``: the catalogue's tables (peaks, interconnects), one entry's, or a
    cluster file's."""
    if isinstance(shown, Cluster):
        return cluster_table(shown)
    if isinstance(shown, tuple):
        return Group(catalogue_table(shown), interconnect_table(_usual_clusters(shown)))
    return entry_table(shown)


@app.command("hardware")
def hardware_command(
    name: str | None = typer.Argument(
        None,
        help="A catalogue id (h100-sxm, a100-80gb, mi300x, tpu-v5p, ...) or a profile .json "
        "from `flopwise bench-device`. Omit to list the whole catalogue.",
    ),
    output_format: HardwareFormat = typer.Option(
        "table", "--format", "-f", help=format_help("hardware")
    ),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write to this file instead of stdout."),
    cluster: Path | None = typer.Option(
        None, "--cluster", help="Check and show a cluster file (accelerator, GPUs per node, "
        "scale-up and scale-out links; docs/parallel.md)."),
) -> None:
    """List the accelerator catalogue (dense peaks per dtype, memory, bandwidth) and the usual
    interconnects, or show one entry (or a cluster file).

    One entry is shown with the source of its figures.
    """
    with errors_to_exit():
        shown: Accelerator | tuple[Accelerator, ...] | Cluster
        if cluster is not None:
            shown = load_cluster(cluster)
        else:
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
